#include "eval/runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "engine/generator.h"
#include "eval/grader.h"
#include "eval/loop_detect.h"
#include "eval/tasks.h"
#include "text/chat_template.h"
#include "util/error.h"

#ifndef VASE_DEFAULT_DATA_DIR
#define VASE_DEFAULT_DATA_DIR "data/tasks"
#endif

namespace vase {
namespace {

uint64_t fnv1a(const std::string& s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

// Appends one line and makes it durable before returning.
class RecordFile {
  public:
    explicit RecordFile(const std::string& path) : path_(path) {
        fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) fail("{}: cannot open for appending", path);
    }
    ~RecordFile() {
        if (fd_ >= 0) ::close(fd_);
    }
    void append(const nlohmann::json& record) {
        std::string line = record.dump() + "\n";
        size_t done = 0;
        while (done < line.size()) {
            ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
            if (n <= 0) fail("{}: write failed", path_);
            done += static_cast<size_t>(n);
        }
        ::fsync(fd_);
    }

  private:
    std::string path_;
    int fd_ = -1;
};

std::string format_duration(double seconds) {
    long s = static_cast<long>(seconds);
    return fmt::format("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

}  // namespace

std::vector<EvalCell> eval_cells(const EvalConfig& config) {
    std::vector<EvalCell> cells;
    for (const std::string& task : config.tasks) {
        for (const std::string& policy : config.policies) {
            if (policy == "full") {
                cells.push_back({task, policy, 0});
                continue;
            }
            for (int64_t budget : config.budgets) cells.push_back({task, policy, budget});
        }
    }
    return cells;
}

uint64_t sample_seed(const std::string& task, const std::string& problem_id, int sample) {
    return fnv1a(task + "/" + problem_id) + static_cast<uint64_t>(sample) * 0x9e3779b97f4a7c15ull;
}

std::string record_key(const nlohmann::json& r) {
    return fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}", r.at("task").get<std::string>(),
                       r.at("problem_id").get<std::string>(), r.at("policy").get<std::string>(),
                       r.at("budget").get<int64_t>(), r.at("seed").get<uint64_t>());
}

std::vector<nlohmann::json> read_records(const std::string& path, bool repair) {
    std::vector<nlohmann::json> records;
    std::ifstream in(path, std::ios::binary);
    if (!in) return records;
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    size_t pos = 0, line_no = 0, good_end = 0;
    while (pos < content.size()) {
        size_t nl = content.find('\n', pos);
        ++line_no;
        if (nl == std::string::npos) {
            // A torn last line: the process died while writing it.
            if (!repair) fail("{}: line {} is incomplete", path, line_no);
            break;
        }
        std::string line = content.substr(pos, nl - pos);
        if (!line.empty()) {
            nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.is_object() || !j.contains("task") || !j.contains("seed")) {
                fail("{}: line {} is not a sample record", path, line_no);
            }
            records.push_back(std::move(j));
        }
        pos = nl + 1;
        good_end = pos;
    }
    if (repair && good_end < content.size()) {
        std::filesystem::resize_file(path, good_end);
        std::fprintf(stderr,
                     "eval: %s: dropped a torn last line (%zu bytes) left by an interrupted run\n",
                     path.c_str(), content.size() - good_end);
    }
    return records;
}

int64_t run_eval(const EvalConfig& config) {
    if (config.tasks.empty()) fail("eval: give at least one --task");
    if (config.policies.empty()) fail("eval: give at least one --policy");
    if (config.samples < 1) fail("eval: --samples must be at least 1");
    if (config.max_tokens < 1) fail("eval: --max-tokens must be at least 1");
    if (config.out_dir.empty()) fail("eval: give --out DIR");
    // Validate every cell's parameters before loading anything.
    for (const std::string& policy : config.policies) {
        for (int64_t budget : config.budgets) {
            EvictionParams p = config.kv;
            p.policy = policy;
            if (policy != "full") p.budget = budget;
            try {
                p.validate();
            } catch (const Error& e) {
                fail("eval: policy {} at budget {}: {}", policy, budget, e.what());
            }
        }
    }
    const std::string data_dir = config.data_dir.empty() ? VASE_DEFAULT_DATA_DIR : config.data_dir;
    std::map<std::string, std::vector<Problem>> problems;
    for (const std::string& task : config.tasks) {
        std::vector<Problem> list = load_task(find_task(task), data_dir);
        if (config.limit > 0 && static_cast<int64_t>(list.size()) > config.limit)
            list.resize(config.limit);
        problems[task] = std::move(list);
    }

    std::filesystem::create_directories(config.out_dir);
    const std::string records_path = config.out_dir + "/records.jsonl";
    std::set<std::string> done;
    for (const auto& r : read_records(records_path, true)) done.insert(record_key(r));

    const std::vector<EvalCell> cells = eval_cells(config);
    int64_t total = 0, remaining = 0;
    for (const EvalCell& cell : cells) {
        for (const Problem& p : problems[cell.task]) {
            for (int s = 0; s < config.samples; ++s) {
                ++total;
                nlohmann::json key{{"task", cell.task},
                                   {"problem_id", p.id},
                                   {"policy", cell.policy},
                                   {"budget", cell.budget},
                                   {"seed", sample_seed(cell.task, p.id, s)}};
                if (!done.count(record_key(key))) ++remaining;
            }
        }
    }
    if (!config.quiet) {
        std::fprintf(stderr, "eval: %zu cells, %ld samples, %ld already done, %ld to run\n",
                     cells.size(), static_cast<long>(total), static_cast<long>(total - remaining),
                     static_cast<long>(remaining));
    }
    if (remaining == 0) return 0;

    const int threads = config.threads > 0
                            ? config.threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    Engine engine(config.model, threads);
    RecordFile out(records_path);
    const auto t_start = std::chrono::steady_clock::now();
    int64_t ran = 0, tokens_total = 0;

    for (const EvalCell& cell : cells) {
        for (const Problem& problem : problems[cell.task]) {
            // The samples of this problem still missing, decoded as one batch.
            std::vector<int> todo;
            std::vector<uint64_t> seeds;
            for (int s = 0; s < config.samples; ++s) {
                const uint64_t seed = sample_seed(cell.task, problem.id, s);
                nlohmann::json key{{"task", cell.task},
                                   {"problem_id", problem.id},
                                   {"policy", cell.policy},
                                   {"budget", cell.budget},
                                   {"seed", seed}};
                if (done.count(record_key(key))) continue;
                todo.push_back(s);
                seeds.push_back(seed);
            }
            if (todo.empty()) continue;

            ChatOptions chat;
            chat.enable_thinking = true;
            const std::string prompt_text = render_chat(
                {ChatMessage{"user", paper_prompt(problem.question), std::nullopt, {}}}, chat);
            const std::vector<int32_t> prompt = engine.tokenizer().encode(prompt_text);

            GenerateOptions opt;
            opt.max_new_tokens = config.max_tokens;
            opt.sampling = engine.default_sampling();
            opt.kv = config.kv;
            opt.kv.policy = cell.policy;
            opt.kv_type = config.kv_type;
            opt.value_histogram = true;
            if (cell.policy != "full") opt.kv.budget = cell.budget;
            opt.sequence_seeds = seeds;
            const auto t0 = std::chrono::steady_clock::now();

            auto on_finish = [&](int i, const GenerationResult& res) {
                const bool hit_limit = res.finish_reason == "length";
                const GradeResult grade = grade_math(res.text, problem.answer);
                const LoopInfo loop = detect_loop(res.tokens, hit_limit);
                nlohmann::json record{
                    {"task", cell.task},
                    {"problem_id", problem.id},
                    {"policy", cell.policy},
                    {"budget", cell.budget},
                    {"sample", todo[static_cast<size_t>(i)]},
                    {"seed", seeds[static_cast<size_t>(i)]},
                    {"answer", problem.answer},
                    {"extracted", grade.extracted},
                    {"correct", grade.correct},
                    {"tokens", static_cast<int64_t>(res.tokens.size())},
                    {"hit_max_tokens", hit_limit},
                    {"loop", loop.looping},
                    {"loop_period", loop.period},
                    {"finish_reason", res.finish_reason},
                    {"seconds",
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()},
                    {"cache", res.cache.to_json()},
                    {"completion", res.text},
                };
                out.append(record);
                done.insert(record_key(record));
                ++ran;
                tokens_total += static_cast<int64_t>(res.tokens.size());
            };
            generate(engine, prompt, opt, static_cast<int>(todo.size()), nullptr, nullptr,
                     on_finish);

            if (!config.quiet) {
                const double elapsed =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start)
                        .count();
                const double eta =
                    elapsed / static_cast<double>(ran) * static_cast<double>(remaining - ran);
                std::fprintf(
                    stderr,
                    "eval: %ld/%ld samples | %s %s B=%ld | %.1f tok/s | elapsed %s | ETA %s\n",
                    static_cast<long>(ran), static_cast<long>(remaining), cell.task.c_str(),
                    cell.policy.c_str(), static_cast<long>(cell.budget),
                    static_cast<double>(tokens_total) / std::max(elapsed, 1e-9),
                    format_duration(elapsed).c_str(), format_duration(eta).c_str());
            }
        }
    }
    return ran;
}

}  // namespace vase
