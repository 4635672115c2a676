// The reasoning testbed's "table walk" task (format: docs/testbed_format.md).
// A table maps each of K keys to a next key and a digit; the next-key map is
// one cycle through all keys. The question asks for the sum mod 10 of the
// digits met on an N-step walk; the reference solution writes one line per
// step. With N > K every step needs the entry seen K steps earlier, so a
// model that has evicted it from its KV cache must guess.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vase {

struct TableWalkOptions {
    int keys = 32;   // K in 2..52: the first K of a..zA..Z
    int steps = 64;  // N in 1..999
};

struct TableWalkProblem {
    std::string question;  // "Start at c. Take 5 steps.\n:cb7 :ba0 ..." (no trailing newline)
    std::string answer;    // the final sum, one digit
    // One line per step, without the newline: "1:cb7=7".
    std::vector<std::string> solution;
};

// Throws vase::Error naming the bad value unless 2 <= keys <= 52 and 1 <= steps <= 999.
void validate(const TableWalkOptions& options);

// The problem drawn from `seed` with vase::Rng: the same seed gives the same
// problem on every platform.
TableWalkProblem make_table_walk(const TableWalkOptions& options, uint64_t seed);

// Parses a question in the format above and walks it. Throws vase::Error
// saying what is malformed (a key outside the table, a key listed twice, an
// entry that is not `:xyd`, N out of range, next keys that are not one
// cycle, ...).
TableWalkProblem solve_table_walk(std::string_view question);

// The solution lines, each followed by '\n' (the thinking the model writes).
std::string solution_text(const TableWalkProblem& problem);

// The whole assistant turn the model is trained to produce:
// "<think>\n" + solution_text + "</think>\n\n\\boxed{d}<|im_end|>".
std::string assistant_turn(const TableWalkProblem& problem);

// How far a model's thinking follows the reference solution.
struct TableWalkCheck {
    int steps = 0;          // N
    int correct_steps = 0;  // leading lines equal to the reference
    // 1-based step of the first line that differs from the reference or is
    // missing; 0 when all N steps are right.
    int first_deviation() const { return correct_steps == steps ? 0 : correct_steps + 1; }
    // The model's line at the first deviation; empty if its text ended there.
    std::string deviating_line;
};

// Compares `thinking` (with or without its "<think>" tag and surrounding
// whitespace) line by line with the reference. A line counts only if it is
// exactly the reference line (a trailing '\r' aside); counting stops
// at the first difference.
TableWalkCheck check_table_walk(const TableWalkProblem& reference, std::string_view thinking);

}  // namespace vase
