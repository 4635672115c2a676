#include "eval/testbed.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

#include "util/error.h"
#include "util/rng.h"

namespace vase {
namespace {

constexpr std::string_view kKeyChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr int kMaxKeys = 52;
constexpr int kMaxSteps = 999;

// Uniform in [0, n) without modulo bias (Lemire's multiply-shift, exact
// enough for n <= 52: the bias is below 2^-58).
int uniform_below(Rng& rng, int n) {
    const unsigned __int128 product =
        static_cast<unsigned __int128>(rng.next_u64()) * static_cast<uint64_t>(n);
    return static_cast<int>(product >> 64);
}

// Fisher-Yates shuffle of 0..n-1.
std::vector<int> shuffled(Rng& rng, int n) {
    std::vector<int> v(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
    for (int i = n - 1; i > 0; --i) {
        std::swap(v[static_cast<size_t>(i)], v[static_cast<size_t>(uniform_below(rng, i + 1))]);
    }
    return v;
}

// Index of a key character; -1 if it is not one of the 52.
int key_index(char c) {
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
    return -1;
}

struct Table {
    int keys = 0;
    int steps = 0;
    int start = 0;
    std::array<int, kMaxKeys> next{};
    std::array<int, kMaxKeys> digit{};
};

// The walk of the format file: s = (s + d) mod 10, one line per step.
void walk(const Table& t, TableWalkProblem& p) {
    int x = t.start, s = 0;
    p.solution.clear();
    p.solution.reserve(static_cast<size_t>(t.steps));
    for (int i = 1; i <= t.steps; ++i) {
        const int y = t.next[static_cast<size_t>(x)];
        const int d = t.digit[static_cast<size_t>(x)];
        s = (s + d) % 10;
        p.solution.push_back(fmt::format("{}:{}{}{}={}", i, kKeyChars[static_cast<size_t>(x)],
                                         kKeyChars[static_cast<size_t>(y)], d, s));
        x = y;
    }
    p.answer = std::to_string(s);
}

// Parses a decimal number without sign or leading zeros at s[pos...]; -1 if none.
int parse_count(std::string_view s, size_t& pos) {
    const size_t begin = pos;
    int value = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && pos - begin < 4) {
        value = value * 10 + (s[pos] - '0');
        ++pos;
    }
    if (pos == begin || (s[begin] == '0' && pos - begin > 1)) return -1;
    if (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') return -1;  // 5+ digits
    return value;
}

bool consume(std::string_view s, size_t& pos, std::string_view literal) {
    if (s.substr(pos, literal.size()) != literal) return false;
    pos += literal.size();
    return true;
}

}  // namespace

void validate(const TableWalkOptions& o) {
    if (o.keys < 2 || o.keys > kMaxKeys) {
        fail("table walk: keys must be in 2..{} (got {})", kMaxKeys, o.keys);
    }
    if (o.steps < 1 || o.steps > kMaxSteps) {
        fail("table walk: steps must be in 1..{} (got {})", kMaxSteps, o.steps);
    }
}

TableWalkProblem make_table_walk(const TableWalkOptions& o, uint64_t seed) {
    validate(o);
    Rng rng(seed);
    Table t;
    t.keys = o.keys;
    t.steps = o.steps;
    // The cycle: a random order of the keys, each pointing to the one after it.
    const std::vector<int> cycle = shuffled(rng, o.keys);
    for (int i = 0; i < o.keys; ++i) {
        t.next[static_cast<size_t>(cycle[static_cast<size_t>(i)])] =
            cycle[static_cast<size_t>((i + 1) % o.keys)];
    }
    for (int k = 0; k < o.keys; ++k) t.digit[static_cast<size_t>(k)] = uniform_below(rng, 10);
    t.start = uniform_below(rng, o.keys);

    // The entries are listed in the walk's order from the start key: a small
    // model learns that lookup in minutes, where with a random order it stayed
    // at chance (docs/testbed.md). The first lap still needs the prompt's
    // table and every later step the line K steps back.
    TableWalkProblem p;
    p.question = fmt::format("Start at {}. Take {} steps.\n",
                             kKeyChars[static_cast<size_t>(t.start)], o.steps);
    size_t x = static_cast<size_t>(t.start);
    for (int i = 0; i < o.keys; ++i, x = static_cast<size_t>(t.next[x])) {
        if (i > 0) p.question += ' ';
        p.question += ':';
        p.question += kKeyChars[x];
        p.question += kKeyChars[static_cast<size_t>(t.next[x])];
        p.question += static_cast<char>('0' + t.digit[x]);
    }
    walk(t, p);
    return p;
}

TableWalkProblem solve_table_walk(std::string_view q) {
    size_t pos = 0;
    auto malformed = [&](std::string_view what) -> void {
        fail(
            "table walk question: {} at byte {} (expected \"Start at X. Take N steps.\\n\" then "
            "entries \":xyd\" separated by single spaces)",
            what, pos);
    };
    Table t;
    if (!consume(q, pos, "Start at ")) malformed("no \"Start at \"");
    if (pos >= q.size() || key_index(q[pos]) < 0) malformed("the start is not a key letter");
    t.start = key_index(q[pos++]);
    if (!consume(q, pos, ". Take ")) malformed("no \". Take \" after the start key");
    t.steps = parse_count(q, pos);
    if (t.steps < 1 || t.steps > kMaxSteps) {
        malformed(fmt::format("the step count is not a number in 1..{} without leading zeros",
                              kMaxSteps));
    }
    if (!consume(q, pos, " steps.\n")) malformed("no \" steps.\\n\" after the step count");

    std::array<bool, kMaxKeys> listed{};
    int n_entries = 0, max_key = -1;
    for (;;) {
        if (pos + 4 > q.size()) malformed("an entry is cut short");
        const int x = key_index(q[pos + 1]);
        const int y = key_index(q[pos + 2]);
        const char d = q[pos + 3];
        if (q[pos] != ':' || x < 0 || y < 0 || d < '0' || d > '9') {
            malformed("an entry is not of the form :xyd (colon, key, next key, digit)");
        }
        if (listed[static_cast<size_t>(x)]) {
            malformed(fmt::format("key {} is listed twice", q[pos + 1]));
        }
        listed[static_cast<size_t>(x)] = true;
        t.next[static_cast<size_t>(x)] = y;
        t.digit[static_cast<size_t>(x)] = d - '0';
        max_key = std::max({max_key, x, y});
        ++n_entries;
        pos += 4;
        if (pos == q.size()) break;
        if (q[pos] != ' ') malformed("entries must be separated by single spaces");
        ++pos;
    }
    // The keys are the first K letters, every one listed exactly once.
    t.keys = n_entries;
    if (t.keys < 2) malformed("a table needs at least 2 keys");
    if (max_key >= t.keys || t.start >= t.keys) {
        pos = q.size();
        malformed(fmt::format(
            "{} entries, so the keys are the first {} letters, but key {} appears", t.keys, t.keys,
            kKeyChars[static_cast<size_t>(std::max(max_key, t.start))]));
    }
    // The next-key map is one cycle: from any key, K steps visit every key and return.
    std::array<bool, kMaxKeys> visited{};
    int x = 0;
    for (int i = 0; i < t.keys; ++i) {
        if (visited[static_cast<size_t>(x)]) break;
        visited[static_cast<size_t>(x)] = true;
        x = t.next[static_cast<size_t>(x)];
    }
    for (int k = 0; k < t.keys; ++k) {
        if (!visited[static_cast<size_t>(k)] || x != 0) {
            pos = q.size();
            malformed("the next keys do not form one cycle through all keys");
        }
    }
    TableWalkProblem p;
    p.question = std::string(q);
    walk(t, p);
    return p;
}

std::string solution_text(const TableWalkProblem& p) {
    std::string out;
    for (const std::string& line : p.solution) {
        out += line;
        out += '\n';
    }
    return out;
}

std::string assistant_turn(const TableWalkProblem& p) {
    return "<think>\n" + solution_text(p) + "</think>\n\n\\boxed{" + p.answer + "}<|im_end|>";
}

TableWalkCheck check_table_walk(const TableWalkProblem& reference, std::string_view thinking) {
    TableWalkCheck check;
    check.steps = static_cast<int>(reference.solution.size());
    // Drop an opening tag and the whitespace around the lines.
    auto skip_space = [&] {
        while (!thinking.empty() && (thinking.front() == ' ' || thinking.front() == '\n' ||
                                     thinking.front() == '\r' || thinking.front() == '\t')) {
            thinking.remove_prefix(1);
        }
    };
    skip_space();
    if (thinking.substr(0, 7) == "<think>") thinking.remove_prefix(7);
    skip_space();
    bool ended = false;
    for (const std::string& expected : reference.solution) {
        if (ended) break;
        const size_t nl = thinking.find('\n');
        std::string_view line = thinking.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line != expected) {
            check.deviating_line = std::string(line);
            break;
        }
        ++check.correct_steps;
        ended = nl == std::string_view::npos;
        thinking.remove_prefix(ended ? thinking.size() : nl + 1);
    }
    return check;
}

}  // namespace vase
