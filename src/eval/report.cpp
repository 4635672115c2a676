#include "eval/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include "eval/runner.h"
#include "eval/svg_plot.h"
#include "util/error.h"

namespace vase {
namespace {

constexpr double kNan = CellSummary::kNan;
constexpr const char* kDash = "–";

// The fields of one record that the report uses.
struct Sample {
    std::string task;
    std::string problem_id;
    std::string policy;
    int64_t budget = 0;
    int64_t sample = 0;
    bool correct = false;
    double tokens = kNan;
    double sparsity = kNan;
    double eviction_passes = kNan;
    int loop = -1;       // -1: not recorded
    int hit_limit = -1;  // -1: not recorded
};

const nlohmann::json& field(const nlohmann::json& record, const char* name,
                            const std::string& source, size_t index) {
    auto it = record.find(name);
    if (it == record.end()) fail("{}: record {} has no \"{}\"", source, index + 1, name);
    return *it;
}

[[noreturn]] void wrong_type(const char* name, const char* expected, const nlohmann::json& value,
                             const std::string& source, size_t index) {
    fail("{}: record {}: \"{}\" must be {}, not {}", source, index + 1, name, expected,
         value.type_name());
}

std::string string_field(const nlohmann::json& record, const char* name, const std::string& source,
                         size_t index) {
    const nlohmann::json& v = field(record, name, source, index);
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_integer()) return v.dump();  // ids may be numbers
    wrong_type(name, "a string", v, source, index);
}

int64_t int_field(const nlohmann::json& record, const char* name, const std::string& source,
                  size_t index) {
    const nlohmann::json& v = field(record, name, source, index);
    if (!v.is_number_integer()) wrong_type(name, "an integer", v, source, index);
    const int64_t n = v.get<int64_t>();
    if (n < 0) fail("{}: record {}: \"{}\" is negative ({})", source, index + 1, name, n);
    return n;
}

// NaN when absent or not a number: optional fields only leave their column blank.
double optional_number(const nlohmann::json& object, const char* name) {
    if (!object.is_object()) return kNan;
    auto it = object.find(name);
    if (it == object.end() || !it->is_number()) return kNan;
    return it->get<double>();
}

int optional_bool(const nlohmann::json& object, const char* name) {
    auto it = object.find(name);
    if (it == object.end() || !it->is_boolean()) return -1;
    return it->get<bool>() ? 1 : 0;
}

Sample parse_sample(const nlohmann::json& record, const std::string& source, size_t index) {
    if (!record.is_object()) fail("{}: record {} is not a JSON object", source, index + 1);
    Sample s;
    s.task = string_field(record, "task", source, index);
    s.problem_id = string_field(record, "problem_id", source, index);
    s.policy = string_field(record, "policy", source, index);
    s.budget = int_field(record, "budget", source, index);
    s.sample = int_field(record, "sample", source, index);
    const nlohmann::json& correct = field(record, "correct", source, index);
    if (!correct.is_boolean()) wrong_type("correct", "true or false", correct, source, index);
    s.correct = correct.get<bool>();
    s.tokens = optional_number(record, "tokens");
    s.loop = optional_bool(record, "loop");
    s.hit_limit = optional_bool(record, "hit_max_tokens");
    if (auto it = record.find("cache"); it != record.end()) {
        s.sparsity = optional_number(*it, "sparsity");
        s.eviction_passes = optional_number(*it, "eviction_passes");
    }
    return s;
}

// Mean of the finite values; NaN if there are none.
double mean_of(const std::vector<double>& values) {
    double sum = 0;
    int64_t n = 0;
    for (double v : values) {
        if (!std::isfinite(v)) continue;
        sum += v;
        ++n;
    }
    return n == 0 ? kNan : sum / static_cast<double>(n);
}

// Aggregates the samples of one cell (docs/eval.md, "Report").
void aggregate(const std::vector<const Sample*>& samples, CellSummary& cell) {
    cell.samples = static_cast<int64_t>(samples.size());
    if (samples.empty()) return;
    std::map<std::string, std::pair<double, int64_t>> by_problem;  // correct, samples
    std::map<int64_t, std::pair<double, int64_t>> by_index;
    std::vector<double> tokens, loops, limits, sparsity, passes;
    for (const Sample* s : samples) {
        auto& p = by_problem[s->task + '\x1f' + s->problem_id];
        p.first += s->correct ? 1 : 0;
        p.second += 1;
        auto& k = by_index[s->sample];
        k.first += s->correct ? 1 : 0;
        k.second += 1;
        tokens.push_back(s->tokens);
        loops.push_back(s->loop < 0 ? kNan : s->loop);
        limits.push_back(s->hit_limit < 0 ? kNan : s->hit_limit);
        sparsity.push_back(s->sparsity);
        passes.push_back(s->eviction_passes);
    }
    cell.problems = static_cast<int64_t>(by_problem.size());
    cell.sample_indices = static_cast<int64_t>(by_index.size());
    // Problems weigh equally, however many of their samples are present.
    double sum = 0;
    for (const auto& [id, p] : by_problem) sum += p.first / static_cast<double>(p.second);
    cell.pass_at_1 = sum / static_cast<double>(by_problem.size());
    // The spread of the accuracy over repeated runs: run k = every problem's k-th sample.
    const double k_count = static_cast<double>(by_index.size());
    if (by_index.size() >= 2) {
        double mean = 0;
        for (const auto& [k, a] : by_index) mean += a.first / static_cast<double>(a.second);
        mean /= k_count;
        double ss = 0;
        for (const auto& [k, a] : by_index) {
            const double d = a.first / static_cast<double>(a.second) - mean;
            ss += d * d;
        }
        cell.pass_at_1_se = std::sqrt(ss / (k_count - 1)) / std::sqrt(k_count);
    } else {
        const double p = cell.pass_at_1;
        cell.pass_at_1_se = std::sqrt(p * (1 - p) / static_cast<double>(samples.size()));
    }
    cell.mean_tokens = mean_of(tokens);
    cell.loop_rate = mean_of(loops);
    cell.hit_limit_rate = mean_of(limits);
    cell.mean_sparsity = mean_of(sparsity);
    cell.mean_eviction_passes = mean_of(passes);
}

// --- the value-range histograms (docs/eval.md, "cache.value_range_hist") -------------

struct ValueHistograms {
    std::vector<double> edges;  // of the first valid record
    size_t n_layers = 0;
    std::vector<std::string> policies;                               // in report order
    std::map<std::string, std::vector<std::vector<double>>> counts;  // policy -> [layer][bin]
    std::map<std::string, int64_t> records;                          // policy -> records summed
    int64_t used = 0;
    int64_t skipped = 0;
    std::string first_skip;  // why the first skipped record was skipped
};

// Checks one record's histogram; returns what is wrong, or "".
std::string parse_histogram(const nlohmann::json& hist, std::vector<double>& edges,
                            std::vector<std::vector<double>>& layers) {
    if (!hist.is_object()) return "it is not an object";
    auto e = hist.find("edges");
    auto l = hist.find("layers");
    if (e == hist.end() || !e->is_array() || e->size() < 2) {
        return "\"edges\" must be an array of at least 2 numbers";
    }
    if (l == hist.end() || !l->is_array() || l->empty()) {
        return "\"layers\" must be a non-empty array of count arrays";
    }
    for (const auto& v : *e) {
        if (!v.is_number() || !std::isfinite(v.get<double>())) return "an edge is not a number";
        if (!edges.empty() && !(v.get<double>() > edges.back())) {
            return "\"edges\" are not strictly increasing";
        }
        edges.push_back(v.get<double>());
    }
    for (const auto& row : *l) {
        if (!row.is_array() || row.size() + 1 != edges.size()) {
            return fmt::format("every layer needs {} counts (one per bin)", edges.size() - 1);
        }
        std::vector<double> counts;
        for (const auto& c : row) {
            if (!c.is_number() || !(c.get<double>() >= 0)) return "a count is not a number >= 0";
            counts.push_back(c.get<double>());
        }
        layers.push_back(std::move(counts));
    }
    return "";
}

ValueHistograms collect_histograms(const std::vector<nlohmann::json>& records,
                                   const std::vector<std::string>& policy_order) {
    ValueHistograms h;
    for (size_t i = 0; i < records.size(); ++i) {
        const nlohmann::json& r = records[i];
        auto cache = r.find("cache");
        if (cache == r.end() || !cache->is_object()) continue;
        auto hist = cache->find("value_range_hist");
        if (hist == cache->end() || hist->is_null()) continue;
        std::vector<double> edges;
        std::vector<std::vector<double>> layers;
        std::string problem = parse_histogram(*hist, edges, layers);
        if (problem.empty() && !h.edges.empty()) {
            bool same = edges.size() == h.edges.size() && layers.size() == h.n_layers;
            for (size_t k = 0; same && k < edges.size(); ++k) {
                same = std::abs(edges[k] - h.edges[k]) <= 1e-6 * std::abs(h.edges[k]) + 1e-300;
            }
            if (!same) problem = "its edges or layer count differ from the first histogram's";
        }
        if (!problem.empty()) {
            if (h.skipped++ == 0) h.first_skip = fmt::format("record {}: {}", i + 1, problem);
            continue;
        }
        if (h.edges.empty()) {
            h.edges = edges;
            h.n_layers = layers.size();
        }
        const nlohmann::json& policy_json = r.at("policy");  // checked by summarize_records
        const std::string policy =
            policy_json.is_string() ? policy_json.get<std::string>() : policy_json.dump();
        auto& sum = h.counts[policy];
        if (sum.empty()) sum.assign(h.n_layers, std::vector<double>(h.edges.size() - 1, 0.0));
        for (size_t layer = 0; layer < layers.size(); ++layer) {
            for (size_t b = 0; b < layers[layer].size(); ++b) sum[layer][b] += layers[layer][b];
        }
        ++h.records[policy];
        ++h.used;
    }
    for (const std::string& p : policy_order) {
        if (h.counts.count(p)) h.policies.push_back(p);
    }
    return h;
}

std::string value_magnitude_svg(const ValueHistograms& h) {
    HeatmapFigure figure;
    figure.title = "Range (max − min) of cached value vectors, per layer";
    figure.color_label = "share of the layer's value vectors";
    figure.color_min = 1e-4;
    figure.color_max = 1;
    figure.color_ticks = {{1e-4, "0.01%"}, {1e-3, "0.1%"}, {1e-2, "1%"}, {0.1, "10%"}, {1, "100%"}};
    std::vector<double> edges = h.edges;
    // A first edge of 0 (bin [0, e1)) cannot sit on a log axis: extend the spacing down.
    if (edges[0] <= 0 && edges.size() >= 2 && edges[1] > 0) {
        edges[0] = edges.size() >= 3 && edges[2] > edges[1] ? edges[1] * edges[1] / edges[2]
                                                            : edges[1] / 2;
    }
    for (const std::string& policy : h.policies) {
        HeatmapPanel panel;
        const int64_t n = h.records.at(policy);
        panel.title = fmt::format("{} ({} sample{})", policy, n, n == 1 ? "" : "s");
        panel.x.label = "value range (log scale)";
        panel.x.scale = AxisScale::kLog10;
        panel.y_label = "layer";
        panel.x_edges = edges;
        for (const std::vector<double>& row : h.counts.at(policy)) {
            double total = 0;
            for (double c : row) total += c;
            std::vector<double> share(row.size(), 0.0);
            for (size_t b = 0; b < row.size() && total > 0; ++b) share[b] = row[b] / total;
            panel.values.push_back(std::move(share));
            panel.row_labels.push_back(std::to_string(panel.row_labels.size()));
        }
        figure.panels.push_back(std::move(panel));
    }
    return render_heatmap_figure(figure);
}

// --- output -----------------------------------------------------------------------------

std::string budget_text(int64_t budget) {
    return budget == 0 ? kDash : std::to_string(budget);
}

std::string percent(double fraction) {
    return std::isfinite(fraction) ? fmt::format("{:.1f}%", 100 * fraction) : kDash;
}

std::string pass_text(const CellSummary& c) {
    if (c.samples == 0 || !std::isfinite(c.pass_at_1)) return kDash;
    if (!std::isfinite(c.pass_at_1_se)) return fmt::format("{:.1f}", 100 * c.pass_at_1);
    return fmt::format("{:.1f} ± {:.1f}", 100 * c.pass_at_1, 100 * c.pass_at_1_se);
}

std::string number_text(double v, int decimals) {
    return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : kDash;
}

std::string markdown_table(const std::vector<const CellSummary*>& rows) {
    std::string out =
        "| policy | budget | problems | samples | pass@1 (%) | tokens | loop | hit limit | "
        "sparsity | eviction passes |\n"
        "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
    for (const CellSummary* c : rows) {
        const std::string samples =
            fmt::format("{}{}", c->samples, c->complete || c->samples == 0 ? "" : "*");
        out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", c->policy,
                           budget_text(c->budget), c->problems, samples, pass_text(*c),
                           number_text(c->mean_tokens, 0), percent(c->loop_rate),
                           percent(c->hit_limit_rate), percent(c->mean_sparsity),
                           number_text(c->mean_eviction_passes, 1));
    }
    return out;
}

nlohmann::json number_json(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

nlohmann::json cell_json(const CellSummary& c) {
    nlohmann::json j;
    if (!c.task.empty()) j["task"] = c.task;
    j["policy"] = c.policy;
    j["budget"] = c.budget;
    j["problems"] = c.problems;
    j["samples"] = c.samples;
    j["sample_indices"] = c.sample_indices;
    j["complete"] = c.complete;
    j["pass_at_1"] = number_json(c.pass_at_1);
    j["pass_at_1_se"] = number_json(c.pass_at_1_se);
    j["mean_tokens"] = number_json(c.mean_tokens);
    j["loop_rate"] = number_json(c.loop_rate);
    j["hit_limit_rate"] = number_json(c.hit_limit_rate);
    j["mean_sparsity"] = number_json(c.mean_sparsity);
    j["mean_eviction_passes"] = number_json(c.mean_eviction_passes);
    return j;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
    return out;
}

// "samples 0–7 (8 per problem)", or the count when the indices have gaps.
std::string sample_text(const std::vector<int64_t>& indices) {
    const int64_t k = static_cast<int64_t>(indices.size());
    if (k == 1) return fmt::format("sample index {} (1 per problem)", indices[0]);
    if (indices.front() == 0 && indices.back() == k - 1) {
        return fmt::format("sample indices 0–{} ({} per problem)", k - 1, k);
    }
    return fmt::format("{} distinct sample indices", k);
}

std::string accuracy_svg(const EvalSummary& summary) {
    LineFigure figure;
    figure.title = "pass@1 against the KV-cache budget (mean ± standard error)";
    struct Group {
        std::string name;
        int64_t problems;
        std::vector<const CellSummary*> cells;
    };
    std::vector<Group> groups;
    for (size_t t = 0; t < summary.tasks.size(); ++t) {
        Group g{summary.tasks[t], summary.task_problems[t], {}};
        for (const CellSummary& c : summary.cells) {
            if (c.task == g.name) g.cells.push_back(&c);
        }
        groups.push_back(std::move(g));
    }
    if (summary.tasks.size() > 1) {
        Group g{"all tasks", summary.problems, {}};
        for (const CellSummary& c : summary.overall) g.cells.push_back(&c);
        groups.push_back(std::move(g));
    }
    std::vector<double> budget_ticks(summary.budgets.begin(), summary.budgets.end());
    for (const auto& [name, problems, cells] : groups) {
        LinePanel panel;
        panel.title = fmt::format("{} ({} problem{})", name, problems, problems == 1 ? "" : "s");
        panel.x.label = "KV budget (tokens, log scale)";
        panel.x.scale = AxisScale::kLog2;
        panel.x.ticks = budget_ticks;
        panel.y.label = "pass@1 (%)";
        panel.y.clamp_min = 0;
        panel.y.clamp_max = 100;
        for (const std::string& policy : summary.policies) {
            PlotSeries series;
            series.label = policy;
            for (const CellSummary* c : cells) {
                if (c->policy != policy || c->samples == 0) continue;
                if (policy == "full") {
                    panel.hlines.push_back(
                        {"full", 100 * c->pass_at_1,
                         std::isfinite(c->pass_at_1_se) ? 100 * c->pass_at_1_se : 0.0, "#333333"});
                } else if (c->budget > 0) {
                    series.points.push_back(
                        {static_cast<double>(c->budget), 100 * c->pass_at_1,
                         std::isfinite(c->pass_at_1_se) ? 100 * c->pass_at_1_se : 0.0});
                }
            }
            if (policy != "full") panel.series.push_back(std::move(series));
        }
        figure.panels.push_back(std::move(panel));
    }
    return render_line_figure(figure);
}

void write_file(const std::string& path, const std::string& text) {
    // Written beside and renamed, so a reader never sees half a file.
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) fail("{}: cannot write", tmp);
        out << text;
        out.close();
        if (!out) fail("{}: write failed", tmp);
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) fail("{}: cannot write ({})", path, ec.message());
}

}  // namespace

EvalSummary summarize_records(const std::vector<nlohmann::json>& records,
                              const std::string& source) {
    if (records.empty()) fail("{}: no records", source);
    std::vector<Sample> samples;
    samples.reserve(records.size());
    for (size_t i = 0; i < records.size(); ++i)
        samples.push_back(parse_sample(records[i], source, i));

    EvalSummary summary;
    summary.source = source;
    summary.records = static_cast<int64_t>(records.size());
    std::vector<std::string> policies;
    std::set<int64_t> budgets, indices;
    std::map<std::string, std::set<int64_t>> policy_budgets;
    for (const Sample& s : samples) {
        if (std::find(summary.tasks.begin(), summary.tasks.end(), s.task) == summary.tasks.end()) {
            summary.tasks.push_back(s.task);
        }
        if (std::find(policies.begin(), policies.end(), s.policy) == policies.end()) {
            policies.push_back(s.policy);
        }
        if (s.budget > 0) budgets.insert(s.budget);
        indices.insert(s.sample);
        policy_budgets[s.policy].insert(s.budget);
    }
    // `full` first: the reference every other row is read against.
    if (auto it = std::find(policies.begin(), policies.end(), "full"); it != policies.end()) {
        policies.erase(it);
        summary.policies.push_back("full");
    }
    summary.policies.insert(summary.policies.end(), policies.begin(), policies.end());
    summary.budgets.assign(budgets.begin(), budgets.end());
    summary.sample_indices.assign(indices.begin(), indices.end());

    // Rows: every (policy, budget) seen anywhere, so every task's table has the same rows.
    std::vector<std::pair<std::string, int64_t>> rows;
    for (const std::string& p : summary.policies) {
        for (int64_t b : policy_budgets[p]) rows.emplace_back(p, b);
    }

    std::map<std::tuple<std::string, std::string, int64_t>, std::vector<const Sample*>> by_cell;
    std::map<std::pair<std::string, int64_t>, std::vector<const Sample*>> by_row;
    std::map<std::string, std::set<std::string>> task_problems;
    std::map<std::string, std::set<int64_t>> task_indices;
    for (const Sample& s : samples) {
        by_cell[{s.task, s.policy, s.budget}].push_back(&s);
        by_row[{s.policy, s.budget}].push_back(&s);
        task_problems[s.task].insert(s.problem_id);
        task_indices[s.task].insert(s.sample);
    }
    for (const std::string& task : summary.tasks) {
        summary.task_problems.push_back(static_cast<int64_t>(task_problems[task].size()));
        summary.problems += summary.task_problems.back();
    }
    std::map<std::pair<std::string, int64_t>, bool> row_complete;
    for (const std::string& task : summary.tasks) {
        const int64_t expected =
            static_cast<int64_t>(task_problems[task].size() * task_indices[task].size());
        for (const auto& [policy, budget] : rows) {
            CellSummary cell;
            cell.task = task;
            cell.policy = policy;
            cell.budget = budget;
            aggregate(by_cell[{task, policy, budget}], cell);
            cell.complete = cell.samples >= expected;
            if (!cell.complete) row_complete[{policy, budget}] = false;
            summary.cells.push_back(std::move(cell));
        }
    }
    for (const auto& [policy, budget] : rows) {
        CellSummary cell;
        cell.policy = policy;
        cell.budget = budget;
        aggregate(by_row[{policy, budget}], cell);
        cell.complete = !row_complete.count({policy, budget});
        summary.overall.push_back(std::move(cell));
    }
    return summary;
}

void write_report(const std::string& dir) {
    const std::string path = dir + "/records.jsonl";
    if (!std::filesystem::is_regular_file(path)) {
        fail("{}: no such file (run `vase eval --out {}` first)", path, dir);
    }
    const std::vector<nlohmann::json> records = read_records(path, /*repair=*/false);
    if (records.empty()) fail("{}: no records yet (no sample has finished)", path);
    const EvalSummary summary = summarize_records(records, path);
    const ValueHistograms hist = collect_histograms(records, summary.policies);

    // report.md
    std::string md = "# vase eval report\n\n";
    std::vector<std::string> budget_names;
    for (int64_t b : summary.budgets) budget_names.push_back(std::to_string(b));
    md += fmt::format(
        "Read {} records from `{}`. Grid: {} task{} ({}) × {} polic{} ({}){}; {}.\n\n",
        summary.records, path, summary.tasks.size(), summary.tasks.size() == 1 ? "" : "s",
        join(summary.tasks), summary.policies.size(), summary.policies.size() == 1 ? "y" : "ies",
        join(summary.policies),
        budget_names.empty() ? "" : fmt::format(" × budgets {}", join(budget_names)),
        sample_text(summary.sample_indices));
    md +=
        "pass@1: the fraction of a problem's samples that are correct, averaged over problems; "
        "± one standard error over the sample index (docs/eval.md). tokens: mean generated "
        "tokens. loop, hit limit: share of samples with a repetition loop / stopped at "
        "--max-tokens. sparsity: mean share of the full cache not attended. eviction passes: "
        "mean per sample.\n\n";
    bool incomplete = false;
    for (const CellSummary& c : summary.overall) incomplete = incomplete || !c.complete;
    if (incomplete) {
        md +=
            "`*` marks an incomplete cell: fewer samples than the task's problems × sample "
            "indices (a run still going, or interrupted; `vase eval` resumes it).\n\n";
    }
    md += "![pass@1 against the KV budget](accuracy_vs_budget.svg)\n\n";
    std::vector<const CellSummary*> rows;
    for (const CellSummary& c : summary.overall) rows.push_back(&c);
    md += fmt::format("## All tasks ({} problems, each weighted equally)\n\n", summary.problems);
    md += markdown_table(rows) + "\n";
    for (size_t t = 0; t < summary.tasks.size(); ++t) {
        rows.clear();
        for (const CellSummary& c : summary.cells) {
            if (c.task == summary.tasks[t]) rows.push_back(&c);
        }
        md += fmt::format("## {} ({} problems)\n\n", summary.tasks[t], summary.task_problems[t]);
        md += markdown_table(rows) + "\n";
    }
    md += "## Value magnitudes\n\n";
    if (hist.used > 0) {
        md += fmt::format(
            "![value ranges per layer](value_magnitude.svg)\n\n{} of {} records carry "
            "`cache.value_range_hist` ({} layers, {} bins); a panel pools every task and budget "
            "of a policy.\n",
            hist.used, summary.records, hist.n_layers, hist.edges.size() - 1);
    } else {
        md += "No record carries `cache.value_range_hist`: value_magnitude.svg was not written.\n";
    }
    if (hist.skipped > 0) {
        md += fmt::format("\n{} histogram{} skipped; the first: {}.\n", hist.skipped,
                          hist.skipped == 1 ? " was" : "s were", hist.first_skip);
    }

    // summary.json
    nlohmann::json j;
    j["source"] = path;
    j["records"] = summary.records;
    j["tasks"] = summary.tasks;
    j["task_problems"] = summary.task_problems;
    j["problems"] = summary.problems;
    j["policies"] = summary.policies;
    j["budgets"] = summary.budgets;
    j["sample_indices"] = summary.sample_indices;
    j["cells"] = nlohmann::json::array();
    for (const CellSummary& c : summary.cells) j["cells"].push_back(cell_json(c));
    j["overall"] = nlohmann::json::array();
    for (const CellSummary& c : summary.overall) j["overall"].push_back(cell_json(c));
    j["value_magnitude"] = {{"plotted", hist.used > 0},
                            {"records_with_histogram", hist.used},
                            {"histograms_skipped", hist.skipped}};

    write_file(dir + "/summary.json", j.dump(2) + "\n");
    write_file(dir + "/accuracy_vs_budget.svg", accuracy_svg(summary));
    if (hist.used > 0) write_file(dir + "/value_magnitude.svg", value_magnitude_svg(hist));
    write_file(dir + "/report.md", md);
}

}  // namespace vase
