// vase run: the main job in one command. Solves one problem twice, with VaSE
// eviction at 4x compression and with a full cache, side by side, and shows
// what each kept, answered and cost.
//
// The default model is the project's trained testbed model when it is present
// (models/testbed); until then, a random-weight Qwen3 that vase makes itself:
// its text is noise, but every mechanism (the fixed-budget cache, eviction
// passes, protected values, memory) is the real one.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "engine/generator.h"
#include "eval/grader.h"
#include "eval/tasks.h"
#include "model/random_checkpoint.h"
#include "text/chat_template.h"
#include "util/error.h"
#include "util/memory.h"

#ifndef VASE_SOURCE_DIR
#define VASE_SOURCE_DIR "."
#endif

namespace vase::cli {
namespace {

struct RunArgs {
    std::string model;
    int64_t max_tokens = 768;
    int64_t window = 32;
    uint64_t seed = 0;
    int threads = 0;
    std::string task = "math";
    int64_t problem = 0;
};

std::string cache_dir() {
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    std::string base = xdg && *xdg ? xdg : (home && *home ? std::string(home) + "/.cache" : "/tmp");
    return base + "/vase";
}

// The testbed model if the tree has it, else a random tiny Qwen3 made once.
std::string default_model() {
    const std::string testbed = std::string(VASE_SOURCE_DIR) + "/models/testbed";
    if (std::filesystem::exists(testbed + "/config.json")) return testbed;
    const std::string dir = cache_dir() + "/random-qwen3-tiny";
    if (!std::filesystem::exists(dir + "/model.safetensors")) {
        std::fprintf(stderr, "run: no trained testbed model in this tree yet; making a random-weight Qwen3 "
                             "in %s\n", dir.c_str());
        RandomCheckpointOptions o;
        o.config = qwen3_shape("tiny");
        o.config.n_layers = 4;
        o.dtype = DType::F32;
        o.seed = 1;
        o.tokenizer_dir = default_tokenizer_dir();
        write_random_checkpoint(o, dir);
    }
    return dir;
}

// First and last `keep` bytes of a long text, cut at UTF-8 boundaries.
std::string abridge(const std::string& text, size_t keep) {
    if (text.size() <= 2 * keep + 20) return text;
    auto boundary = [&](size_t i) {
        while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
        return i;
    };
    size_t head = boundary(keep), tail = boundary(text.size() - keep);
    return text.substr(0, head) + fmt::format("\n    [... {} bytes ...]\n", tail - head) + text.substr(tail);
}

void run(RunArgs& a) {
    if (a.max_tokens < 4 * a.window) fail("run: -n must be at least 4 x --kv-window ({})", 4 * a.window);
    const std::string model = a.model.empty() ? default_model() : a.model;
    const int threads =
        a.threads > 0 ? a.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    Engine engine(model, threads);
    const std::vector<Problem> problems =
        load_task(find_task(a.task), std::string(VASE_SOURCE_DIR) + "/data/tasks");
    if (a.problem < 0 || a.problem >= static_cast<int64_t>(problems.size())) {
        fail("run: --problem {} is out of range (task {} has {})", a.problem, a.task, problems.size());
    }
    const Problem& problem = problems[static_cast<size_t>(a.problem)];
    const std::string prompt_text =
        render_chat({ChatMessage{"user", paper_prompt(problem.question), std::nullopt, {}}});
    const std::vector<int32_t> prompt = engine.tokenizer().encode(prompt_text);
    // 4x compression of the whole sequence, rounded down to the window.
    const int64_t total = static_cast<int64_t>(prompt.size()) + a.max_tokens;
    const int64_t budget = std::max<int64_t>(2 * a.window, total / 4 / a.window * a.window);

    std::printf("model    %s\n", model.c_str());
    std::printf("problem  %s #%s (answer %s)\n%s\n\n", a.task.c_str(), problem.id.c_str(),
                problem.answer.c_str(), abridge(problem.question, 300).c_str());
    std::printf("prompt %zu tokens, up to %ld new; vase keeps %ld slots per head (window %ld): "
                "%.1fx compression\n\n",
                prompt.size(), static_cast<long>(a.max_tokens), static_cast<long>(budget),
                static_cast<long>(a.window), static_cast<double>(total) / static_cast<double>(budget));

    struct Outcome {
        GenerationResult result;
        GenerationTimings timings;
        uint64_t peak_rss = 0;
    };
    auto solve = [&](const std::string& policy) {
        GenerateOptions o;
        o.max_new_tokens = a.max_tokens;
        o.sampling = engine.default_sampling();
        o.sampling.seed = a.seed;
        o.kv.policy = policy;
        o.kv.budget = budget;
        o.kv.window = a.window;
        o.kv.seed = a.seed;
        std::ofstream("/proc/self/clear_refs") << "5";  // per-run peak RSS
        Outcome out;
        out.result = generate(engine, prompt, o, 1, nullptr, &out.timings)[0];
        out.peak_rss = peak_rss_bytes();
        return out;
    };
    const Outcome full = solve("full");
    const Outcome vase = solve("vase");

    for (const auto& [name, o] : {std::pair{"full cache", &full}, std::pair{"vase", &vase}}) {
        const SplitReasoning split = split_reasoning(o->result.text, prompt_opens_think(prompt_text));
        const GradeResult grade = grade_math(o->result.text, problem.answer);
        const CacheStats& c = o->result.cache;
        std::printf("== %s ==\n", name);
        std::printf("thinking (abridged):\n    %s\n", abridge(split.reasoning, 240).c_str());
        std::printf("answer: %s\n", split.thinking_closed ? abridge(split.content, 200).c_str()
                                                         : "(none: the budget of new tokens ran out while thinking)");
        std::printf("graded: extracted '%s' -> %s\n", grade.extracted.c_str(), grade.correct ? "RIGHT" : "wrong");
        std::printf("tokens %zu (%s) | decode %.1f tok/s | cache %ld slots = %.2f MiB | passes %ld | "
                    "evicted %ld/head | protected %ld | sparsity %.2f | peak RSS %.1f MiB\n\n",
                    o->result.tokens.size(), o->result.finish_reason.c_str(),
                    o->timings.decode_seconds > 0 ? o->timings.decoded_tokens / o->timings.decode_seconds : 0.0,
                    static_cast<long>(c.capacity), static_cast<double>(c.cache_bytes) / 1048576.0,
                    static_cast<long>(c.eviction_passes), static_cast<long>(c.tokens_evicted),
                    static_cast<long>(c.protected_slots), c.sparsity(),
                    static_cast<double>(o->peak_rss) / 1048576.0);
    }
    std::printf("the vase cache is %.1fx smaller than the full one, fixed before the first token\n",
                static_cast<double>(full.result.cache.cache_bytes) /
                    static_cast<double>(std::max<uint64_t>(1, vase.result.cache.cache_bytes)));
}

}  // namespace

void register_run(CLI::App& app) {
    auto a = std::make_shared<RunArgs>();
    CLI::App* cmd = app.add_subcommand(
        "run", "Solve one problem with VaSE at 4x compression and with a full cache, side by side");
    cmd->add_option("-m,--model", a->model, "Model (default: the testbed model, or a random tiny Qwen3)");
    cmd->add_option("-n,--max-tokens", a->max_tokens, "Most new tokens per solution")->capture_default_str();
    cmd->add_option("--kv-window", a->window, "Eviction window")->capture_default_str();
    cmd->add_option("--task", a->task, "Task the problem comes from")->capture_default_str();
    cmd->add_option("--problem", a->problem, "Index of the problem in the task")->capture_default_str();
    cmd->add_option("--seed", a->seed, "Seed of sampling and eviction")->capture_default_str();
    cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
    cmd->callback([a] { run(*a); });
}

}  // namespace vase::cli
