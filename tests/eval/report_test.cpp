// write_report on synthetic records with known outcomes: the numbers in
// report.md and summary.json against values worked out by hand (comments give
// the arithmetic), and the SVGs checked for well-formed markup and content.
#include "eval/report.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "util/error.h"

namespace vase {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
  public:
    TempDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        path_ = fs::temp_directory_path() / fmt::format("vase_report_{}_{}_{}", ::getpid(),
                                                        info->test_suite_name(), info->name());
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string str() const { return path_.string(); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    fs::path path_;
};

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_lines(const std::string& path, const std::vector<nlohmann::json>& records) {
    std::ofstream out(path, std::ios::binary);
    for (const auto& r : records) out << r.dump() << "\n";
}

size_t count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t pos = text.find(needle); pos != std::string::npos;
         pos = text.find(needle, pos + 1)) {
        ++n;
    }
    return n;
}

// Checks the markup is balanced XML: every tag closed in order, quoted
// attributes, no stray '<' or unescaped '&'. Returns "" or the first problem.
std::string xml_problem(const std::string& text) {
    std::vector<std::string> open;
    size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        if (c == '&') {
            const size_t semi = text.find(';', i);
            if (semi == std::string::npos || semi - i > 8) return "bare & at " + std::to_string(i);
            i = semi + 1;
            continue;
        }
        if (c == '>') return "stray > at " + std::to_string(i);
        if (c != '<') {
            ++i;
            continue;
        }
        size_t j = i + 1;
        char quote = 0;
        while (j < text.size() && (quote || text[j] != '>')) {
            if (quote && text[j] == quote) {
                quote = 0;
            } else if (!quote && (text[j] == '"' || text[j] == '\'')) {
                quote = text[j];
            } else if (!quote && text[j] == '<') {
                return "'<' inside a tag at " + std::to_string(j);
            }
            ++j;
        }
        if (j >= text.size()) return "unterminated tag at " + std::to_string(i);
        std::string tag = text.substr(i + 1, j - i - 1);
        i = j + 1;
        if (tag.empty()) return "empty tag";
        if (tag[0] == '?' || tag[0] == '!') continue;
        if (tag[0] == '/') {
            const std::string name = tag.substr(1);
            if (open.empty() || open.back() != name) {
                return "</" + name + "> closes <" + (open.empty() ? "" : open.back()) + ">";
            }
            open.pop_back();
            continue;
        }
        if (tag.back() == '/') continue;  // self-closing
        open.push_back(tag.substr(0, tag.find_first_of(" \t\n")));
    }
    if (!open.empty()) return "<" + open.back() + "> never closed";
    return "";
}

// The rows of the first markdown table after `heading`, cells trimmed.
std::vector<std::vector<std::string>> table_after(const std::string& md,
                                                  const std::string& heading) {
    std::vector<std::vector<std::string>> rows;
    size_t pos = md.find(heading + "\n");
    if (pos == std::string::npos) return rows;
    std::istringstream in(md.substr(pos));
    std::string line;
    int seen = 0;
    while (std::getline(in, line)) {
        if (line.rfind("|", 0) != 0) {
            if (seen > 0) break;
            continue;
        }
        ++seen;
        if (seen <= 2) continue;  // header and alignment rows
        std::vector<std::string> cells;
        std::string cell;
        std::istringstream ls(line.substr(1));
        while (std::getline(ls, cell, '|')) {
            const size_t a = cell.find_first_not_of(' ');
            const size_t b = cell.find_last_not_of(' ');
            cells.push_back(a == std::string::npos ? "" : cell.substr(a, b - a + 1));
        }
        rows.push_back(cells);
    }
    return rows;
}

const std::vector<std::string>* find_row(const std::vector<std::vector<std::string>>& rows,
                                         const std::string& policy, const std::string& budget) {
    for (const auto& r : rows) {
        if (r.size() >= 2 && r[0] == policy && r[1] == budget) return &r;
    }
    return nullptr;
}

// Correctness of one cell: [problem][sample].
struct CellData {
    std::string task;
    std::string policy;
    int64_t budget;
    std::vector<std::vector<int>> correct;
};

// The synthetic grid. Tasks alpha (3 problems) and beta (2), samples 0..2;
// beta has no rkv@128 samples at all. Written vase first so the report must
// move `full` to the top itself.
std::vector<CellData> grid() {
    return {
        {"alpha", "vase", 64, {{1, 0, 1}, {1, 1, 0}, {0, 0, 0}}},
        {"alpha", "vase", 128, {{1, 1, 1}, {1, 1, 1}, {0, 0, 0}}},
        {"alpha", "full", 0, {{1, 1, 1}, {1, 0, 1}, {0, 1, 1}}},
        {"alpha", "rkv", 64, {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}}},
        {"alpha", "rkv", 128, {{1, 0, 0}, {0, 1, 0}, {0, 0, 0}}},
        {"beta", "vase", 64, {{0, 1, 0}, {0, 0, 0}}},
        {"beta", "vase", 128, {{1, 1, 1}, {0, 1, 0}}},
        {"beta", "full", 0, {{1, 1, 0}, {1, 0, 0}}},
        {"beta", "rkv", 64, {{1, 0, 0}, {0, 0, 0}}},
    };
}

// Loops only in alpha vase@64: problem 2 samples 0 and 1 (which also hit the
// limit); problem 1 sample 2 hits the limit without a loop.
std::vector<nlohmann::json> grid_records() {
    std::vector<nlohmann::json> records;
    for (const CellData& cell : grid()) {
        const bool marked = cell.task == "alpha" && cell.policy == "vase" && cell.budget == 64;
        for (size_t p = 0; p < cell.correct.size(); ++p) {
            for (size_t s = 0; s < cell.correct[p].size(); ++s) {
                const bool loop = marked && p == 2 && s < 2;
                const bool hit = loop || (marked && p == 1 && s == 2);
                const bool full = cell.policy == "full";
                nlohmann::json cache = {
                    {"policy", cell.policy},
                    {"budget", cell.budget},
                    {"eviction_passes", full ? 0 : cell.budget / 16 + static_cast<int64_t>(p)},
                    {"sparsity", full ? 0.0
                                      : 0.5 + 0.01 * static_cast<double>(s) +
                                            (cell.budget == 128 ? 0.1 : 0.0)}};
                records.push_back({
                    {"task", cell.task},
                    {"problem_id", fmt::format("{}{}", cell.task[0], p)},
                    {"policy", cell.policy},
                    {"budget", cell.budget},
                    {"sample", s},
                    {"seed", 1000 * p + s},
                    {"answer", "1"},
                    {"extracted", cell.correct[p][s] ? "1" : "2"},
                    {"correct", cell.correct[p][s] == 1},
                    {"tokens", 100 + 10 * static_cast<int64_t>(p) + static_cast<int64_t>(s) +
                                   (loop ? 900 : 0)},
                    {"hit_max_tokens", hit},
                    {"loop", loop},
                    {"loop_period", loop ? 7 : 0},
                    {"finish_reason", hit ? "length" : "stop"},
                    {"seconds", 1.5},
                    {"cache", cache},
                    {"completion", "\\boxed{1}"},
                });
            }
        }
    }
    return records;
}

const nlohmann::json* find_cell(const nlohmann::json& cells, const std::string& task,
                                const std::string& policy, int64_t budget) {
    for (const auto& c : cells) {
        if (c.value("task", std::string()) == task && c["policy"] == policy &&
            c["budget"] == budget) {
            return &c;
        }
    }
    return nullptr;
}

class ReportTest : public ::testing::Test {
  protected:
    void SetUp() override {
        write_lines(dir_.file("records.jsonl"), grid_records());
        write_report(dir_.str());
        md_ = read_text(dir_.file("report.md"));
        summary_ = nlohmann::json::parse(read_text(dir_.file("summary.json")));
        svg_ = read_text(dir_.file("accuracy_vs_budget.svg"));
    }
    TempDir dir_;
    std::string md_;
    nlohmann::json summary_;
    std::string svg_;
};

TEST_F(ReportTest, MarkdownPassAtOneMatchesHandArithmetic) {
    // alpha vase@64: per-sample-index accuracies 2/3, 1/3, 1/3 -> mean 4/9 = 44.4%;
    // std(ddof=1) = sqrt((1/81 * (4+1+1)) / 2) = 1/sqrt(27); SE = that / sqrt(3) = 1/9 = 11.1%.
    const auto alpha = table_after(md_, "## alpha (3 problems)");
    ASSERT_EQ(alpha.size(), 5u);
    EXPECT_EQ(alpha[0][0], "full");  // full first although written third
    struct Row {
        const char* policy;
        const char* budget;
        const char* pass;
    };
    // full: accuracies 2/3, 2/3, 1 -> 7/9, SE 1/9. vase@128: 2/3 each -> SE 0.
    // rkv@128: 1/3, 1/3, 0 -> 2/9, SE 1/9.
    for (const Row& r : {Row{"full", "–", "77.8 ± 11.1"}, Row{"vase", "64", "44.4 ± 11.1"},
                         Row{"vase", "128", "66.7 ± 0.0"}, Row{"rkv", "64", "0.0 ± 0.0"},
                         Row{"rkv", "128", "22.2 ± 11.1"}}) {
        const auto* row = find_row(alpha, r.policy, r.budget);
        ASSERT_NE(row, nullptr) << r.policy << " " << r.budget;
        ASSERT_EQ(row->size(), 10u);
        EXPECT_EQ((*row)[2], "3");
        EXPECT_EQ((*row)[3], "9");
        EXPECT_EQ((*row)[4], r.pass) << r.policy << " " << r.budget;
    }
    // beta full: accuracies 1, 1/2, 0 -> 1/2, std 1/2, SE 0.5/sqrt(3) = 28.9%.
    // beta vase@64: 0, 1/2, 0 -> 1/6, std sqrt(1/12), SE 1/6 = 16.7%.
    // beta vase@128: 1/2, 1, 1/2 -> 2/3, SE 1/6.
    const auto beta = table_after(md_, "## beta (2 problems)");
    ASSERT_EQ(beta.size(), 5u);
    EXPECT_EQ((*find_row(beta, "full", "–"))[4], "50.0 ± 28.9");
    EXPECT_EQ((*find_row(beta, "vase", "64"))[4], "16.7 ± 16.7");
    EXPECT_EQ((*find_row(beta, "vase", "128"))[4], "66.7 ± 16.7");
    EXPECT_EQ((*find_row(beta, "rkv", "64"))[4], "16.7 ± 16.7");
    // The cell with no samples keeps its row, with blanks.
    const auto* empty = find_row(beta, "rkv", "128");
    ASSERT_NE(empty, nullptr);
    EXPECT_EQ((*empty)[3], "0");
    EXPECT_EQ((*empty)[4], "–");
    EXPECT_EQ((*empty)[6], "–");
}

TEST_F(ReportTest, MarkdownRatesTokensAndCacheColumns) {
    const auto alpha = table_after(md_, "## alpha (3 problems)");
    const auto* row = find_row(alpha, "vase", "64");
    ASSERT_NE(row, nullptr);
    // tokens: 100 + 10 p + s averages 111 over p, s in 0..2; two loops add 900 each: 311.
    EXPECT_EQ((*row)[5], "311");
    EXPECT_EQ((*row)[6], "22.2%");  // 2 loops of 9
    EXPECT_EQ((*row)[7], "33.3%");  // 3 hit the limit
    EXPECT_EQ((*row)[8], "51.0%");  // 0.5 + 0.01 s
    EXPECT_EQ((*row)[9], "5.0");    // 64 / 16 + p
    const auto* full = find_row(alpha, "full", "–");
    EXPECT_EQ((*full)[6], "0.0%");
    EXPECT_EQ((*full)[8], "0.0%");
}

TEST_F(ReportTest, OverallWeighsProblemsEqually) {
    // full over 5 problems: sample-index accuracies 4/5, 3/5, 3/5 -> 2/3, SE 1/15 = 6.7%.
    // vase@64: 2/5, 2/5, 1/5 -> 1/3, SE 1/15.
    const auto all = table_after(md_, "## All tasks (5 problems, each weighted equally)");
    ASSERT_EQ(all.size(), 5u);
    EXPECT_EQ((*find_row(all, "full", "–"))[4], "66.7 ± 6.7");
    EXPECT_EQ((*find_row(all, "vase", "64"))[4], "33.3 ± 6.7");
    EXPECT_EQ((*find_row(all, "vase", "64"))[6], "13.3%");  // 2 loops of 15
    // rkv@128 exists for alpha only: its pool is alpha's, flagged incomplete.
    EXPECT_EQ((*find_row(all, "rkv", "128"))[3], "9*");
    EXPECT_EQ((*find_row(all, "rkv", "128"))[4], "22.2 ± 11.1");
    EXPECT_NE(md_.find("`*` marks an incomplete cell"), std::string::npos);
}

TEST_F(ReportTest, SummaryJsonHoldsTheSameNumbers) {
    EXPECT_EQ(summary_["records"], 69);  // alpha 5 cells x 9, beta 4 x 6
    EXPECT_EQ(summary_["tasks"], nlohmann::json({"alpha", "beta"}));
    EXPECT_EQ(summary_["task_problems"], nlohmann::json({3, 2}));
    EXPECT_EQ(summary_["problems"], 5);
    EXPECT_EQ(summary_["policies"], nlohmann::json({"full", "vase", "rkv"}));
    EXPECT_EQ(summary_["budgets"], nlohmann::json({64, 128}));
    EXPECT_EQ(summary_["sample_indices"], nlohmann::json({0, 1, 2}));
    const double tol = 1e-12;
    const auto* c = find_cell(summary_["cells"], "alpha", "vase", 64);
    ASSERT_NE(c, nullptr);
    EXPECT_NEAR((*c)["pass_at_1"].get<double>(), 4.0 / 9, tol);
    EXPECT_NEAR((*c)["pass_at_1_se"].get<double>(), 1.0 / 9, tol);
    EXPECT_NEAR((*c)["loop_rate"].get<double>(), 2.0 / 9, tol);
    EXPECT_NEAR((*c)["hit_limit_rate"].get<double>(), 3.0 / 9, tol);
    EXPECT_NEAR((*c)["mean_tokens"].get<double>(), 311, tol);
    EXPECT_NEAR((*c)["mean_sparsity"].get<double>(), 0.51, tol);
    EXPECT_NEAR((*c)["mean_eviction_passes"].get<double>(), 5, tol);
    EXPECT_EQ((*c)["problems"], 3);
    EXPECT_EQ((*c)["samples"], 9);
    EXPECT_EQ((*c)["sample_indices"], 3);
    EXPECT_EQ((*c)["complete"], true);

    c = find_cell(summary_["cells"], "beta", "full", 0);
    ASSERT_NE(c, nullptr);
    EXPECT_NEAR((*c)["pass_at_1"].get<double>(), 0.5, tol);
    EXPECT_NEAR((*c)["pass_at_1_se"].get<double>(), 0.5 / std::sqrt(3.0), tol);

    c = find_cell(summary_["cells"], "beta", "rkv", 128);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ((*c)["samples"], 0);
    EXPECT_TRUE((*c)["pass_at_1"].is_null());
    EXPECT_EQ((*c)["complete"], false);

    c = find_cell(summary_["overall"], "", "full", 0);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ((*c)["problems"], 5);
    EXPECT_NEAR((*c)["pass_at_1"].get<double>(), 2.0 / 3, tol);
    EXPECT_NEAR((*c)["pass_at_1_se"].get<double>(), 1.0 / 15, tol);
    EXPECT_EQ(summary_["value_magnitude"]["plotted"], false);
}

TEST_F(ReportTest, ReportNamesTheGridAndTheMissingHistogram) {
    EXPECT_NE(md_.find("Read 69 records from"), std::string::npos);
    EXPECT_NE(md_.find("2 tasks (alpha, beta) × 3 policies (full, vase, rkv) × budgets 64, 128"),
              std::string::npos)
        << md_;
    EXPECT_NE(md_.find("sample indices 0–2 (3 per problem)"), std::string::npos);
    EXPECT_NE(md_.find("No record carries `cache.value_range_hist`"), std::string::npos);
    EXPECT_FALSE(fs::exists(dir_.file("value_magnitude.svg")));
}

TEST_F(ReportTest, AccuracySvgIsWellFormedWithOneLinePerSeries) {
    ASSERT_EQ(svg_.rfind("<svg", 0), 0u);
    EXPECT_EQ(xml_problem(svg_), "");
    // Panels alpha, beta and all tasks; vase and rkv are lines, full a dashed line.
    EXPECT_EQ(count(svg_, "<polyline class=\"series\""), 6u);
    EXPECT_EQ(count(svg_, "data-label=\"vase\""), 3u);
    EXPECT_EQ(count(svg_, "data-label=\"rkv\""), 3u);
    EXPECT_EQ(count(svg_, "<line class=\"hline\""), 3u);
    EXPECT_EQ(count(svg_, "<g class=\"panel\">"), 3u);
    const size_t legend = svg_.find("<g class=\"legend\">");
    ASSERT_NE(legend, std::string::npos);
    const std::string legend_svg = svg_.substr(legend, svg_.find("</g>", legend) - legend);
    for (const char* label : {">full<", ">vase<", ">rkv<"}) {
        EXPECT_NE(legend_svg.find(label), std::string::npos) << label;
    }
    // Budget ticks, and the plotted values with their error bars (tooltips).
    EXPECT_NE(svg_.find(">64</text>"), std::string::npos);
    EXPECT_NE(svg_.find(">128</text>"), std::string::npos);
    EXPECT_NE(svg_.find("vase: x=64, y=44.44 ± 11.11"), std::string::npos);
    EXPECT_NE(svg_.find("full: 77.78"), std::string::npos);
    EXPECT_EQ(count(svg_, "class=\"errorbar\""), 6u);  // every series has a nonzero SE
}

TEST(Report, SingleSampleUsesTheBinomialError) {
    TempDir dir;
    std::vector<nlohmann::json> records;
    for (int p = 0; p < 4; ++p) {
        records.push_back({{"task", "t"},
                           {"problem_id", std::to_string(p)},
                           {"policy", "vase"},
                           {"budget", 256},
                           {"sample", 0},
                           {"seed", p},
                           {"correct", p == 0}});
    }
    write_lines(dir.file("records.jsonl"), records);
    write_report(dir.str());
    // p = 1/4 over n = 4: sqrt(0.25 * 0.75 / 4) = 0.2165.
    const auto rows = table_after(read_text(dir.file("report.md")), "## t (4 problems)");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0][4], "25.0 ± 21.7");
    EXPECT_EQ(rows[0][5], "–");  // no tokens field in these records
    const std::string svg = read_text(dir.file("accuracy_vs_budget.svg"));
    EXPECT_EQ(xml_problem(svg), "");
    EXPECT_EQ(count(svg, "<polyline class=\"series\""), 1u);  // one task: no pooled panel
    EXPECT_EQ(count(svg, "<line class=\"hline\""), 0u);
    EXPECT_NE(svg.find(">256</text>"), std::string::npos);  // the single budget is a tick
}

TEST(Report, TasksWithDisjointCellsCountEveryProblem) {
    // One task ran only `full`, the other only vase@512: every table keeps both rows.
    TempDir dir;
    std::vector<nlohmann::json> records;
    for (int p = 0; p < 5; ++p) {
        records.push_back({{"task", "a"},
                           {"problem_id", std::to_string(p)},
                           {"policy", "full"},
                           {"budget", 0},
                           {"sample", 0},
                           {"seed", p},
                           {"correct", p < 2}});
        records.push_back({{"task", "b"},
                           {"problem_id", std::to_string(p)},
                           {"policy", "vase"},
                           {"budget", 512},
                           {"sample", 0},
                           {"seed", p},
                           {"correct", p < 4}});
    }
    write_lines(dir.file("records.jsonl"), records);
    write_report(dir.str());
    const std::string md = read_text(dir.file("report.md"));
    const auto all = table_after(md, "## All tasks (10 problems, each weighted equally)");
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0][3], "5*");
    EXPECT_EQ(all[0][4], "40.0 ± 21.9");  // sqrt(0.4 * 0.6 / 5)
    const auto a = table_after(md, "## a (5 problems)");
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[1][0], "vase");
    EXPECT_EQ(a[1][3], "0");
    const std::string svg = read_text(dir.file("accuracy_vs_budget.svg"));
    EXPECT_EQ(xml_problem(svg), "");
    EXPECT_NE(svg.find(">all tasks (10 problems)</text>"), std::string::npos);
}

TEST(Report, ValueHistogramsArePlottedPerPolicy) {
    TempDir dir;
    std::vector<nlohmann::json> records;
    const nlohmann::json edges = {0.25, 0.5, 1, 2, 4};
    for (int s = 0; s < 2; ++s) {
        for (const char* policy : {"full", "vase"}) {
            nlohmann::json hist = {{"edges", edges},
                                   {"layers", {{10, 20, 0, 0}, {0, 5, 5, 30}, {1, 1, 1, 1}}}};
            records.push_back({{"task", "t"},
                               {"problem_id", "0"},
                               {"policy", policy},
                               {"budget", policy[0] == 'f' ? 0 : 64},
                               {"sample", s},
                               {"seed", s},
                               {"correct", true},
                               {"cache", {{"sparsity", 0.0}, {"value_range_hist", hist}}}});
        }
    }
    // A histogram with the wrong number of counts is skipped, not fatal.
    records.push_back(
        {{"task", "t"},
         {"problem_id", "1"},
         {"policy", "vase"},
         {"budget", 64},
         {"sample", 0},
         {"seed", 9},
         {"correct", false},
         {"cache", {{"value_range_hist", {{"edges", edges}, {"layers", {{1, 2}}}}}}}});
    write_lines(dir.file("records.jsonl"), records);
    write_report(dir.str());
    const std::string svg = read_text(dir.file("value_magnitude.svg"));
    ASSERT_EQ(svg.rfind("<svg", 0), 0u);
    EXPECT_EQ(xml_problem(svg), "");
    EXPECT_EQ(count(svg, "<g class=\"panel\">"), 2u);  // full, vase
    EXPECT_NE(svg.find(">full (2 samples)</text>"), std::string::npos);
    EXPECT_NE(svg.find(">vase (2 samples)</text>"), std::string::npos);
    // Non-empty bins per panel: 2 + 3 + 4 = 9, one rect each.
    const size_t cells = svg.find("<g class=\"cells\"");
    ASSERT_NE(cells, std::string::npos);
    EXPECT_EQ(count(svg.substr(cells, svg.find("</g>", cells) - cells), "<rect"), 9u);
    const std::string md = read_text(dir.file("report.md"));
    EXPECT_NE(md.find("4 of 5 records carry `cache.value_range_hist` (3 layers, 4 bins)"),
              std::string::npos)
        << md;
    EXPECT_NE(md.find("1 histogram was skipped; the first: record 5: every layer needs 4 counts"),
              std::string::npos)
        << md;
    const auto summary = nlohmann::json::parse(read_text(dir.file("summary.json")));
    EXPECT_EQ(summary["value_magnitude"]["plotted"], true);
    EXPECT_EQ(summary["value_magnitude"]["histograms_skipped"], 1);
}

TEST(Report, MissingOrEmptyRecordsAreClearErrors) {
    TempDir dir;
    try {
        write_report(dir.str());
        FAIL() << "no records.jsonl must throw";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("records.jsonl: no such file"), std::string::npos)
            << e.what();
    }
    write_lines(dir.file("records.jsonl"), {});
    try {
        write_report(dir.str());
        FAIL() << "an empty records.jsonl must throw";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no records"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dir.file("report.md")));
}

TEST(Report, MalformedRecordsNameTheRecord) {
    TempDir dir;
    nlohmann::json good = {{"task", "t"}, {"problem_id", "0"}, {"policy", "vase"}, {"budget", 64},
                           {"sample", 0}, {"seed", 1},         {"correct", true}};
    nlohmann::json no_correct = good;
    no_correct.erase("correct");
    write_lines(dir.file("records.jsonl"), {good, no_correct});
    try {
        write_report(dir.str());
        FAIL() << "a record without \"correct\" must throw";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("record 2 has no \"correct\""), std::string::npos)
            << e.what();
    }
    nlohmann::json bad_budget = good;
    bad_budget["budget"] = "big";
    write_lines(dir.file("records.jsonl"), {bad_budget});
    EXPECT_THROW(write_report(dir.str()), Error);
    // A torn last line (an eval writing right now) is reported, not repaired.
    {
        std::ofstream out(dir.file("records.jsonl"), std::ios::binary);
        out << good.dump() << "\n{\"task\": \"t\", \"probl";
    }
    EXPECT_THROW(write_report(dir.str()), Error);
}

}  // namespace
}  // namespace vase
