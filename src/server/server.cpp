#include "server/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <utility>

#include <fmt/format.h>
#include <httplib.h>

#include "server/api.h"
#include "server/reasoning_stream.h"
#include "text/chat_template.h"
#include "util/error.h"
#include "util/memory.h"

namespace vase::server {
namespace {

using nlohmann::json;

// How often a waiting request checks that its client is still there.
constexpr auto kPollInterval = std::chrono::milliseconds(50);

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string sse(const json& j) {
    return "data: " + dump(j) + "\n\n";
}

void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    res.set_content(dump(e.to_json()), "application/json");
}

int port_of(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
    if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
    return -1;
}

std::string address_of(const sockaddr_storage& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
    } else if (a.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
    }
    return buf;
}

// Tells whether the client of a request is still connected. cpp-httplib 0.11
// does not hand a handler its socket, so the socket is found once among the
// process's descriptors by the connection's two ports (and peer address).
// While the handler runs the connection stays open, so the descriptor is ours.
class ConnectionWatch {
  public:
    explicit ConnectionWatch(const httplib::Request& req) {
        DIR* dir = opendir("/proc/self/fd");
        if (dir == nullptr) return;
        while (dirent* entry = readdir(dir)) {
            char* end = nullptr;
            const long fd = std::strtol(entry->d_name, &end, 10);
            if (end == entry->d_name || *end != '\0') continue;
            sockaddr_storage peer{}, local{};
            socklen_t peer_len = sizeof peer, local_len = sizeof local;
            if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &peer_len) !=
                0)
                continue;
            if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local),
                            &local_len) != 0)
                continue;
            if (port_of(peer) != req.remote_port || port_of(local) != req.local_port) continue;
            fd_ = static_cast<int>(fd);
            if (address_of(peer) == req.remote_addr) break;
        }
        closedir(dir);
    }

    // False once the peer has closed or reset the connection.
    bool alive() const {
        if (fd_ < 0) return true;
        pollfd p{fd_, static_cast<short>(POLLIN | POLLRDHUP), 0};
        if (poll(&p, 1, 0) <= 0) return true;
        if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return false;
        if (p.revents & POLLIN) {
            char c;
            const ssize_t n = recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n == 0) return false;
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
        }
        return true;
    }

  private:
    int fd_ = -1;
};

// A request turned into an engine job, with what its response needs.
struct Prepared {
    bool chat = false;
    std::string id;
    int64_t created = 0;
    JobRequest job;
    bool stream = false;
    bool include_usage = false;
    bool token_ids = false;
    bool opened_think = false;  // chat: the prompt ends inside a think block
};

// The routes whose requests /metrics counts by name; anything else is "other".
std::string route_label(const std::string& path) {
    for (const char* r :
         {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"}) {
        if (path == r) return r;
    }
    if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
    return "other";
}

}  // namespace

struct Server::Impl {
    Impl(Engine& e, Scheduler& s, ServerOptions o)
        : engine(e), scheduler(s), opt(std::move(o)), rng(std::random_device{}()) {
        created = static_cast<int64_t>(std::time(nullptr));
        startup_rss = current_rss_bytes();
        const std::string& tpl = engine.checkpoint().chat_template;
        chat_ok = tpl.empty() || is_qwen3_chat_template(tpl);
        if (opt.http_threads <= 0) {
            opt.http_threads = scheduler.options().max_seqs + scheduler.options().max_queue + 32;
        }
    }

    Engine& engine;
    Scheduler& scheduler;
    ServerOptions opt;
    httplib::Server http;
    int listen_fd = -1;
    std::atomic<bool> stopping{false};  // requests still waiting give up
    bool chat_ok = true;
    int64_t created = 0;
    uint64_t startup_rss = 0;

    std::mutex mutex;  // guards rng and requests
    std::mt19937_64 rng;
    std::map<std::pair<std::string, int>, int64_t> requests;  // (route, status) -> count

    uint64_t random() {
        std::lock_guard<std::mutex> lock(mutex);
        return rng();
    }

    void routes();
    Prepared prepare(const std::string& body, bool chat);
    void generate(const httplib::Request& req, httplib::Response& res, bool chat);
    void respond(const httplib::Request& req, httplib::Response& res, const Prepared& p,
                 const std::shared_ptr<Job>& job);
    void stream(const httplib::Request& req, httplib::Response& res, const Prepared& p,
                const std::shared_ptr<Job>& job);
    Choice make_choice(const Prepared& p, const GenerationResult& r) const;
    std::string metrics();
};

Prepared Server::Impl::prepare(const std::string& body, bool chat) {
    Prepared p;
    p.chat = chat;
    SamplingFields fields;
    std::vector<int32_t> prompt;
    std::string prompt_param;
    const Tokenizer& tok = engine.tokenizer();
    if (chat) {
        ChatRequest r = parse_chat_request(body);
        fields = std::move(r.fields);
        if (!fields.model.empty() && fields.model != opt.model_name) {
            throw ApiException(ApiError{404,
                                        fmt::format("The model '{}' does not exist", fields.model),
                                        "invalid_request_error", "model", "model_not_found"});
        }
        if (!chat_ok) {
            bad_param(
                "messages",
                "the model's chat template is not Qwen3's, which is the only one vase renders; use "
                "/v1/completions with a rendered prompt",
                "unsupported_chat_template");
        }
        ChatOptions co;
        co.enable_thinking = r.enable_thinking;
        std::string text;
        try {
            text = render_chat(r.messages, co);
        } catch (const Error& e) {
            bad_param("messages", e.what());
        }
        prompt = tok.encode(text);
        p.opened_think = prompt_opens_think(text);
        prompt_param = "messages";
    } else {
        CompletionRequest r = parse_completion_request(body);
        fields = std::move(r.fields);
        if (!fields.model.empty() && fields.model != opt.model_name) {
            throw ApiException(ApiError{404,
                                        fmt::format("The model '{}' does not exist", fields.model),
                                        "invalid_request_error", "model", "model_not_found"});
        }
        prompt = r.prompt_tokens.empty() ? tok.encode(r.prompt) : std::move(r.prompt_tokens);
        for (int32_t t : prompt) {
            if (t >= engine.config().vocab_size) {
                bad_param("prompt", fmt::format("token id {} is outside the vocabulary (0..{})", t,
                                                engine.config().vocab_size - 1));
            }
        }
        prompt_param = "prompt";
    }
    if (prompt.empty()) bad_param(prompt_param, "the prompt encodes to no tokens");

    const int64_t context = engine.config().max_position_embeddings;
    const int64_t n_prompt = static_cast<int64_t>(prompt.size());
    const int64_t max_new = fields.max_tokens
                                ? *fields.max_tokens
                                : std::min(opt.default_max_tokens, context - n_prompt);
    if (n_prompt + std::max<int64_t>(max_new, 1) > context) {
        throw ApiException(ApiError{
            400,
            fmt::format(
                "This model's maximum context length is {} tokens. However, you requested {} "
                "tokens "
                "({} in the {}, {} for the completion). Please reduce the length of the {} or "
                "max_tokens.",
                context, n_prompt + max_new, n_prompt, prompt_param, max_new, prompt_param),
            "invalid_request_error", prompt_param, "context_length_exceeded"});
    }
    if (fields.n > scheduler.options().max_seqs) {
        bad_param("n", fmt::format("'n' must be at most {} on this server (--max-seqs)",
                                   scheduler.options().max_seqs));
    }
    if (!fields.seed) fields.seed = random();  // OpenAI: no seed, no repeatability
    p.job.options = apply_fields(fields, opt.defaults);
    p.job.options.max_new_tokens = max_new;
    p.job.prompt = std::move(prompt);
    p.job.n = fields.n;
    p.stream = fields.stream;
    p.include_usage = fields.include_usage;
    p.token_ids = fields.return_token_ids;
    p.id = fmt::format("{}-{:016x}", chat ? "chatcmpl" : "cmpl", random());
    p.created = static_cast<int64_t>(std::time(nullptr));
    return p;
}

Choice Server::Impl::make_choice(const Prepared& p, const GenerationResult& r) const {
    Choice c;
    if (p.chat) {
        SplitReasoning s = split_reasoning(r.text, p.opened_think);
        c.text = std::move(s.content);
        if (!s.reasoning.empty()) c.reasoning = std::move(s.reasoning);
    } else {
        c.text = r.text;
    }
    c.finish_reason = r.finish_reason;
    c.tokens = r.tokens;
    c.cache = r.cache;
    return c;
}

void Server::Impl::generate(const httplib::Request& req, httplib::Response& res, bool chat) {
    Prepared p;
    std::shared_ptr<Job> job;
    try {
        p = prepare(req.body, chat);
        job = scheduler.submit(std::move(p.job));
    } catch (const ApiException& e) {
        send_error(res, e.error);
        return;
    } catch (const Error& e) {
        send_error(res, ApiError{400, e.what(), "invalid_request_error", "", "invalid_value"});
        return;
    }
    if (!job) {
        res.set_header("Retry-After", "1");
        send_error(
            res, ApiError{429,
                          "the server is busy: every sequence place and the wait queue are taken; "
                          "retry later",
                          "rate_limit_error", "", "server_busy"});
        return;
    }
    if (p.stream) {
        stream(req, res, p, job);
    } else {
        respond(req, res, p, job);
    }
}

void Server::Impl::respond(const httplib::Request& req, httplib::Response& res, const Prepared& p,
                           const std::shared_ptr<Job>& job) {
    const ConnectionWatch watch(req);
    std::vector<Choice> choices(static_cast<size_t>(p.job.n));
    Usage usage;
    usage.prompt_tokens = job->prompt_tokens();
    std::vector<JobEvent> events;
    for (;;) {
        const bool more = job->wait(events, kPollInterval);
        for (JobEvent& e : events) {
            if (!e.finished) continue;
            choices[static_cast<size_t>(e.sequence)] = make_choice(p, e.result);
            usage.completion_tokens += static_cast<int64_t>(e.result.tokens.size());
        }
        events.clear();
        if (!more) break;
        if (stopping) {
            job->cancel();
            send_error(res, ApiError{503, "the server is shutting down", "server_error", "", ""});
            return;
        }
        if (!watch.alive()) {
            // Nobody is left to answer: free the sequences now.
            job->cancel();
            res.status = 499;  // (nginx's "client closed request"; never reaches the client)
            return;
        }
    }
    const std::string error = job->error();
    if (!error.empty()) {
        send_error(res, ApiError{500, error, "server_error", "", ""});
        return;
    }
    res.set_content(dump(completion_response(p.chat ? "chat" : "completion", p.id, p.created,
                                             opt.model_name, choices, usage, p.token_ids)),
                    "application/json");
}

void Server::Impl::stream(const httplib::Request& req, httplib::Response& res, const Prepared& p,
                          const std::shared_ptr<Job>& job) {
    struct State {
        Impl* impl;
        Prepared p;
        std::shared_ptr<Job> job;
        ConnectionWatch watch;
        std::vector<ReasoningStream> splitters;
        std::vector<Choice> choices;
        Usage usage;
        bool started = false;
    };
    auto state =
        std::make_shared<State>(State{this, p, job, ConnectionWatch(req), {}, {}, {}, false});
    state->splitters.assign(static_cast<size_t>(p.job.n), ReasoningStream(p.opened_think));
    state->choices.resize(static_cast<size_t>(p.job.n));
    state->usage.prompt_tokens = job->prompt_tokens();

    auto pump = [state](size_t, httplib::DataSink& sink) {
        State& s = *state;
        const std::string kind = s.p.chat ? "chat" : "completion";
        const std::string& model = s.impl->opt.model_name;
        std::string out;
        if (!s.started && s.p.chat) {
            for (int i = 0; i < s.p.job.n; ++i) {
                ChunkDelta d;
                d.index = i;
                d.role = true;
                out += sse(stream_chunk(kind, s.p.id, s.p.created, model, d, false));
            }
        }
        s.started = true;
        std::vector<JobEvent> events;
        const bool more = s.job->wait(events, kPollInterval);
        for (JobEvent& e : events) {
            const size_t i = static_cast<size_t>(e.sequence);
            ChunkDelta d;
            d.index = e.sequence;
            if (s.p.chat) {
                ReasoningStream::Delta x = s.splitters[i].push(e.text);
                if (e.finished) {
                    ReasoningStream::Delta y = s.splitters[i].finish();
                    x.reasoning += y.reasoning;
                    x.content += y.content;
                }
                d.reasoning = std::move(x.reasoning);
                d.content = std::move(x.content);
            } else {
                d.content = std::move(e.text);
            }
            if (e.finished) {
                s.choices[i] = s.impl->make_choice(s.p, e.result);
                s.usage.completion_tokens += static_cast<int64_t>(e.result.tokens.size());
                d.finish_reason = e.result.finish_reason;
                d.finished = &s.choices[i];
            }
            if (!d.content.empty() || !d.reasoning.empty() || e.finished) {
                out += sse(stream_chunk(kind, s.p.id, s.p.created, model, d, s.p.token_ids));
            }
        }
        if (!more) {
            const std::string error = s.job->error();
            if (!error.empty()) {
                out += sse(ApiError{500, error, "server_error", "", ""}.to_json());
            } else if (s.p.include_usage) {
                out += sse(usage_chunk(kind, s.p.id, s.p.created, model, s.usage));
            }
            out += "data: [DONE]\n\n";
        }
        if (!out.empty() && !sink.write(out.data(), out.size())) {
            s.job->cancel();
            return false;
        }
        if (!more) {
            sink.done();
            return true;
        }
        if (s.impl->stopping || !s.watch.alive()) {
            s.job->cancel();
            return false;
        }
        return true;
    };
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", pump, [state](bool success) {
        if (!success) state->job->cancel();
    });
}

std::string Server::Impl::metrics() {
    const SchedulerStats s = scheduler.stats();
    std::string out;
    auto metric = [&](const char* name, const char* type, const char* help) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    metric("vase_http_requests_total", "counter", "HTTP requests answered, by route and status.");
    {
        std::lock_guard<std::mutex> lock(mutex);
        for (const auto& [key, count] : requests) {
            out += fmt::format("vase_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                               key.first, key.second, count);
        }
    }
    metric("vase_jobs_total", "counter", "Generation requests by outcome.");
    out += fmt::format("vase_jobs_total{{outcome=\"completed\"}} {}\n", s.jobs_completed);
    out += fmt::format("vase_jobs_total{{outcome=\"cancelled\"}} {}\n", s.jobs_cancelled);
    out += fmt::format("vase_jobs_total{{outcome=\"failed\"}} {}\n", s.jobs_failed);
    out += fmt::format("vase_jobs_total{{outcome=\"refused\"}} {}\n", s.jobs_refused);
    auto value = [&](const char* name, const char* type, const char* help, auto v) {
        metric(name, type, help);
        out += fmt::format("{} {}\n", name, v);
    };
    value("vase_prompt_tokens_total", "counter", "Prompt tokens prefilled.", s.prompt_tokens);
    value("vase_generated_tokens_total", "counter", "Tokens generated, all sequences.",
          s.generated_tokens);
    value("vase_generation_tokens_per_second", "gauge",
          "Tokens generated per second over the last 5 seconds.", s.tokens_per_second);
    value("vase_decode_steps_total", "counter", "Batched decode steps (forward passes).",
          s.decode_steps);
    value("vase_active_sequences", "gauge", "Sequences admitted and not finished.",
          s.active_sequences);
    value("vase_queued_requests", "gauge", "Requests waiting for admission.", s.queued_jobs);
    value("vase_kv_reserved_bytes", "gauge", "Memory reserved by admitted sequences.",
          s.kv_reserved_bytes);
    value("vase_kv_allocated_bytes", "gauge", "KV cache storage of live sequences.",
          s.kv_allocated_bytes);
    value("vase_kv_limit_bytes", "gauge", "Memory all admitted sequences may reserve.",
          s.kv_limit_bytes);
    value("vase_eviction_passes_total", "counter", "KV eviction passes.", s.eviction_passes);
    value("vase_evicted_tokens_total", "counter",
          "Tokens evicted per layer and KV head, summed over sequences.", s.tokens_evicted);
    value("vase_startup_resident_bytes", "gauge",
          "Resident memory with the model loaded, before any request.", startup_rss);
    value("vase_resident_bytes", "gauge", "Resident memory now.", current_rss_bytes());
    value("vase_peak_resident_bytes", "gauge", "Peak resident memory.", peak_rss_bytes());
    return out;
}

void Server::Impl::routes() {
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
        generate(req, res, true);
    });
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
        generate(req, res, false);
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(
            dump(models_response(opt.model_name, created, engine.config().max_position_embeddings)),
            "application/json");
    });
    http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1];
        if (id != opt.model_name) {
            send_error(res, ApiError{404, fmt::format("The model '{}' does not exist", id),
                                     "invalid_request_error", "model", "model_not_found"});
            return;
        }
        json m = models_response(opt.model_name, created,
                                 engine.config().max_position_embeddings)["data"][0];
        res.set_content(dump(m), "application/json");
    });
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics(), "text/plain; version=0.0.4");
    });
    // Every other error keeps OpenAI's shape (unknown routes, bodies too large, bad HTTP).
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
            ApiError e;
            e.status = res.status;
            if (res.status == 404) {
                e.message = fmt::format("Invalid URL ({} {})", req.method, req.path);
                e.code = "unknown_url";
            } else if (res.status == 413) {
                e.message = "the request body is too large";
                e.code = "request_too_large";
            } else {
                e.message = fmt::format("the request could not be handled (HTTP {})", res.status);
            }
            if (res.status >= 500) e.type = "server_error";
            res.set_content(dump(e.to_json()), "application/json");
            return httplib::Server::HandlerResponse::Handled;
        }));
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            std::string what = "internal error";
            try {
                std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            send_error(res, ApiError{500, what, "server_error", "", ""});
        });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        std::lock_guard<std::mutex> lock(mutex);
        requests[{route_label(req.path), res.status}] += 1;
    });
}

Server::Server(Engine& engine, Scheduler& scheduler, ServerOptions options)
    : impl_(std::make_unique<Impl>(engine, scheduler, std::move(options))) {
    Impl& s = *impl_;
    const int threads = s.opt.http_threads;
    s.http.new_task_queue = [threads] {
        return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    s.http.set_payload_max_length(s.opt.max_body_bytes);
    s.http.set_keep_alive_max_count(1000);
    s.http.set_keep_alive_timeout(5);
    s.routes();
}

Server::~Server() = default;

int Server::bind() {
    Impl& s = *impl_;
    s.http.set_socket_options([&s](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        s.listen_fd = sock;
    });
    int port = s.opt.port;
    if (port == 0) {
        port = s.http.bind_to_any_port(s.opt.host);
    } else if (!s.http.bind_to_port(s.opt.host, port)) {
        port = -1;
    }
    if (port <= 0) {
        fail(
            "--host {} --port {}: cannot listen there (the port is in use or the host is not an "
            "address of "
            "this machine)",
            s.opt.host, s.opt.port);
    }
    // The library listens with a backlog of 5, which drops bursts of new
    // connections; Linux lets a second listen() raise it.
    if (s.listen_fd >= 0) ::listen(s.listen_fd, 512);
    return port;
}

void Server::run() {
    impl_->http.listen_after_bind();
}

void Server::stop() {
    impl_->stopping = true;
    impl_->http.stop();
}

uint64_t Server::startup_rss_bytes() const {
    return impl_->startup_rss;
}

}  // namespace vase::server
