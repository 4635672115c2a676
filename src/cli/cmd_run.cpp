// vase run: the main job in one command. Solves one problem twice, with VaSE
// eviction at 4x compression and with a full cache, side by side, and shows
// what each kept, answered and cost.
//
// The default model is the project's trained testbed model when it is present
// (models/testbed), and the default problem then one of the testbed's table
// walks (eval/testbed.h): a problem the model can solve only by recalling
// table entries it saw hundreds of tokens earlier, so what eviction drops
// shows in the answer. The budget is a quarter of the prompt plus the
// reference solution; each chain of thought is compared step by step with
// the reference. Until the model exists, a random-weight Qwen3 that vase makes
// itself: its text is noise, but every mechanism (the fixed-budget cache,
// eviction passes, protected values, memory) is the real one.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "engine/generator.h"
#include "eval/grader.h"
#include "eval/tasks.h"
#include "eval/testbed.h"
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
    int64_t max_tokens = 0;  // 0: the reference solution + 1/8 (testbed), else 768
    int64_t window = 0;      // 0: 32, or 16 where the testbed budget is not a multiple of 32
    uint64_t seed = 0;
    float temperature = std::numeric_limits<float>::quiet_NaN();  // NaN: the model's
    int threads = 0;
    std::string task;  // "": testbed when the tree has the testbed model, else math
    int64_t problem = 0;
};

std::string testbed_model_dir() { return std::string(VASE_SOURCE_DIR) + "/models/testbed"; }

std::string cache_dir() {
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    std::string base = xdg && *xdg ? xdg : (home && *home ? std::string(home) + "/.cache" : "/tmp");
    return base + "/vase";
}

// The testbed model if the tree has it, else a random tiny Qwen3 made once.
std::string default_model() {
    const std::string testbed = testbed_model_dir();
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

// The first `head` and last `tail` lines of a text, each indented.
std::string abridge_lines(const std::string& text, size_t head, size_t tail) {
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        lines.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines.size() > head + tail + 1 && i == head) {
            out += fmt::format("    [... {} lines ...]\n", lines.size() - head - tail);
            i = lines.size() - tail;
        }
        out += "    " + abridge(lines[i], 160) + "\n";
    }
    return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const std::string& line : lines) out += (out.empty() ? "" : "\n") + line;
    return out;
}

void run(RunArgs& a) {
    const std::string task =
        !a.task.empty() ? a.task
                        : (std::filesystem::exists(testbed_model_dir() + "/config.json") ? "testbed"
                                                                                         : "math");
    const TaskSpec& spec = find_task(task);
    if (a.window < 0) fail("run: --kv-window must be positive (got {})", a.window);
    if (a.temperature < 0) fail("run: --temp must be 0 (greedy) or more (got {})", a.temperature);
    if (a.max_tokens < 0) fail("run: -n must be positive (got {})", a.max_tokens);
    if (!spec.generated()) {
        if (a.max_tokens == 0) a.max_tokens = 768;
        if (a.window == 0) a.window = 32;
        if (a.max_tokens < 4 * a.window) {
            fail("run: -n must be at least 4 x --kv-window ({})", 4 * a.window);
        }
    }
    // The problem: a generated one with its reference solution, or a line of a task file.
    Problem problem;
    std::optional<TableWalkProblem> reference;
    if (spec.generated()) {
        if (a.problem < 0 || a.problem >= spec.count) {
            fail("run: --problem {} is out of range (task {} has problems 0..{})", a.problem, task,
                 spec.count - 1);
        }
        reference = generated_problem(spec, a.problem);
        problem = {std::to_string(a.problem), reference->question, reference->answer};
    } else {
        const std::vector<Problem> problems =
            load_task(spec, std::string(VASE_SOURCE_DIR) + "/data/tasks");
        if (a.problem < 0 || a.problem >= static_cast<int64_t>(problems.size())) {
            fail("run: --problem {} is out of range (task {} has {})", a.problem, task,
                 problems.size());
        }
        problem = problems[static_cast<size_t>(a.problem)];
    }

    const std::string model = a.model.empty() ? default_model() : a.model;
    const int threads =
        a.threads > 0 ? a.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    Engine engine(model, threads);
    const std::string prompt_text =
        render_chat({ChatMessage{"user", paper_prompt(problem.question), std::nullopt, {}}});
    const std::vector<int32_t> prompt = engine.tokenizer().encode(prompt_text);
    int64_t budget = 0, total = 0, expected = 0;
    if (reference) {
        // 4x compression of the prompt plus the reference solution (the whole
        // assistant turn, in this model's tokens), to a multiple of 16.
        expected =
            static_cast<int64_t>(engine.tokenizer().encode(assistant_turn(*reference)).size());
        if (a.max_tokens == 0) a.max_tokens = expected + std::max<int64_t>(16, expected / 8);
        total = static_cast<int64_t>(prompt.size()) + expected;
        const int64_t unit = a.window > 0 ? a.window : 16;
        budget = std::max<int64_t>(2 * unit, (total / 4 + unit / 2) / unit * unit);
        if (a.window == 0) a.window = budget % 32 == 0 ? 32 : 16;
    } else {
        // 4x compression of the whole sequence, rounded down to the window.
        total = static_cast<int64_t>(prompt.size()) + a.max_tokens;
        budget = std::max<int64_t>(2 * a.window, total / 4 / a.window * a.window);
    }

    std::printf("model    %s\n", model.c_str());
    std::printf("problem  %s #%s (answer %s)\n%s\n\n", task.c_str(), problem.id.c_str(),
                problem.answer.c_str(), abridge(problem.question, 300).c_str());
    if (reference) {
        std::printf("reference solution: %zu steps, %ld tokens with the answer\n%s\n",
                    reference->solution.size(), static_cast<long>(expected),
                    abridge_lines(join_lines(reference->solution), 3, 2).c_str());
        std::printf("prompt %zu + solution %ld tokens, up to %ld new; vase keeps %ld slots per "
                    "head (window %ld): %.1fx compression\n\n",
                    prompt.size(), static_cast<long>(expected), static_cast<long>(a.max_tokens),
                    static_cast<long>(budget), static_cast<long>(a.window),
                    static_cast<double>(total) / static_cast<double>(budget));
    } else {
        std::printf("prompt %zu tokens, up to %ld new; vase keeps %ld slots per head (window "
                    "%ld): %.1fx compression\n\n",
                    prompt.size(), static_cast<long>(a.max_tokens), static_cast<long>(budget),
                    static_cast<long>(a.window),
                    static_cast<double>(total) / static_cast<double>(budget));
    }

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
        if (!std::isnan(a.temperature)) o.sampling.temperature = a.temperature;
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
        if (reference) {
            std::printf("thinking (abridged):\n%s",
                        split.reasoning.empty() ? "    (none)\n"
                                                : abridge_lines(split.reasoning, 4, 3).c_str());
            const TableWalkCheck check = check_table_walk(*reference, split.reasoning);
            if (check.first_deviation() == 0) {
                std::printf("steps: all %d right\n", check.steps);
            } else {
                const std::string got = check.deviating_line.empty()
                                            ? std::string("the thinking ends")
                                            : "\"" + abridge(check.deviating_line, 40) + "\"";
                std::printf(
                    "steps: %d/%d right, first deviation at step %d: %s, expected \"%s\"\n",
                    check.correct_steps, check.steps, check.first_deviation(), got.c_str(),
                    reference->solution[static_cast<size_t>(check.correct_steps)].c_str());
            }
        } else {
            std::printf("thinking (abridged):\n    %s\n", abridge(split.reasoning, 240).c_str());
        }
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
    cmd->add_option("-n,--max-tokens", a->max_tokens,
                    "Most new tokens per solution (default: testbed tasks the reference solution "
                    "+ 1/8, else 768)");
    cmd->add_option("--kv-window", a->window,
                    "Eviction window (default 32; testbed tasks 16 where the budget is not a "
                    "multiple of 32)");
    cmd->add_option("--task", a->task,
                    "Task the problem comes from (default: testbed when models/testbed exists, "
                    "else math)");
    cmd->add_option("--problem", a->problem,
                    "Index of the problem in the task (for testbed tasks the same problem `vase "
                    "eval` runs with this index)")
        ->capture_default_str();
    cmd->add_option("--seed", a->seed, "Seed of sampling and eviction")->capture_default_str();
    cmd->add_option("--temp", a->temperature,
                    "Sampling temperature (0 = greedy; default: the model's)");
    cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
    cmd->callback([a] { run(*a); });
}

}  // namespace vase::cli
