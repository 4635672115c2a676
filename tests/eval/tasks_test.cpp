// The task table and loader: every dataset in data/tasks/ loads with the expected number of
// problems (counted independently with Python when the files were copied), and malformed
// files fail with the file and line in the message.
#include "eval/tasks.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "util/error.h"

namespace vase {
namespace {

const std::string kDataDir = std::string(VASE_SOURCE_DIR) + "/data/tasks";

TEST(Tasks, EveryTaskLoadsWithTheExpectedCount) {
    const std::map<std::string, size_t> expected = {
        {"aime24", 30}, {"aime25", 30}, {"aime26", 30},   {"amc", 40},
        {"hmmt", 60},   {"math", 500},  {"minerva", 272}, {"olympiadbench", 675},
    };
    ASSERT_EQ(task_specs().size(), expected.size());
    for (const TaskSpec& spec : task_specs()) {
        ASSERT_TRUE(expected.count(spec.name)) << spec.name;
        EXPECT_EQ(spec.grader, "math");
        std::vector<Problem> problems = load_task(spec, kDataDir);
        EXPECT_EQ(problems.size(), expected.at(spec.name)) << spec.name;
        std::set<std::string> ids;
        for (const Problem& p : problems) {
            EXPECT_FALSE(p.question.empty()) << spec.name << " " << p.id;
            EXPECT_FALSE(p.answer.empty()) << spec.name << " " << p.id;
            EXPECT_EQ(p.question, std::string(p.question.c_str()));  // no embedded NUL
            EXPECT_TRUE(ids.insert(p.id).second) << spec.name << ": duplicate id " << p.id;
            EXPECT_NE(p.question.back(), '\n');
        }
    }
}

TEST(Tasks, FieldsAndNumbers) {
    std::vector<Problem> aime25 = load_task(find_task("aime25"), kDataDir);
    EXPECT_EQ(aime25[0].id, "0");
    EXPECT_EQ(aime25[0].answer, "70");  // an integer in the file
    std::vector<Problem> amc = load_task(find_task("amc"), kDataDir);
    EXPECT_EQ(amc[0].answer, "27.0");  // a float in the file
    EXPECT_EQ(amc[0].id, "0");
    std::vector<Problem> minerva = load_task(find_task("minerva"), kDataDir);
    EXPECT_EQ(minerva[0].id, "0");  // no id field: the line index
    EXPECT_EQ(minerva[271].id, "271");
    EXPECT_EQ(minerva[0].answer, "1.6");
    std::vector<Problem> math = load_task(find_task("math"), kDataDir);
    EXPECT_EQ(math[0].id, "test/precalculus/807.json");
    EXPECT_EQ(math[0].answer, "\\left( 3, \\frac{\\pi}{2} \\right)");
    std::vector<Problem> aime24 = load_task(find_task("aime24"), kDataDir);
    EXPECT_EQ(aime24[0].id, "60");
    EXPECT_EQ(aime24[0].question.rfind("Every morning Aya", 0), 0u);
}

TEST(Tasks, UnknownTaskNamesTheKnownOnes) {
    try {
        find_task("aime99");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("aime99"), std::string::npos) << m;
        EXPECT_NE(m.find("olympiadbench"), std::string::npos) << m;
    }
}

TEST(Tasks, PaperPrompt) {
    EXPECT_EQ(paper_prompt("What is 1+1?"),
              "What is 1+1?\nPlease reason step by step, and put your final answer within "
              "\\boxed{}.");
}

class MalformedFile : public ::testing::Test {
  protected:
    void write(const std::string& text) {
        dir_ = std::filesystem::temp_directory_path() /
               ("vase_tasks_test_" +
                std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
        std::ofstream(dir_ / "t.jsonl") << text;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string error_of(const TaskSpec& spec) {
        try {
            load_task(spec, dir_.string());
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    }
    TaskSpec spec_{"t", "t.jsonl", "problem", "answer", "id", "math"};
    std::filesystem::path dir_;
};

TEST_F(MalformedFile, BadJsonNamesFileAndLine) {
    write("{\"problem\": \"a\", \"answer\": \"1\", \"id\": \"0\"}\n\n{\"problem\": oops}\n");
    std::string m = error_of(spec_);
    EXPECT_NE(m.find("t.jsonl:3:"), std::string::npos) << m;
    EXPECT_NE(m.find("invalid JSON"), std::string::npos) << m;
}

TEST_F(MalformedFile, MissingFieldNamesIt) {
    write(
        "{\"problem\": \"a\", \"answer\": \"1\", \"id\": \"0\"}\n{\"problem\": \"b\", \"id\": "
        "\"1\"}\n");
    std::string m = error_of(spec_);
    EXPECT_NE(m.find("t.jsonl:2:"), std::string::npos) << m;
    EXPECT_NE(m.find("\"answer\""), std::string::npos) << m;
}

TEST_F(MalformedFile, NotAnObjectOrWrongType) {
    write("[1, 2]\n");
    EXPECT_NE(error_of(spec_).find("t.jsonl:1: expected a JSON object"), std::string::npos);
    write("{\"problem\": [\"a\"], \"answer\": \"1\", \"id\": \"0\"}\n");
    std::string m = error_of(spec_);
    EXPECT_NE(m.find("t.jsonl:1:"), std::string::npos) << m;
    EXPECT_NE(m.find("\"problem\""), std::string::npos) << m;
}

TEST_F(MalformedFile, EmptyAndMissingFiles) {
    write("\n\n");
    EXPECT_NE(error_of(spec_).find("no problems"), std::string::npos);
    TaskSpec missing = spec_;
    missing.file = "absent.jsonl";
    EXPECT_NE(error_of(missing).find("absent.jsonl: cannot open"), std::string::npos);
}

TEST_F(MalformedFile, LastLineWithoutNewlineAndBlankLines) {
    write(
        "\n{\"problem\": \"  a \", \"answer\": 3, \"id\": 7}\n\n{\"problem\": \"b\", \"answer\": "
        "\"x\", "
        "\"id\": \"8\"}");
    std::vector<Problem> p = load_task(spec_, dir_.string());
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0].question, "a");
    EXPECT_EQ(p[0].answer, "3");
    EXPECT_EQ(p[0].id, "7");
    EXPECT_EQ(p[1].id, "8");
}

}  // namespace
}  // namespace vase
