// The testbed's table-walk task (eval/testbed.h) against the format file
// (docs/testbed_format.md): the worked example written out by hand, the
// structure of generated tables (one cycle, the first K keys, uniform digits)
// checked by parsing the question text independently of the solver,
// determinism, refusals, the step checker, and the generated eval tasks.
#include "eval/testbed.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "eval/grader.h"
#include "eval/tasks.h"
#include "util/error.h"

namespace vase {
namespace {

const std::string kKeys = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

// The example of the format file, its lines copied from there.
const char* const kExampleQuestion = "Start at c. Take 5 steps.\n:cb7 :ba0 :ad4 :dc9";

TEST(TableWalk, SolverReproducesTheFormatFileExample) {
    const TableWalkProblem p = solve_table_walk(kExampleQuestion);
    EXPECT_EQ(p.question, kExampleQuestion);
    EXPECT_EQ(p.solution,
              (std::vector<std::string>{"1:cb7=7", "2:ba0=7", "3:ad4=1", "4:dc9=0", "5:cb7=7"}));
    EXPECT_EQ(p.answer, "7");
    EXPECT_EQ(solution_text(p), "1:cb7=7\n2:ba0=7\n3:ad4=1\n4:dc9=0\n5:cb7=7\n");
    EXPECT_EQ(assistant_turn(p),
              "<think>\n1:cb7=7\n2:ba0=7\n3:ad4=1\n4:dc9=0\n5:cb7=7\n</think>\n\n\\boxed{7}"
              "<|im_end|>");
}

TEST(TableWalk, StepNumbersAndSumsPastTen) {
    // Two keys, each adding 9: sums 9, 8, 7, ... and steps with two and three digits.
    const TableWalkProblem p = solve_table_walk("Start at b. Take 120 steps.\n:ab9 :ba9");
    ASSERT_EQ(p.solution.size(), 120u);
    EXPECT_EQ(p.solution[0], "1:ba9=9");
    EXPECT_EQ(p.solution[1], "2:ab9=8");
    EXPECT_EQ(p.solution[9], "10:ab9=0");
    EXPECT_EQ(p.solution[99], "100:ab9=0");
    EXPECT_EQ(p.solution[119], "120:ab9=0");
    EXPECT_EQ(p.answer, "0");
}

// The table as the question text lists it, parsed here without the solver.
struct ParsedTable {
    char start = 0;
    int steps = 0;
    std::vector<std::string> entries;  // ":xyd" in listed order
    std::map<char, char> next;
    std::map<char, int> digit;
};

ParsedTable parse_for_test(const std::string& q) {
    ParsedTable t;
    const size_t nl = q.find('\n');
    const std::string head = q.substr(0, nl);
    EXPECT_EQ(head.rfind("Start at ", 0), 0u) << head;
    t.start = head[9];
    EXPECT_EQ(head.substr(10, 7), ". Take ") << head;
    const size_t steps_end = head.find(" steps.");
    EXPECT_EQ(steps_end + 7, head.size()) << head;
    t.steps = std::stoi(head.substr(17, steps_end - 17));
    EXPECT_EQ(std::to_string(t.steps), head.substr(17, steps_end - 17));  // no leading zeros
    std::string rest = q.substr(nl + 1);
    size_t pos = 0;
    while (pos <= rest.size()) {
        size_t sp = rest.find(' ', pos);
        if (sp == std::string::npos) sp = rest.size();
        const std::string e = rest.substr(pos, sp - pos);
        EXPECT_EQ(e.size(), 4u) << e;
        EXPECT_EQ(e[0], ':') << e;
        t.entries.push_back(e);
        t.next[e[1]] = e[2];
        t.digit[e[1]] = e[3] - '0';
        pos = sp + 1;
    }
    return t;
}

TEST(TableWalk, GeneratedTablesAreOneCycleOverTheFirstKKeys) {
    std::vector<int> digit_counts(10, 0);
    std::map<char, int> start_counts;
    int total_digits = 0;
    for (int keys : {2, 3, 7, 16, 32, 52}) {
        for (uint64_t seed = 0; seed < 200; ++seed) {
            const int steps = 1 + static_cast<int>(seed * 7 % 300);
            const TableWalkProblem p = make_table_walk({keys, steps}, seed);
            ASSERT_NE(p.question.back(), '\n');
            const ParsedTable t = parse_for_test(p.question);
            ASSERT_EQ(t.steps, steps);
            ASSERT_EQ(static_cast<int>(t.entries.size()), keys) << p.question;
            // The listed keys are exactly the first K letters, each once.
            std::set<char> listed;
            for (const std::string& e : t.entries) listed.insert(e[1]);
            ASSERT_EQ(listed, std::set<char>(kKeys.begin(), kKeys.begin() + keys)) << p.question;
            ASSERT_TRUE(listed.count(t.start)) << p.question;
            // Following next from the start visits every key once and comes back after K.
            std::set<char> visited;
            char x = t.start;
            for (int i = 0; i < keys; ++i) {
                ASSERT_TRUE(visited.insert(x).second)
                    << "key " << x << " revisited in " << p.question;
                x = t.next.at(x);
            }
            ASSERT_EQ(x, t.start) << p.question;
            // The solution walks that table.
            ASSERT_EQ(static_cast<int>(p.solution.size()), steps);
            x = t.start;
            int sum = 0;
            for (int i = 0; i < steps; ++i) {
                sum = (sum + t.digit.at(x)) % 10;
                const std::string line = std::to_string(i + 1) + ":" + x + t.next.at(x) +
                                         std::to_string(t.digit.at(x)) + "=" + std::to_string(sum);
                ASSERT_EQ(p.solution[static_cast<size_t>(i)], line) << p.question;
                x = t.next.at(x);
            }
            ASSERT_EQ(p.answer, std::to_string(sum));
            // And the solver, given only the text, agrees.
            const TableWalkProblem solved = solve_table_walk(p.question);
            ASSERT_EQ(solved.solution, p.solution);
            ASSERT_EQ(solved.answer, p.answer);
            if (keys == 32) {
                for (const auto& [key, d] : t.digit) ++digit_counts[static_cast<size_t>(d)];
                total_digits += keys;
                ++start_counts[t.start];
            }
        }
    }
    // Digits uniform over 0..9: 6400 draws, each digit 10% +- 1.5% (over 4 standard deviations).
    for (int d = 0; d < 10; ++d) {
        const double share =
            static_cast<double>(digit_counts[static_cast<size_t>(d)]) / total_digits;
        EXPECT_NEAR(share, 0.1, 0.015) << "digit " << d;
    }
    // Starts spread over the keys: 200 draws over 32 keys reach most of them.
    EXPECT_GE(start_counts.size(), 25u);
}

TEST(TableWalk, EntriesAreListedInTheWalksOrder) {
    // The first entry is the start key's, each next one the entry of the key the
    // previous one points to; the cycle itself is random (alphabetical for K = 32
    // by chance is ~1e-35).
    for (uint64_t seed = 0; seed < 20; ++seed) {
        const ParsedTable t = parse_for_test(make_table_walk({32, 64}, seed).question);
        ASSERT_EQ(t.entries.size(), 32u);
        EXPECT_EQ(t.entries[0][1], t.start) << seed;
        bool alphabetical = true;
        for (size_t i = 1; i < t.entries.size(); ++i) {
            alphabetical &= kKeys.find(t.entries[i - 1][1]) < kKeys.find(t.entries[i][1]);
            EXPECT_EQ(t.entries[i - 1][2], t.entries[i][1]) << seed << " entry " << i;
        }
        EXPECT_FALSE(alphabetical) << seed;
    }
}

TEST(TableWalk, SameSeedSameProblemOtherSeedsDiffer) {
    std::set<std::string> questions;
    for (uint64_t seed = 0; seed < 100; ++seed) {
        const TableWalkProblem a = make_table_walk({32, 64}, seed);
        const TableWalkProblem b = make_table_walk({32, 64}, seed);
        EXPECT_EQ(a.question, b.question);
        EXPECT_EQ(a.solution, b.solution);
        EXPECT_EQ(a.answer, b.answer);
        questions.insert(a.question);
    }
    EXPECT_EQ(questions.size(), 100u);
    // The table does not depend on N: only the step count in the text changes.
    const std::string q64 = make_table_walk({16, 64}, 5).question;
    const std::string q9 = make_table_walk({16, 9}, 5).question;
    EXPECT_EQ(q64.substr(q64.find('\n')), q9.substr(q9.find('\n')));
}

TEST(TableWalk, BadParametersAreRefused) {
    for (const auto& [keys, steps, word] :
         std::vector<std::tuple<int, int, std::string>>{{1, 10, "keys"},
                                                        {53, 10, "keys"},
                                                        {0, 10, "keys"},
                                                        {-3, 10, "keys"},
                                                        {8, 0, "steps"},
                                                        {8, 1000, "steps"},
                                                        {8, -1, "steps"}}) {
        try {
            make_table_walk({keys, steps}, 1);
            ADD_FAILURE() << "K=" << keys << " N=" << steps << " accepted";
        } catch (const Error& e) {
            const std::string m = e.what();
            EXPECT_NE(m.find(word), std::string::npos) << m;
            EXPECT_NE(m.find(std::to_string(word == "keys" ? keys : steps)), std::string::npos)
                << m;
        }
    }
    EXPECT_NO_THROW(make_table_walk({2, 1}, 0));
    EXPECT_NO_THROW(make_table_walk({52, 999}, 0));
}

TEST(TableWalk, MalformedQuestionsAreRefused) {
    for (const char* q : {
             "",
             "Start at c. Take 5 steps.",                     // no table
             "Start at c. Take 5 steps.\n",                   // empty table
             "Start at c. Take 05 steps.\n:ab1 :ba2 :ca3",    // leading zero
             "Start at c. Take 1000 steps.\n:ab1 :ba2 :ca3",  // N too large
             "Start at c. Take 0 steps.\n:ab1 :ba2 :ca3",     // N too small
             "Start at c. Take 5 steps.\n:ab1 :ba2 :ca3 ",    // trailing space
             "Start at c. Take 5 steps.\n:ab1  :ba2 :ca3",    // double space
             "Start at c. Take 5 steps.\n:ab1 :ba2 :ca3\n",   // trailing newline
             "Start at c. Take 5 steps.\n:ab1 :ac2 :ca3",     // a listed twice
             "Start at c. Take 5 steps.\n:ab1 :bd2 :ca3",     // d is not among 3 keys
             "Start at e. Take 5 steps.\n:ab1 :bc2 :ca3",     // start outside the table
             "Start at c. Take 5 steps.\n:ab1 :b-2 :ca3",     // not :xyd
             "Start at c. Take 5 steps.\na>b1 b>c2 c>a3",     // an earlier format
             "Start at c. Take 5 steps.\nab1 bc2 ca3",        // no colons
             "Start at c. Take 5 steps.\n:abx :bc2 :ca3",     // digit missing
             "Start at 1. Take 5 steps.\n:ab1 :bc2 :ca3",     // start not a key
             "Start at c. Take 5 steps.\n:ab",                // cut short
             "Start at c. Take 5 steps.\n:ab1",               // one key
             "Start at a. Take 5 steps.\n:aa1 :bb2",          // two cycles
             "Start at a. Take 5 steps.\n:ab1 :bb2 :ca3",     // not a permutation
         }) {
        EXPECT_THROW(solve_table_walk(q), Error) << q;
    }
}

TEST(TableWalk, CheckerCountsLeadingCorrectSteps) {
    const TableWalkProblem p = solve_table_walk(kExampleQuestion);
    const std::string all = solution_text(p);
    EXPECT_EQ(check_table_walk(p, all).correct_steps, 5);
    EXPECT_EQ(check_table_walk(p, all).first_deviation(), 0);
    EXPECT_EQ(check_table_walk(p, all).steps, 5);
    // As split_reasoning returns it (no trailing newline), and with the tag.
    EXPECT_EQ(check_table_walk(p, all.substr(0, all.size() - 1)).correct_steps, 5);
    EXPECT_EQ(check_table_walk(p, "<think>\n" + all + "</think>").correct_steps, 5);
    // A wrong sum at step 3 stops the count there even if later lines are right again.
    const std::string wrong3 = "1:cb7=7\n2:ba0=7\n3:ad4=2\n4:dc9=0\n5:cb7=7\n";
    EXPECT_EQ(check_table_walk(p, wrong3).correct_steps, 2);
    EXPECT_EQ(check_table_walk(p, wrong3).first_deviation(), 3);
    EXPECT_EQ(check_table_walk(p, wrong3).deviating_line, "3:ad4=2");
    EXPECT_EQ(check_table_walk(p, all).deviating_line, "");
    EXPECT_EQ(check_table_walk(p, "1:cb7=7\n2:ba0=7").deviating_line, "");
    // A wrong next key at step 1.
    EXPECT_EQ(check_table_walk(p, "1:ca7=7\n2:ba0=7\n").correct_steps, 0);
    EXPECT_EQ(check_table_walk(p, "1:ca7=7\n2:ba0=7\n").first_deviation(), 1);
    // Stopped early, or cut in the middle of a line.
    EXPECT_EQ(check_table_walk(p, "1:cb7=7\n2:ba0=7\n").correct_steps, 2);
    EXPECT_EQ(check_table_walk(p, "1:cb7=7\n2:ba0=7\n3:ad4=").correct_steps, 2);
    EXPECT_EQ(check_table_walk(p, "1:cb7=7\n2:ba0=7\n3:ad4=").first_deviation(), 3);
    // Extra text after the N steps does not matter; text before them does.
    EXPECT_EQ(check_table_walk(p, all + "so the answer is 7").correct_steps, 5);
    EXPECT_EQ(check_table_walk(p, "Let me walk.\n" + all).correct_steps, 0);
    EXPECT_EQ(check_table_walk(p, "").correct_steps, 0);
    EXPECT_EQ(check_table_walk(p, "1:cb7=7\r\n2:ba0=7\r\n").correct_steps, 2);
}

TEST(TableWalk, TheMathGraderGradesTheAnswer) {
    const TableWalkProblem p = make_table_walk({32, 64}, 11);
    EXPECT_TRUE(grade_math(assistant_turn(p), p.answer).correct);
    const std::string other = std::to_string((std::stoi(p.answer) + 1) % 10);
    EXPECT_FALSE(grade_math(assistant_turn(p), other).correct);
}

TEST(TestbedTasks, GeneratedTasksAreRegistered) {
    const std::map<std::string, std::pair<int, int>> sizes = {
        {"testbed", {32, 64}}, {"testbed-short", {16, 24}}, {"testbed-long", {52, 256}}};
    ASSERT_EQ(generated_task_specs().size(), sizes.size());
    std::set<std::string> first_questions;
    for (const auto& [name, kn] : sizes) {
        const TaskSpec& spec = find_task(name);
        EXPECT_TRUE(spec.generated());
        EXPECT_EQ(spec.grader, "math");
        EXPECT_EQ(spec.count, 1000);
        // No data file: load_task ignores the directory.
        const std::vector<Problem> problems = load_task(spec, "/nonexistent");
        ASSERT_EQ(problems.size(), 1000u);
        std::set<std::string> questions;
        for (size_t i = 0; i < problems.size(); ++i) {
            EXPECT_EQ(problems[i].id, std::to_string(i));
            questions.insert(problems[i].question);
        }
        EXPECT_EQ(questions.size(), 1000u) << name;
        first_questions.insert(problems[0].question);
        // Problem i is the generator's problem of the seed of (name, i) and has K, N of the task.
        for (int64_t i : {0, 1, 999}) {
            const TableWalkProblem p = generated_problem(spec, i);
            const Problem& row = problems[static_cast<size_t>(i)];
            EXPECT_EQ(p.question, row.question);
            EXPECT_EQ(p.answer, row.answer);
            EXPECT_EQ(
                p.question,
                make_table_walk({kn.first, kn.second}, generated_problem_seed(name, i)).question);
            const ParsedTable t = parse_for_test(p.question);
            EXPECT_EQ(static_cast<int>(t.entries.size()), kn.first);
            EXPECT_EQ(t.steps, kn.second);
        }
        EXPECT_THROW(generated_problem(spec, 1000), Error);
        EXPECT_THROW(generated_problem(spec, -1), Error);
    }
    EXPECT_EQ(first_questions.size(), sizes.size());
    // The seed depends on the name and index only.
    EXPECT_EQ(generated_problem_seed("testbed", 3), generated_problem_seed("testbed", 3));
    EXPECT_NE(generated_problem_seed("testbed", 3), generated_problem_seed("testbed", 4));
    EXPECT_NE(generated_problem_seed("testbed", 3), generated_problem_seed("testbed-short", 3));
    // File tasks stay as they were and are not generated.
    EXPECT_FALSE(find_task("aime25").generated());
    EXPECT_THROW(generated_problem(find_task("aime25"), 0), Error);
}

TEST(TestbedTasks, UnknownTaskListsGeneratedOnes) {
    try {
        find_task("testbed-huge");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("testbed-long"), std::string::npos) << m;
        EXPECT_NE(m.find("aime25"), std::string::npos) << m;
    }
}

}  // namespace
}  // namespace vase
