// vase serve: an OpenAI-compatible HTTP server (docs/server.md).
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/kv_options.h"
#include "engine/generator.h"
#include "engine/scheduler.h"
#include "server/server.h"
#include "util/error.h"

namespace vase::cli {
namespace {

struct ServeArgs {
    std::string model;
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string model_name;
    int max_seqs = 8;
    int max_queue = 16;
    std::string kv_memory;
    int64_t max_tokens = 4096;
    int threads = 0;
    int http_threads = 0;
    EvictionParams kv;
    DType kv_type = DType::F16;
};

// "4G", "512M", "1.5GiB", "1048576" -> bytes (binary units).
uint64_t parse_size(const std::string& text, const char* option) {
    size_t used = 0;
    double value = 0.0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        fail("{}: '{}' is not a size (examples: 2G, 512M, 1073741824)", option, text);
    }
    std::string unit = text.substr(used);
    if (unit.size() > 1 && (unit.ends_with("iB") || unit.ends_with("ib")))
        unit.resize(unit.size() - 2);
    if (unit.size() > 1 && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
    double scale = 1.0;
    if (unit == "K" || unit == "k") {
        scale = 1024.0;
    } else if (unit == "M" || unit == "m") {
        scale = 1024.0 * 1024.0;
    } else if (unit == "G" || unit == "g") {
        scale = 1024.0 * 1024.0 * 1024.0;
    } else if (!unit.empty() && unit != "B" && unit != "b") {
        fail("{}: unknown unit in '{}' (use K, M or G)", option, text);
    }
    if (!(value > 0.0) || !std::isfinite(value * scale))
        fail("{}: '{}' must be a positive size", option, text);
    return static_cast<uint64_t>(value * scale);
}

// The model's id in the API: its directory or file name.
std::string default_model_name(const std::string& path) {
    std::filesystem::path p(path);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();  // trailing slash
    std::string name = p.filename().string();
    if (name.ends_with(".gguf")) name.resize(name.size() - 5);
    return name.empty() ? "vase" : name;
}

void run_serve(ServeArgs& a) {
    // Everything the user can get wrong is checked before the model loads.
    if (a.port < 0 || a.port > 65535) fail("--port must be between 0 and 65535 (got {})", a.port);
    if (a.max_tokens < 1) fail("--max-tokens must be at least 1 (got {})", a.max_tokens);
    a.kv.validate();
    SchedulerOptions so;
    so.max_seqs = a.max_seqs;
    so.max_queue = a.max_queue;
    so.kv = a.kv;
    so.kv_type = a.kv_type;
    if (!a.kv_memory.empty()) so.kv_memory = parse_size(a.kv_memory, "--kv-memory");
    if (so.max_seqs < 1 || so.max_seqs > Scheduler::kMaxSeqs) {
        fail("--max-seqs must be between 1 and {} (got {})", Scheduler::kMaxSeqs, so.max_seqs);
    }
    if (so.max_queue < 0) fail("--max-queue must not be negative (got {})", so.max_queue);

    // Freed caches go back to the system at once (mmap for large blocks, no
    // dynamic threshold), and few arenas: resident memory follows what is reserved.
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_ARENA_MAX, 2);
    // SIGINT and SIGTERM stop the server from one thread; no thread dies of SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    const int threads = a.threads > 0
                            ? a.threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    Engine engine(a.model, threads);
    Scheduler scheduler(engine, so);
    server::ServerOptions opt;
    opt.host = a.host;
    opt.port = a.port;
    opt.model_name = a.model_name.empty() ? default_model_name(a.model) : a.model_name;
    opt.default_max_tokens = a.max_tokens;
    opt.http_threads = a.http_threads;
    opt.defaults.sampling = engine.default_sampling();
    opt.defaults.kv = a.kv;
    opt.defaults.kv_type = a.kv_type;
    server::Server server(engine, scheduler, opt);
    const int port = server.bind();

    std::atomic<bool> signalled{false};
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        signalled = true;
        server.stop();
    });
    const double mib = 1024.0 * 1024.0;
    std::fprintf(stderr,
                 "vase serve: model %s (%s), %d threads | up to %d sequences, %d waiting | KV "
                 "memory %.1f MiB "
                 "(a seat: %.1f MiB, policy %s, budget %ld)\n",
                 opt.model_name.c_str(), a.model.c_str(), threads, so.max_seqs, so.max_queue,
                 static_cast<double>(scheduler.kv_limit_bytes()) / mib,
                 static_cast<double>(scheduler.seat_bytes()) / mib, a.kv.policy.c_str(),
                 static_cast<long>(a.kv.budget));
    std::printf("vase serve: listening on http://%s:%d\n", a.host.c_str(), port);
    std::fflush(stdout);
    server.run();
    if (!signalled) pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    std::fprintf(stderr, "vase serve: stopped\n");
}

}  // namespace

void register_serve(CLI::App& app) {
    auto args = std::make_shared<ServeArgs>();
    CLI::App* cmd =
        app.add_subcommand("serve", "Serve the OpenAI chat and completions API over HTTP");
    cmd->add_option("-m,--model", args->model, "Hugging Face model directory or GGUF file")
        ->required();
    cmd->add_option("--host", args->host, "Address to listen on")->capture_default_str();
    cmd->add_option("--port", args->port, "Port to listen on (0: any free port, printed at start)")
        ->capture_default_str();
    cmd->add_option("--model-name", args->model_name,
                    "Model id in the API (default: the model's file name)");
    cmd->add_option("--max-seqs", args->max_seqs, "Most sequences decoding at once (n counts each)")
        ->capture_default_str();
    cmd->add_option("--max-queue", args->max_queue,
                    "Most requests waiting for admission; more get 429")
        ->capture_default_str();
    cmd->add_option("--kv-memory", args->kv_memory,
                    "Memory all running sequences may reserve, e.g. 4G (default: --max-seqs seats, "
                    "a seat being "
                    "one sequence whose cache holds budget + window slots)");
    cmd->add_option("--max-tokens", args->max_tokens, "max_tokens of requests that give none")
        ->capture_default_str();
    cmd->add_option("-t,--threads", args->threads, "Compute threads (default: all cores)");
    cmd->add_option("--http-threads", args->http_threads,
                    "HTTP worker threads (default: max-seqs + max-queue + 32)");
    add_kv_options(*cmd, args->kv);
    add_kv_type_option(*cmd, args->kv_type);
    cmd->callback([args] { run_serve(*args); });
}

}  // namespace vase::cli
