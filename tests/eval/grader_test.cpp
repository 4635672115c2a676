// Table-driven tests of the math grader: one row per rule of docs/grading.md, plus
// negative rows (different answers must stay different) and robustness checks.
#include "eval/grader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "eval/tasks.h"
#include "util/rng.h"

namespace vase {
namespace {

struct ExtractCase {
    const char* completion;
    const char* expected;
};

const ExtractCase kExtractCases[] = {
    // Boxes: the last one wins; nested braces; \fbox; "\boxed x".
    {"So the answer is \\boxed{5}.", "5"},
    {"First \\boxed{3}, then corrected: \\boxed{4}", "4"},
    {"\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"},
    {"$\\boxed{\\left(\\frac{1}{2}, \\sqrt{3}\\right)}$", "\\left(\\frac{1}{2}, \\sqrt{3}\\right)"},
    {"\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"},
    {"answer \\fbox{7} done", "7"},
    {"\\boxed{2} and later \\fbox{9}", "9"},
    {"\\fbox{2} and later \\boxed{8}", "8"},
    {"thus $\\boxed 42$.", "42"},
    {"\\boxed {12}", "12"},
    {"\\boxed{ 12 }", "12"},
    {"\\boxed{\\text{(B)}}", "\\text{(B)}"},
    {"x \\boxed{a^{b^{c}}} y", "a^{b^{c}}"},
    // A malformed or empty last box falls back to the previous good one.
    {"\\boxed{3} then \\boxed{4", "3"},
    {"\\boxed{3} then \\boxed{}", "3"},
    {"\\boxed{3} then \\boxedfoo{5}", "3"},
    // Fallbacks without a box.
    {"The final answer is 17.", "17"},
    {"The answer is $\\frac{3}{4}$. Done.", "\\frac{3}{4}"},
    {"**Answer:** 3.5", "3.5"},
    {"Answer: x = 2\nmore text", "x = 2"},
    {"We get 3 apples and then 5 pears", "5"},
    {"total is 1,234 dollars", "1,234"},
    {"the ratio is 3/4", "3/4"},
    {"it is -7", "-7"},
    {"<think>maybe 5</think>The result is 12", "12"},
    {"<think>the answer is 5 and 6 and 7", ""},  // stopped while thinking: no fallback
    {"<think>...</think>\\boxed{8}", "8"},
    {"<think>\\boxed{5} hmm", "5"},  // boxes count anywhere
    {"no numbers here", ""},
    {"", ""},
};

TEST(ExtractAnswer, Table) {
    for (const ExtractCase& c : kExtractCases) {
        EXPECT_EQ(extract_answer(c.completion), c.expected) << "completion: " << c.completion;
    }
}

TEST(ExtractAnswer, BoxedOnlyIgnoresFallbacks) {
    ExtractOptions boxed_only;
    boxed_only.fallbacks = false;
    EXPECT_EQ(extract_answer("The answer is 5.", boxed_only), "");
    EXPECT_EQ(extract_answer("last number 9", boxed_only), "");
    EXPECT_EQ(extract_answer("so \\boxed{6}", boxed_only), "6");
}

struct EquivCase {
    const char* a;
    const char* b;
    bool equal;
};

const EquivCase kEquivCases[] = {
    // Integers.
    {"45", "45", true},
    {"045", "45", true},
    {"0", "000", true},
    {"1,000", "1000", true},
    {"1,000,000", "1000000", true},
    {"1{,}000", "1000", true},
    {"1\\,000", "1000", true},
    {"10,\\!080", "10080", true},
    {"11,\\! 111,\\! 111,\\! 100", "11111111100", true},
    {"\\$32,\\!348", "32348", true},
    {"-5", "-5", true},
    {"- 5", "-5", true},
    {"\xE2\x88\x92"
     "5",
     "-5", true},  // unicode minus
    {"12", "120", false},
    {"45", "54", false},
    {"-5", "5", false},
    {"1000000000000000000001", "1000000000000000000000", false},  // exact for big integers
    {"27.0", "27", true},
    {"27.00", "27", true},
    {"5.", "5", true},
    // Decimals.
    {"0.5", ".5", true},
    {"0.35625", ".35625", true},
    {"3.14", "3.15", false},
    {"0.1", "0.01", false},
    {"-0.75", "-\\frac{3}{4}", true},
    {"0.3333", "\\frac{1}{3}", true},  // within 1e-4 relative
    {"0.33", "\\frac{1}{3}", false},
    {"3.1416", "\\pi", true},
    {"3.14", "\\pi", false},
    {"1.6", "1.61", true},  // the more precise decimal rounds to the coarser one
    {"1.6", "1.64", true},
    {"1.6", "1.66", false},
    {"4.4e7", "4.42 \\times 10^7", true},
    {"0.3", "0.33", false},  // one significant digit: no rounding rule
    {"2.5", "2.50", true},
    // Scientific notation.
    {"4.4e7", "4.4 \\times 10^{7}", true},
    {"4.4e7", "44000000", true},
    {"5.3e-9", "5.3 \\cdot 10^{-9}", true},
    {"1e11", "10^{11}", true},
    {"1.325e-27", "1.325\\times10^{-27}", true},
    {"4.4e7", "4.4e8", false},
    {"3 \\times 10^8", "3e8", true},
    // Fractions.
    {"\\frac{1}{2}", "0.5", true},
    {"\\frac{1}{2}", "1/2", true},
    {"\\dfrac12", "\\frac{1}{2}", true},
    {"\\tfrac{1}{2}", "0.5", true},
    {"\\frac12", "0.5", true},
    {"\\frac{2}{4}", "\\frac{1}{2}", true},
    {"\\frac{1}{2}", "\\frac{1}{3}", false},
    {"1/2", "1/3", false},
    {"\\frac{3}{2}", "1.5", true},
    {"\\frac{-3}{4}", "-\\frac34", true},
    {"\\frac{2025}{101}", "2025/101", true},
    {"91/6", "\\frac{91}{6}", true},
    {"\\frac{1}{91}", "1/91", true},
    {"\\frac{a}{b}", "a/b", true},
    // Mixed numbers.
    {"2\\frac{1}{2}", "\\frac{5}{2}", true},
    {"2\\frac12", "2.5", true},
    {"-1\\frac{1}{4}", "-1.25", true},
    {"2\\frac{\\sqrt{3}}{3}", "\\frac{2\\sqrt3}{3}", true},  // not a mixed number: a product
    // LaTeX noise.
    {"\\left( 1, 2 \\right)", "(1,2)", true},
    {"\\!5", "5", true},
    {"5\\,", "5", true},
    {"\\;5\\;", "5", true},
    {"\\text{5}", "5", true},
    {"\\mathrm{5}", "5", true},
    {"\\textbf{5}", "5", true},
    {"\\mathbf{12}", "12", true},
    {"$5$", "5", true},
    {"\\(5\\)", "5", true},
    {"\\displaystyle\\frac{1}{2}", "0.5", true},
    {"\\boxed{5}", "5", true},
    // Degrees.
    {"90^\\circ", "90", true},
    {"90^{\\circ}", "90", true},
    {"90\xC2\xB0", "90", true},
    {"90 degrees", "90", true},
    {"45^\\circ", "90^\\circ", false},
    // Units and money.
    {"10\\text{ cm}", "10", true},
    {"10 cm", "10", true},
    {"6.5 \\mathrm{~m}", "6.5", true},
    {"12\\text{ square units}", "12", true},
    {"12 \\text{ cm}^2", "12", true},
    {"5 dollars", "5", true},
    {"\\$5", "5", true},
    {"\\$1,000", "1000", true},
    {"5 miles per hour", "5", true},
    {"7 inches", "7", true},
    {"3 hours", "4", false},
    {"10\\text{ cm}", "100", false},
    // Percentages: "X%" matches X and X/100; bare numbers are not scaled.
    {"50\\%", "0.5", true},
    {"50\\%", "50", true},
    {"50%", "\\frac{1}{2}", true},
    {"50 percent", "50", true},
    {"0.5", "50", false},
    {"50\\%", "5", false},
    {"12.5\\%", "0.125", true},
    // Roots.
    {"\\sqrt{2}", "2^{1/2}", true},
    {"\\sqrt2", "\\sqrt{2}", true},
    {"\\sqrt{8}", "2\\sqrt{2}", true},
    {"\\sqrt[3]{8}", "2", true},
    {"\\sqrt{2}", "\\sqrt{3}", false},
    {"\\sqrt{23}-2 \\sqrt{3}", "-2\\sqrt3+\\sqrt{23}", true},
    {"\\frac{\\sqrt{21}}{5}", "\\sqrt{21}/5", true},
    {"\\sqrt{51}", "\\sqrt{15}", false},
    {"\xE2\x88\x9A"
     "2",
     "\\sqrt{2}", true},  // unicode root
    // Pi.
    {"2\\pi", "2 \\pi", true},
    {"2\\pi", "\\pi*2", true},
    {"2\\pi", "\\pi \\cdot 2", true},
    {"\\frac{\\pi}{2}", "\\pi/2", true},
    {"1-\\frac{2}{\\pi}", "\\frac{\\pi-2}{\\pi}", true},
    {"2\\pi", "\\pi", false},
    {"\\pi r^2", "r^2 \\pi", true},
    {"2\xCF\x80", "2\\pi", true},  // unicode pi
    // Other expressions.
    {"96-10\\sqrt{21}", "-10\\sqrt{21}+96", true},
    {"14+4\\sqrt{37}", "4\\sqrt{37}+14", true},
    {"14+4\\sqrt{37}", "14-4\\sqrt{37}", false},
    {"2^{25} \\cdot 26!", "2^{25} 26!", true},
    {"2^{1009}", "2^{1008}", false},
    {"2^{10}", "1024", true},
    {"\\binom{5}{2}", "10", true},
    {"5!", "120", true},
    {"e^{2}", "\\exp(2)", true},
    {"\\ln 8", "3\\ln 2", true},
    {"\\log_{2} 8", "3", true},
    {"|-3|", "3", true},
    {"\\lfloor 2.5 \\rfloor", "2", true},
    {"\\left\\lfloor\\frac{2 n}{3}\\right\\rfloor+1", "\\lfloor 2n/3 \\rfloor + 1", true},
    // Symbolic, compared at random points.
    {"x^2+2x+1", "(x+1)^2", true},
    {"x^2+2x+1", "(x-1)^2", false},
    {"\\frac{K-1}{L}", "(K-1)/L", true},
    {"2x", "x+x", true},
    {"2x", "2y", false},
    {"\\frac{x}{2}", "0.5x", true},
    {"\\sin^2 x + \\cos^2 x", "1", true},
    {"a_1 + a_2", "a_2 + a_1", true},
    {"C_{1} e^{t}", "C_1 e^t", true},
    {"3\\theta", "\\theta + 2\\theta", true},
    {"2xy", "2yx", true},
    {"xy", "yx", false},  // letters only, two in a row: compared as words
    // Equations and names.
    {"x=5", "5", true},
    {"x = 5", "x=5", true},
    {"k = 3", "3", true},
    {"y = 2x+3", "2x+3", true},
    {"x=5", "6", false},
    {"f(x) = x^2", "x^2", true},
    {"x \\in [0, 1]", "[0,1]", true},
    {"x^2+y^2=1", "y^2+x^2=1", true},
    {"x^2+y^2=1", "x^2+y^2=2", false},
    {"5x - 7y + 11z + 4 = 0", "-5x+7y-11z-4=0", true},  // rearranged: lhs - rhs up to sign
    {"5x - 7y + 11z + 4 = 0", "5x-7y+11z=-4", true},
    {"5x - 7y + 11z + 4 = 0", "5x-7y+11z-4=0", false},
    {"5x - 7y + 11z + 4 = 0", "10x-14y+22z+8=0", false},  // scaled: not the same answer
    {"(x, y) = (1, 2)", "(1,2)", true},
    {"M=\\frac{9}{32} \\sqrt{2}", "\\frac{9\\sqrt2}{32}", true},
    // Tuples and points: ordered.
    {"(1,2)", "(1, 2)", true},
    {"(1,2)", "(2,1)", false},
    {"(6,31,-1)", "(6, 31, -1)", true},
    {"(6,31,-1)", "(6,31,1)", false},
    {"(1,2)", "(1,2,3)", false},
    {"\\left(\\frac{1}{2}, \\sqrt{3}\\right)", "(0.5, \\sqrt3)", true},
    {"(3, \\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)", true},
    {"(1,2)", "[1,2]", false},
    // Intervals.
    {"[1,2)", "[1, 2)", true},
    {"[1,2)", "[1,2]", false},
    {"(a,b]", "(a, b]", true},
    {"(-\\infty, 3)", "(-\\infty,3)", true},
    {"(-\\infty, 3)", "(-\\infty,3]", false},
    {"(0,4]", "(0,4)", false},
    {"\\mathbb{R}", "(-\\infty, \\infty)", true},
    // Unions: order-free.
    {"(-\\infty, 3) \\cup (5, \\infty)", "(5,\\infty)\\cup(-\\infty,3)", true},
    {"(-\\infty,3)\\cup(5,\\infty)", "(-\\infty,3]\\cup(5,\\infty)", false},
    {"[1,2] \\cup [3,4]", "[1,2] U [3,4]", true},
    // Sets and lists: order-free.
    {"\\{1,2\\}", "\\{2,1\\}", true},
    {"\\{1,2\\}", "\\{1,3\\}", false},
    {"\\{1,2\\}", "\\{1,2,3\\}", false},
    {"\\left\\{1, 2\\right\\}", "\\{1,2\\}", true},
    {"1, 2", "2, 1", true},
    {"5,15", "15, 5", true},
    {"5,15", "5, 16", false},
    {"1 and 2", "1, 2", true},
    {"x = 1 or x = 2", "1,2", true},
    {"(1,1), (3,2)", "(3,2),(1,1)", true},
    {"(1,1), (3,2)", "(1,1),(2,3)", false},
    {"90^{\\circ},60^{\\circ}", "60, 90", true},
    {"\\emptyset", "\\{\\}", true},
    {"1,2,2", "1,1,2", false},  // multisets
    // Matrices and vectors.
    {"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "(1,2)", true},
    {"\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}",
     true},
    {"\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix}1&2\\\\4&3\\end{pmatrix}",
     false},
    {"\\begin{pmatrix} -\\frac13 \\\\ \\frac23 \\end{pmatrix}",
     "\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}", true},
    // Multiple choice.
    {"(A)", "A", true},
    {"\\text{(B)}", "B", true},
    {"\\textbf{(C)}", "(C)", true},
    {"B", "C", false},
    {"(B)", "(D)", false},
    {"(B) 27", "B", true},
    {"(B) 27", "27", true},
    {"(B) 27", "C", false},
    {"A", "5", false},
    // Words.
    {"\\text{Evelyn}", "Evelyn", true},
    {"\\text{even}", "Even", true},
    {"odd", "even", false},
    {"\\text{yes}", "no", false},
    // Inequalities compare as text.
    {"x > 3", "x>3", true},
    {"x \\geq 3", "x >= 3", true},
    {"x > 3", "x < 3", false},
    // Infinity.
    {"\\infty", "\\infty", true},
    {"\\infty", "-\\infty", false},
    // Empty and junk never match.
    {"", "", false},
    {"", "5", false},
    {"5", "", false},
    {"{", "}", false},
    {"1\\%\\in", "=1", false},  // relations with an empty side are text
    {"x =", "x =", true},
    {"=", "= ", true},
};

TEST(AnswersEquivalent, Table) {
    int n = 0;
    for (const EquivCase& c : kEquivCases) {
        EXPECT_EQ(answers_equivalent(c.a, c.b), c.equal) << "a: " << c.a << "\nb: " << c.b;
        EXPECT_EQ(answers_equivalent(c.b, c.a), c.equal)
            << "(swapped) a: " << c.b << "\nb: " << c.a;
        ++n;
    }
    EXPECT_GE(n, 150);
}

struct GradeCase {
    const char* completion;
    const char* reference;
    bool correct;
};

const GradeCase kGradeCases[] = {
    {"... so the area is \\boxed{\\frac{1}{2}}.", "0.5", true},
    {"... \\boxed{\\frac{1}{2}}", "1/2", true},
    {"... \\boxed{\\dfrac12}", "\\frac{1}{2}", true},
    {"Thus \\boxed{50\\%}", "0.5", true},
    {"I think \\boxed{12} no wait \\boxed{120}", "120", true},
    {"I think \\boxed{120} no wait \\boxed{12}", "120", false},
    {"<think>long reasoning</think>The answer is $\\boxed{045}$.", "45", true},
    {"<think>long reasoning</think>The answer is $\\boxed{45}$.", "045", true},
    {"The final answer is 204.", "204", true},
    {"<think>stopped while thinking: 204", "204", false},
    {"", "5", false},
    {"\\boxed{}", "5", false},
    {"\\boxed{5", "5", true},  // the broken box is skipped; the last number is 5
};

TEST(GradeMath, Table) {
    for (const GradeCase& c : kGradeCases) {
        GradeResult r = grade_math(c.completion, c.reference);
        EXPECT_EQ(r.correct, c.correct)
            << "completion: " << c.completion << "\nreference: " << c.reference
            << "\nextracted: " << r.extracted;
    }
}

// Every reference answer of every task, boxed, grades as correct against itself, and the
// integer answers of AIME/HMMT-style tasks never match a different problem's answer.
TEST(GradeMath, EveryDatasetReferenceMatchesItself) {
    const std::string data_dir = std::string(VASE_SOURCE_DIR) + "/data/tasks";
    size_t checked = 0;
    for (const TaskSpec& spec : task_specs()) {
        std::vector<Problem> problems = load_task(spec, data_dir);
        for (const Problem& p : problems) {
            GradeResult r = grade_math("so \\boxed{" + p.answer + "}.", p.answer);
            EXPECT_TRUE(r.correct) << spec.name << " id " << p.id << ": " << p.answer;
            ++checked;
        }
    }
    EXPECT_EQ(checked, 30u + 30 + 30 + 40 + 60 + 500 + 272 + 675);
}

TEST(GradeMath, DistinctAimeAnswersDiffer) {
    const std::string data_dir = std::string(VASE_SOURCE_DIR) + "/data/tasks";
    std::vector<Problem> problems = load_task(find_task("aime25"), data_dir);
    for (size_t i = 0; i < problems.size(); ++i) {
        for (size_t j = 0; j < problems.size(); ++j) {
            if (problems[i].answer == problems[j].answer) continue;
            EXPECT_FALSE(answers_equivalent(problems[i].answer, problems[j].answer))
                << problems[i].answer << " vs " << problems[j].answer;
        }
    }
}

// ---- Robustness: arbitrary input never throws, crashes or runs away.

TEST(GraderRobustness, UnbalancedAndDeepInput) {
    const std::vector<std::string> nasty = {
        "\\boxed{",
        "\\boxed{{{{{{",
        "}}}}}\\boxed{}}}}",
        "\\boxed",
        "\\frac",
        "\\frac{",
        "\\sqrt[",
        "((((((((((",
        "))))))",
        "[1,2",
        "\\left(",
        "x^",
        "^^^^",
        "_",
        "\\begin{pmatrix}",
        "\\begin{pmatrix} 1 & \\end{pmatrix}",
        "\\text{",
        "$$$$",
        "1/0",
        "0/0",
        "(-8)^{1/3}",
        "10^{100000}",
        "99999999999999999999999999999999999999!",
        "\\binom{1000000}{500000}",
        std::string(5000, '('),
        std::string(5000, '{'),
        std::string(3000, '-') + "1",
        "\\sqrt" + std::string(2000, '{') + "2" + std::string(2000, '}'),
        std::string("\0\x01\xff\xfe", 4),
    };
    for (const std::string& s : nasty) {
        (void)extract_answer(s);
        (void)normalize_answer(s);
        EXPECT_FALSE(answers_equivalent(s, "123456789")) << s;
        (void)answers_equivalent(s, s);
        (void)grade_math(s, s);
    }
    // Deep nesting inside a parsable budget.
    std::string deep;
    for (int i = 0; i < 200; ++i) deep += "(";
    deep += "1";
    for (int i = 0; i < 200; ++i) deep += ")";
    EXPECT_FALSE(answers_equivalent(deep, "2"));
    (void)answers_equivalent(deep, "1");
    std::string sum = "1";
    for (int i = 0; i < 400; ++i) sum += "+1";
    EXPECT_TRUE(answers_equivalent(sum, "401"));
}

TEST(GraderRobustness, HugeCompletions) {
    // 4 MB of text with many broken boxes, then a good one.
    std::string text;
    for (int i = 0; i < 100000; ++i) text += "blah \\boxed{ 12 ";
    text += "\\boxed{7}";
    EXPECT_EQ(extract_answer(text), "7");
    // Many unbalanced boxes and no good one: the search gives up after a bounded number.
    std::string broken;
    for (int i = 0; i < 200000; ++i) broken += "\\boxed{";
    EXPECT_EQ(extract_answer(broken), "");
    // A long answer.
    std::string long_answer(100000, '1');
    EXPECT_TRUE(answers_equivalent(long_answer, long_answer));
    EXPECT_FALSE(answers_equivalent(long_answer, long_answer + "2"));
    // A huge box.
    std::string big_box = "\\boxed{" + std::string(15000, '9') + "}";
    EXPECT_EQ(extract_answer(big_box).size(), 15000u);
}

TEST(GraderRobustness, RandomBytesAndLatexSoup) {
    const char* pieces[] = {"\\frac",  "{",       "}",
                            "(",       ")",       "[",
                            "]",       "\\sqrt",  "^",
                            "_",       "x",       "1",
                            "2.5",     ",",       "=",
                            "\\pi",    "\\boxed", "\\left",
                            "\\right", "\\text",  "-",
                            "+",       "*",       "/",
                            "!",       "%",       "\\{",
                            "\\}",     "\\cup",   "e",
                            " ",       "$",       "\\begin{pmatrix}",
                            "\\\\",    "&",       "\\end{pmatrix}",
                            "<",       "\\infty"};
    const size_t n_pieces = sizeof(pieces) / sizeof(pieces[0]);
    Rng rng(42);
    for (int trial = 0; trial < 3000; ++trial) {
        std::string a;
        std::string b;
        size_t len = 1 + rng.next_u64() % 30;
        for (size_t i = 0; i < len; ++i) a += pieces[rng.next_u64() % n_pieces];
        for (size_t i = 0; i < len; ++i) b += static_cast<char>(rng.next_u64() % 256);
        (void)extract_answer(a);
        (void)extract_answer(b);
        (void)answers_equivalent(a, a);
        (void)answers_equivalent(a, b);
        (void)normalize_answer(b);
        // Equivalence is symmetric on arbitrary input.
        std::string c;
        for (size_t i = 0; i < len; ++i) c += pieces[rng.next_u64() % n_pieces];
        EXPECT_EQ(answers_equivalent(a, c), answers_equivalent(c, a)) << a << " | " << c;
    }
}

}  // namespace
}  // namespace vase
