// `vase grade` end to end: tests/data/grade_cases.jsonl through the built binary; each
// line's "correct" must equal its "expected", other fields pass through in order, and
// malformed input fails with the file and line.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

const std::string kCases = std::string(VASE_SOURCE_DIR) + "/tests/data/grade_cases.jsonl";

struct Outcome {
    int status;
    std::string out;
    std::string err;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// 'text' for the shell (built by appending: GCC 12 warns falsely on "lit" + string).
std::string quote(const std::string& text) {
    std::string q = "'";
    q += text;
    q += "'";
    return q;
}

class CmdGrade : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(fs::exists(VASE_BINARY)) << "build the vase binary first: " << VASE_BINARY;
        dir_ = fs::temp_directory_path() /
               ("vase_cmd_grade_" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
                std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // Runs `vase grade ARGS` through the shell (ARGS are trusted test strings).
    Outcome grade(const std::string& args) {
        fs::path out = dir_ / "out.txt";
        fs::path err = dir_ / "err.txt";
        std::string cmd = quote(VASE_BINARY);
        cmd += " grade ";
        cmd += args;
        cmd += " >";
        cmd += quote(out.string());
        cmd += " 2>";
        cmd += quote(err.string());
        int raw = std::system(cmd.c_str());
        return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(out), slurp(err)};
    }

    fs::path write(const std::string& name, const std::string& text) {
        fs::path p = dir_ / name;
        std::ofstream(p, std::ios::binary) << text;
        return p;
    }

    fs::path dir_;
};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream ss(text);
    std::string line;
    while (std::getline(ss, line))
        if (!line.empty()) out.push_back(line);
    return out;
}

TEST_F(CmdGrade, CasesFileGradesAsExpected) {
    Outcome r = grade(quote(kCases));
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> in = lines_of(slurp(kCases));
    std::vector<std::string> out = lines_of(r.out);
    ASSERT_EQ(out.size(), in.size());
    ASSERT_GE(in.size(), 40u);
    for (size_t i = 0; i < in.size(); ++i) {
        Json a = Json::parse(in[i]);
        Json b = Json::parse(out[i]);
        // Same fields, same order, then the two added ones.
        std::vector<std::string> keys_in, keys_out;
        for (auto it = a.begin(); it != a.end(); ++it) keys_in.push_back(it.key());
        for (auto it = b.begin(); it != b.end(); ++it) keys_out.push_back(it.key());
        keys_in.push_back("extracted");
        keys_in.push_back("correct");
        EXPECT_EQ(keys_out, keys_in) << in[i];
        for (auto it = a.begin(); it != a.end(); ++it)
            EXPECT_EQ(b[it.key()], it.value()) << it.key();
        EXPECT_EQ(b["correct"], a["expected"]) << "case " << a["n"] << " (" << a["note"] << ")\n"
                                               << "extracted: " << b["extracted"];
        EXPECT_TRUE(b["extracted"].is_string());
    }
}

TEST_F(CmdGrade, StdinGivesTheSameOutput) {
    Outcome file = grade(quote(kCases));
    Outcome piped = grade("- <" + quote(kCases));
    ASSERT_EQ(piped.status, 0) << piped.err;
    EXPECT_EQ(piped.out, file.out);
}

TEST_F(CmdGrade, BoxedOnlyFlag) {
    fs::path p =
        write("in.jsonl", "{\"completion\": \"the final answer is 5\", \"answer\": \"5\"}\n");
    Outcome normal = grade(quote(p.string()));
    Outcome boxed = grade("--boxed-only " + quote(p.string()));
    ASSERT_EQ(normal.status, 0);
    ASSERT_EQ(boxed.status, 0);
    EXPECT_EQ(Json::parse(normal.out)["correct"], true);
    EXPECT_EQ(Json::parse(boxed.out)["correct"], false);
    EXPECT_EQ(Json::parse(boxed.out)["extracted"], "");
}

TEST_F(CmdGrade, MalformedLinesFailWithFileAndLine) {
    const std::string good =
        "{\"task\": \"math\", \"completion\": \"\\\\boxed{1}\", \"answer\": \"1\"}\n";
    struct Bad {
        std::string line;
        std::string message;
    };
    const Bad bads[] = {
        {"{\"completion\": \"x\", \"answer\": ", "invalid JSON"},
        {"[1,2]", "expected a JSON object"},
        {"{\"answer\": \"1\"}", "\"completion\""},
        {"{\"completion\": \"x\"}", "\"answer\""},
        {"{\"completion\": \"x\", \"answer\": [1]}", "\"answer\""},
        {"{\"task\": \"nosuchtask\", \"completion\": \"x\", \"answer\": \"1\"}", "nosuchtask"},
        {"{\"task\": 3, \"completion\": \"x\", \"answer\": \"1\"}", "\"task\""},
    };
    for (const Bad& bad : bads) {
        fs::path p = write("bad.jsonl", good + "\n" + bad.line + "\n" + good);
        Outcome r = grade(quote(p.string()));
        EXPECT_NE(r.status, 0) << bad.line;
        EXPECT_NE(r.err.find(p.string() + ":3:"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(bad.message), std::string::npos) << r.err;
    }
    Outcome missing = grade(quote((dir_ / "absent.jsonl").string()));
    EXPECT_NE(missing.status, 0);
    EXPECT_NE(missing.err.find("absent.jsonl: cannot open"), std::string::npos) << missing.err;
}

}  // namespace
