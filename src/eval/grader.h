// Grading of math completions: pull the final answer out of a completion and decide
// whether it equals the reference answer. The exact rules (which box, the fallbacks, what
// counts as equal) are written down in docs/grading.md; tests/eval/grader_test.cpp holds
// one row per rule. Every function here accepts arbitrary text: no exceptions, bounded
// time (long inputs are cut), bounded recursion.
#pragma once

#include <string>
#include <string_view>

namespace vase {

struct ExtractOptions {
    // When there is no usable \boxed{}: try "final answer is X", "answer: X", then the
    // last number (docs/grading.md, "Extraction"). Off = boxed answers only, as the
    // paper's reference grader does.
    bool fallbacks = true;
};

struct GradeResult {
    std::string extracted;  // the answer taken from the completion; empty if none
    bool correct = false;
};

// The final answer of a completion: the content of the last well-formed, non-empty
// \boxed{...} / \boxed x / \fbox{...}, else the fallbacks. Empty when nothing is found.
std::string extract_answer(std::string_view completion, const ExtractOptions& options = {});

// Whether two answers denote the same mathematical object (symmetric).
bool answers_equivalent(std::string_view a, std::string_view b);

// extract_answer + answers_equivalent; an empty extraction is never correct.
GradeResult grade_math(std::string_view completion, std::string_view reference_answer,
                       const ExtractOptions& options = {});

// The answer after LaTeX clean-up (spacing, \left/\right, \text, units, degrees, $...),
// tokens separated by single spaces. Exposed for debugging and docs.
std::string normalize_answer(std::string_view answer);

}  // namespace vase
