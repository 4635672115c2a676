// Math answer grading: extraction of the final answer, LaTeX clean-up, a small safe
// expression evaluator and the equivalence rules. docs/grading.md is the specification;
// keep the two in step.
#include "eval/grader.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <numbers>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/rng.h"

namespace vase {

namespace {

// Bounds that keep every call fast and its recursion shallow on any input.
constexpr size_t kMaxAnswerChars = 4096;  // longer answers are compared as trimmed text
constexpr size_t kMaxTokens = 1024;       // of one cleaned answer
constexpr int kMaxDepth = 64;             // nesting of brackets and structures
constexpr size_t kMaxBoxChars = 20000;    // a \boxed{ not closed within this is ignored
constexpr int kMaxBoxTries = 64;          // malformed boxes skipped before giving up
constexpr size_t kMaxListItems = 64;      // items of one tuple, set or list
constexpr size_t kMaxPhraseAnswerChars = 256;

// Numeric tolerances (docs/grading.md, "Numbers").
constexpr double kExactRelTol = 1e-9;     // exact forms: equal up to float rounding
constexpr double kDecimalRelTol = 1e-4;   // a side written with a decimal point or exponent
constexpr double kSymbolicRelTol = 1e-6;  // expressions with variables, at random points
constexpr int kSymbolicPoints = 8;

bool is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// ------------------------------------------------------------------------------------------
// Extraction

// The content of the box command whose backslash is at `pos` (cmd_len chars long), or
// nothing when it is not a well-formed box.
std::optional<std::string_view> box_content(std::string_view text, size_t pos, size_t cmd_len) {
    size_t j = pos + cmd_len;
    if (j < text.size() && is_letter(text[j])) return std::nullopt;  // \boxedfoo: not ours
    size_t k = j;
    while (k < text.size() && is_space(text[k])) ++k;
    if (k < text.size() && text[k] == '{') {
        int depth = 0;
        size_t limit = std::min(text.size(), k + kMaxBoxChars);
        for (size_t i = k; i < limit; ++i) {
            char c = text[i];
            if (c == '\\') {  // \{ and \} are characters, not groups
                ++i;
                continue;
            }
            if (c == '{') {
                ++depth;
            } else if (c == '}' && --depth == 0) {
                return text.substr(k + 1, i - k - 1);
            }
        }
        return std::nullopt;  // never closed
    }
    if (k > j && k < text.size()) {  // "\boxed 5$": up to '$', the line's end or the text's
        size_t end = k;
        while (end < text.size() && end - k < kMaxBoxChars && text[end] != '$' && text[end] != '\n')
            ++end;
        return text.substr(k, end - k);
    }
    return std::nullopt;
}

std::optional<std::string> last_box(std::string_view text) {
    size_t end = text.size();
    for (int tries = 0; tries < kMaxBoxTries && end > 0; ++tries) {
        size_t boxed = text.rfind("\\boxed", end - 1);
        size_t fbox = text.rfind("\\fbox", end - 1);
        size_t pos;
        size_t len;
        if (boxed == std::string_view::npos && fbox == std::string_view::npos) break;
        if (fbox == std::string_view::npos || (boxed != std::string_view::npos && boxed > fbox)) {
            pos = boxed;
            len = 6;
        } else {
            pos = fbox;
            len = 5;
        }
        if (auto content = box_content(text, pos, len)) {
            std::string_view answer = trim(*content);
            if (!answer.empty()) return std::string(answer);
        }
        end = pos;
    }
    return std::nullopt;
}

// Where the fallbacks look: after the last </think>; nothing if a <think> was never
// closed (the model stopped while thinking); the whole text if there are no think tags.
std::string_view answer_region(std::string_view text) {
    size_t close = text.rfind("</think>");
    if (close != std::string_view::npos) return text.substr(close + 8);
    if (text.find("<think>") != std::string_view::npos) return {};
    return text;
}

// "... answer is X" / "... answer: X" (case-insensitive, last occurrence).
std::optional<std::string> phrase_answer(std::string_view region) {
    std::string low(region);
    for (char& c : low) c = lower(c);
    size_t best = std::string::npos;
    size_t best_len = 0;
    for (std::string_view phrase : {"answer is", "answer:"}) {
        size_t p = low.rfind(phrase);
        if (p != std::string::npos && (best == std::string::npos || p > best)) {
            best = p;
            best_len = phrase.size();
        }
    }
    if (best == std::string::npos) return std::nullopt;
    std::string_view rest = region.substr(best + best_len);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t' || rest.front() == ':' ||
                             rest.front() == '*'))
        rest.remove_prefix(1);
    std::string_view answer;
    auto delimited = [&](std::string_view open, std::string_view close) {
        if (rest.substr(0, open.size()) != open) return false;
        size_t e = rest.find(close, open.size());
        if (e == std::string_view::npos) return false;
        answer = rest.substr(open.size(), e - open.size());
        return true;
    };
    if (!delimited("$$", "$$") && !delimited("$", "$") && !delimited("\\(", "\\)") &&
        !delimited("\\[", "\\]")) {
        answer = rest.substr(0, rest.find('\n'));
        // The sentence ends at a '.' followed by a space or the end (not a decimal point).
        for (size_t i = 0; i < answer.size(); ++i) {
            if (answer[i] == '.' && (i + 1 == answer.size() || is_space(answer[i + 1]))) {
                answer = answer.substr(0, i);
                break;
            }
        }
    }
    answer = trim(answer);
    while (!answer.empty() && (answer.back() == '.' || answer.back() == ',' ||
                               answer.back() == ';' || answer.back() == '*'))
        answer = trim(answer.substr(0, answer.size() - 1));
    if (answer.empty() || answer.size() > kMaxPhraseAnswerChars) return std::nullopt;
    return std::string(answer);
}

// The last number: -?digits(,ddd)*(.digits)?(/digits)? or -?.digits
std::optional<std::string> last_number(std::string_view s) {
    std::string_view best;
    size_t i = 0;
    const size_t n = s.size();
    while (i < n) {
        bool starts = is_digit(s[i]) || (s[i] == '.' && i + 1 < n && is_digit(s[i + 1]));
        if (!starts) {
            ++i;
            continue;
        }
        size_t start = i;
        if (start > 0 && s[start - 1] == '-' &&
            (start < 2 ||
             !(is_letter(s[start - 2]) || is_digit(s[start - 2]) || s[start - 2] == ')')))
            --start;
        while (i < n && is_digit(s[i])) ++i;
        while (i + 3 < n && s[i] == ',' && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
               is_digit(s[i + 3]) && (i + 4 == n || !is_digit(s[i + 4])))
            i += 4;
        if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
            ++i;
            while (i < n && is_digit(s[i])) ++i;
        }
        if (i + 1 < n && s[i] == '/' && is_digit(s[i + 1])) {
            ++i;
            while (i < n && is_digit(s[i])) ++i;
        }
        best = s.substr(start, i - start);
    }
    if (best.empty()) return std::nullopt;
    return std::string(best);
}

// ------------------------------------------------------------------------------------------
// LaTeX clean-up (text level)

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    if (from.empty()) return;
    std::string out;
    size_t pos = 0;
    bool any = false;
    while (true) {
        size_t p = s.find(from, pos);
        if (p == std::string::npos) break;
        any = true;
        out.append(s, pos, p - pos);
        out.append(to);
        pos = p + from.size();
    }
    if (!any) return;
    out.append(s, pos, std::string::npos);
    s = std::move(out);
}

// Replaces the command `cmd` ("\left") where it is not the prefix of a longer command name.
void replace_command(std::string& s, std::string_view cmd, std::string_view to) {
    std::string out;
    size_t pos = 0;
    bool any = false;
    while (true) {
        size_t p = s.find(cmd, pos);
        if (p == std::string::npos) break;
        size_t after = p + cmd.size();
        if (is_letter(cmd.back()) && after < s.size() && is_letter(s[after])) {
            out.append(s, pos, after - pos);
            pos = after;
            continue;
        }
        any = true;
        out.append(s, pos, p - pos);
        out.append(to);
        pos = after;
    }
    if (!any) return;
    out.append(s, pos, std::string::npos);
    s = std::move(out);
}

// Index of the '}' closing the '{' at `open`, skipping escaped braces; npos if none.
size_t closing_brace(std::string_view s, size_t open) {
    int depth = 0;
    for (size_t i = open; i < s.size(); ++i) {
        if (s[i] == '\\') {
            ++i;
            continue;
        }
        if (s[i] == '{') ++depth;
        if (s[i] == '}' && --depth == 0) return i;
    }
    return std::string_view::npos;
}

constexpr std::string_view kTextWrappers[] = {
    "\\text",   "\\textbf",  "\\textit", "\\textrm",       "\\textnormal", "\\texttt",
    "\\mathrm", "\\mathbf",  "\\mathit", "\\mathsf",       "\\mathtt",     "\\mbox",
    "\\hbox",   "\\emph",    "\\rm",     "\\operatorname", "\\boldsymbol", "\\bm",
    "\\mathbb", "\\mathcal", "\\boxed",  "\\fbox",
};

bool is_text_wrapper(std::string_view name) {
    return std::find(std::begin(kTextWrappers), std::end(kTextWrappers), name) !=
           std::end(kTextWrappers);
}

// Units dropped from the end of an answer; a trailing "s" is also accepted ("inche" + s).
constexpr std::string_view kUnitWords[] = {
    "cm",     "mm",     "km",    "meter",  "metre", "inch",   "inche",  "ft",      "feet",
    "foot",   "yard",   "yd",    "mile",   "mph",   "kph",    "unit",   "square",  "sq",
    "cubic",  "degree", "deg",   "dollar", "cent",  "hour",   "hr",     "minute",  "min",
    "second", "sec",    "day",   "week",   "month", "year",   "gram",   "kg",      "mg",
    "pound",  "lb",     "ounce", "oz",     "liter", "litre",  "ml",     "gallon",  "per",
    "radian", "point",  "cup",   "tsp",    "acre",  "person", "people", "student", "way",
};

bool is_unit_word(std::string word) {
    for (char& c : word) c = lower(c);
    auto known = [](std::string_view w) {
        return std::find(std::begin(kUnitWords), std::end(kUnitWords), w) != std::end(kUnitWords);
    };
    if (known(word)) return true;
    return word.size() > 1 && word.back() == 's' &&
           known(std::string_view(word).substr(0, word.size() - 1));
}

bool ends_like_quantity(std::string_view prefix) {
    prefix = trim(prefix);
    if (prefix.empty()) return false;
    char c = prefix.back();
    return is_digit(c) || c == '}' || c == ')' || c == ']' || c == '%' || c == '!' ||
           is_letter(c) || c == '.';
}

// Drops "^2", "^{3}" at the end (area/volume units) and returns the shortened view.
std::string_view drop_unit_power(std::string_view s) {
    s = trim(s);
    for (std::string_view p : {"^2", "^3", "^{2}", "^{3}"}) {
        if (s.size() >= p.size() && s.substr(s.size() - p.size()) == p)
            return trim(s.substr(0, s.size() - p.size()));
    }
    return s;
}

// "5\text{ cm}", "6.5 \mathrm{~m}", "3\text{ square units}^2": a wrapper of words at the
// end, after something that looks like a quantity, is a unit.
void drop_trailing_text_unit(std::string& s) {
    for (int round = 0; round < 3; ++round) {
        std::string_view v = drop_unit_power(s);
        if (v.empty() || v.back() != '}') return;
        // Find the '{' matching the final '}' by scanning forward with a stack.
        std::vector<size_t> stack;
        size_t open = std::string::npos;
        for (size_t i = 0; i < v.size(); ++i) {
            if (v[i] == '\\') {
                ++i;
                continue;
            }
            if (v[i] == '{') stack.push_back(i);
            if (v[i] == '}') {
                if (stack.empty()) return;
                open = stack.back();
                stack.pop_back();
            }
        }
        if (!stack.empty() || open == std::string::npos) return;
        size_t name_end = open;
        while (name_end > 0 && is_space(v[name_end - 1])) --name_end;
        size_t name_begin = name_end;
        while (name_begin > 0 && is_letter(v[name_begin - 1])) --name_begin;
        if (name_begin == 0 || v[name_begin - 1] != '\\') return;
        std::string_view name = v.substr(name_begin - 1, name_end - name_begin + 1);
        if (!is_text_wrapper(name) || name == "\\mathbb" || name == "\\mathcal" ||
            name == "\\boxed" || name == "\\fbox")
            return;
        std::string_view content = v.substr(open + 1, v.size() - open - 2);
        // Words only: letters, spaces, ~ / . ^ - and exponents; at least one letter first.
        bool words = false;
        bool letter_seen = false;
        for (char c : content) {
            if (is_letter(c)) {
                letter_seen = true;
                words = true;
            } else if (c == ' ' || c == '~' || c == '/' || c == '.' || c == '^' || c == '-' ||
                       c == '\\' || c == ',' || (is_digit(c) && letter_seen)) {
                continue;
            } else {
                words = false;
                break;
            }
        }
        std::string_view prefix = v.substr(0, name_begin - 1);
        if (!words || !ends_like_quantity(prefix)) return;
        s = std::string(trim(prefix));
    }
}

// \text{...} and friends: keep the content.
void unwrap_text(std::string& s) {
    for (int guard = 0; guard < 256; ++guard) {
        bool changed = false;
        for (std::string_view w : kTextWrappers) {
            if (w == "\\mathbb") continue;  // \mathbb{R} stays a symbol
            size_t p = 0;
            while ((p = s.find(w, p)) != std::string::npos) {
                size_t q = p + w.size();
                if (q < s.size() && is_letter(s[q])) {  // a longer command
                    p = q;
                    continue;
                }
                while (q < s.size() && is_space(s[q])) ++q;
                if (q >= s.size() || s[q] != '{') {  // "\rm cm": drop the switch
                    s.erase(p, w.size());
                    changed = true;
                    continue;
                }
                size_t close = closing_brace(s, q);
                if (close == std::string::npos) {
                    s.erase(p, q + 1 - p);  // unbalanced: drop "\text{"
                } else {
                    s = s.substr(0, p) + " " + s.substr(q + 1, close - q - 1) + " " +
                        s.substr(close + 1);
                }
                changed = true;
            }
        }
        if (!changed) return;
    }
}

// "5 cm", "10 dollars", "3 square units": unit words at the end after a quantity.
void drop_trailing_unit_words(std::string& s) {
    for (int round = 0; round < 3; ++round) {
        std::string_view v = drop_unit_power(s);
        size_t end = v.size();
        size_t begin = end;
        while (begin > 0 && is_letter(v[begin - 1])) --begin;
        if (begin == end || (begin > 0 && v[begin - 1] == '\\')) return;
        std::string word(v.substr(begin, end - begin));
        if (!is_unit_word(word)) return;
        std::string_view prefix = trim(v.substr(0, begin));
        if (prefix.empty()) return;
        char c = prefix.back();
        // Another unit word may precede ("square units"), else a number must.
        bool quantity = is_digit(c) || c == '}' || c == ')' || c == '%';
        if (!quantity) {
            size_t b2 = prefix.size();
            while (b2 > 0 && is_letter(prefix[b2 - 1])) --b2;
            if (b2 == prefix.size() || !is_unit_word(std::string(prefix.substr(b2)))) return;
        }
        s = std::string(prefix);
    }
}

// \begin{pmatrix} a & b \\ c & d \end{pmatrix} -> ((a,b),(c,d)); one row or one column
// -> (a,b).
void matrices_to_tuples(std::string& s) {
    for (int guard = 0; guard < 16; ++guard) {
        size_t b = s.find("\\begin{");
        if (b == std::string::npos) return;
        size_t name_end = s.find('}', b + 7);
        if (name_end == std::string::npos) return;
        std::string name = s.substr(b + 7, name_end - b - 7);
        if (name != "pmatrix" && name != "bmatrix" && name != "matrix" && name != "array" &&
            name != "smallmatrix" && name != "Bmatrix" && name != "vmatrix")
            return;
        size_t content_begin = name_end + 1;
        if (name == "array" && content_begin < s.size() && s[content_begin] == '{') {
            size_t spec_end = closing_brace(s, content_begin);
            if (spec_end == std::string::npos) return;
            content_begin = spec_end + 1;
        }
        std::string end_tag = "\\end{" + name + "}";
        size_t e = s.find(end_tag, content_begin);
        if (e == std::string::npos) return;
        std::string content = s.substr(content_begin, e - content_begin);
        std::vector<std::vector<std::string>> rows;
        size_t p = 0;
        while (p <= content.size()) {
            size_t q = content.find("\\\\", p);
            std::string row = content.substr(p, q == std::string::npos ? std::string::npos : q - p);
            std::vector<std::string> cells;
            size_t c = 0;
            while (c <= row.size()) {
                size_t d = row.find('&', c);
                cells.emplace_back(
                    trim(row.substr(c, d == std::string::npos ? std::string::npos : d - c)));
                if (d == std::string::npos) break;
                c = d + 1;
            }
            if (!(cells.size() == 1 && cells[0].empty())) rows.push_back(cells);
            if (q == std::string::npos) break;
            p = q + 2;
        }
        std::vector<std::string> flat;
        bool vector_like = rows.size() == 1;
        if (!vector_like) {
            vector_like =
                std::all_of(rows.begin(), rows.end(), [](const auto& r) { return r.size() == 1; });
        }
        std::string out = "(";
        for (size_t r = 0; r < rows.size(); ++r) {
            if (vector_like) {
                for (size_t c = 0; c < rows[r].size(); ++c) {
                    if (r + c > 0) out += ",";
                    out += rows[r][c];
                }
            } else {
                if (r > 0) out += ",";
                out += "(";
                for (size_t c = 0; c < rows[r].size(); ++c) out += (c ? "," : "") + rows[r][c];
                out += ")";
            }
        }
        out += ")";
        s.replace(b, e + end_tag.size() - b, out);
    }
}

// Removes ^\circ, ^{\circ}, \circ and \degree (degrees are dropped like a unit).
void drop_degrees(std::string& s) {
    replace_command(s, "\\degree", "");
    for (int guard = 0; guard < 64; ++guard) {
        size_t p = s.find("\\circ");
        if (p == std::string::npos) return;
        size_t b = p;
        size_t e = p + 5;
        size_t l = b;
        while (l > 0 && is_space(s[l - 1])) --l;
        if (l > 0 && s[l - 1] == '{') {
            size_t l2 = l - 1;
            while (l2 > 0 && is_space(s[l2 - 1])) --l2;
            size_t r = e;
            while (r < s.size() && is_space(s[r])) ++r;
            if (l2 > 0 && s[l2 - 1] == '^' && r < s.size() && s[r] == '}') {
                b = l2 - 1;
                e = r + 1;
            }
        } else if (l > 0 && s[l - 1] == '^') {
            b = l - 1;
        }
        s.erase(b, e - b);
    }
}

// "a and b", "a or b" -> "a, b" (the words alone, not inside longer words).
void word_separators_to_commas(std::string& s) {
    for (std::string_view word : {"and", "or"}) {
        size_t p = 0;
        while ((p = s.find(word, p)) != std::string::npos) {
            size_t e = p + word.size();
            bool alone = (p == 0 || !(is_letter(s[p - 1]) || s[p - 1] == '\\')) &&
                         (e >= s.size() || !is_letter(s[e]));
            if (alone && p > 0 && e < s.size()) {
                s.replace(p, word.size(), ",");
                p += 1;
            } else {
                p = e;
            }
        }
    }
}

// "1,000,000" / "1 000" as the whole answer -> "1000000".
void drop_thousands_separators(std::string& s) {
    for (char sep : {',', ' '}) {
        size_t i = 0;
        if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
        size_t first = i;
        while (i < s.size() && is_digit(s[i])) ++i;
        size_t lead = i - first;
        if (lead < 1 || lead > 3) continue;
        int groups = 0;
        while (i + 3 < s.size() + 0 && s[i] == sep && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
               is_digit(s[i + 3])) {
            i += 4;
            ++groups;
            if (i < s.size() && is_digit(s[i])) {
                groups = 0;
                break;
            }
        }
        if (groups == 0) continue;
        if (i < s.size() && s[i] == '.') {
            ++i;
            size_t d = i;
            while (i < s.size() && is_digit(s[i])) ++i;
            if (i == d) continue;
        }
        if (i != s.size()) continue;
        std::string out;
        for (char c : s)
            if (c != sep) out += c;
        s = out;
        return;
    }
}

std::string clean_latex(std::string_view raw) {
    std::string s(trim(raw));
    // Unicode forms models print.
    replace_all(s, "\xE2\x88\x92", "-");         // minus sign
    replace_all(s, "\xC3\x97", "*");             // times
    replace_all(s, "\xC2\xB7", "*");             // middle dot
    replace_all(s, "\xE2\x8B\x85", "*");         // dot operator
    replace_all(s, "\xE2\x88\x9A", "\\sqrt");    // square root
    replace_all(s, "\xCF\x80", "\\pi ");         // pi
    replace_all(s, "\xE2\x88\x9E", "\\infty ");  // infinity
    replace_all(s, "\xC2\xB0", "^\\circ ");      // degree sign
    replace_all(s, "\xE2\x89\xA4", "<=");
    replace_all(s, "\xE2\x89\xA5", ">=");
    replace_all(s, "\xE2\x88\xAA", "\\cup ");
    replace_all(s, "\xC2\xA0", " ");  // no-break space
    // Math delimiters and money.
    replace_all(s, "\\$", "");
    replace_all(s, "$", "");
    replace_all(s, "\\(", "");
    replace_all(s, "\\)", "");
    replace_all(s, "\\[", "");
    replace_all(s, "\\]", "");
    matrices_to_tuples(s);  // before the spacing rules, which would eat "\\ "
    // Spacing.
    replace_all(s, ",\\! ", ",");  // "11,\! 111": a thousands separator
    replace_all(s, "\\!", "");
    replace_all(s, "{,}", ",");
    replace_all(s, "\\,", " ");
    replace_all(s, "\\;", " ");
    replace_all(s, "\\:", " ");
    replace_all(s, "\\ ", " ");
    replace_all(s, "~", " ");
    replace_command(s, "\\qquad", " ");
    replace_command(s, "\\quad", " ");
    replace_command(s, "\\displaystyle", " ");
    replace_command(s, "\\textstyle", " ");
    // Sizing of delimiters: keep the delimiter, drop "\left." and "\right.".
    replace_all(s, "\\left.", "");
    replace_all(s, "\\right.", "");
    for (std::string_view sizing : {"\\left", "\\right", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr",
                                    "\\biggl", "\\biggr", "\\big", "\\Big", "\\bigg", "\\Bigg"})
        replace_command(s, sizing, "");
    replace_command(s, "\\lbrace", "\\{");
    replace_command(s, "\\rbrace", "\\}");
    replace_command(s, "\\lvert", "|");
    replace_command(s, "\\rvert", "|");
    replace_command(s, "\\vert", "|");
    replace_command(s, "\\mid", "|");
    // Synonyms.
    replace_command(s, "\\dfrac", "\\frac");
    replace_command(s, "\\tfrac", "\\frac");
    replace_command(s, "\\cfrac", "\\frac");
    replace_command(s, "\\dbinom", "\\binom");
    replace_command(s, "\\tbinom", "\\binom");
    replace_command(s, "\\cdot", "*");
    replace_command(s, "\\times", "*");
    replace_command(s, "\\ast", "*");
    replace_command(s, "\\div", "/");
    replace_command(s, "\\leqslant", "<=");
    replace_command(s, "\\geqslant", ">=");
    replace_command(s, "\\leq", "<=");
    replace_command(s, "\\geq", ">=");
    replace_command(s, "\\le", "<=");
    replace_command(s, "\\ge", ">=");
    replace_command(s, "\\neq", "!=");
    replace_command(s, "\\ne", "!=");
    replace_command(s, "\\approx", "=");
    replace_command(s, "\\emptyset", "\\{\\}");
    replace_command(s, "\\varnothing", "\\{\\}");
    replace_all(s, "\\mathbb{R}", "(-\\infty,\\infty)");
    replace_command(s, "\\infin", "\\infty");
    replace_all(s, "\\%", "%");
    drop_degrees(s);
    drop_trailing_text_unit(s);
    unwrap_text(s);
    replace_all(s, "{,}", ",");
    // Words.
    {
        // "percent" after a quantity is a percent sign.
        std::string_view v = trim(s);
        for (std::string_view word : {"percent", "per cent"}) {
            if (v.size() > word.size() && v.substr(v.size() - word.size()) == word &&
                !is_letter(v[v.size() - word.size() - 1])) {
                s = std::string(v.substr(0, v.size() - word.size())) + "%";
                break;
            }
        }
    }
    drop_trailing_unit_words(s);
    word_separators_to_commas(s);
    // Whitespace, then trailing punctuation.
    std::string collapsed;
    for (char c : s) {
        if (is_space(c)) {
            if (!collapsed.empty() && collapsed.back() != ' ') collapsed += ' ';
        } else {
            collapsed += c;
        }
    }
    s = std::string(trim(collapsed));
    while (!s.empty() && (s.back() == '.' || s.back() == ',' || s.back() == ';')) {
        s.pop_back();
        s = std::string(trim(s));
    }
    drop_thousands_separators(s);
    return s;
}

// ------------------------------------------------------------------------------------------
// Tokens

enum class Tok { Num, Ident, Cmd, Sym };

struct Token {
    Tok kind;
    std::string text;
};

bool is_func_word(std::string_view w) {
    for (std::string_view f : {"sqrt", "pi", "sin", "cos", "tan", "cot", "sec", "csc", "arcsin",
                               "arccos", "arctan", "ln", "log", "exp", "infty", "infinity", "inf"})
        if (w == f) return true;
    return false;
}

std::optional<std::vector<Token>> tokenize(std::string_view s) {
    std::vector<Token> out;
    size_t i = 0;
    const size_t n = s.size();
    while (i < n) {
        if (out.size() > kMaxTokens) return std::nullopt;
        char c = s[i];
        if (is_space(c)) {
            ++i;
            continue;
        }
        if (is_digit(c) || (c == '.' && i + 1 < n && is_digit(s[i + 1]))) {
            size_t b = i;
            while (i < n && is_digit(s[i])) ++i;
            if (i < n && s[i] == '.') {
                ++i;
                while (i < n && is_digit(s[i])) ++i;
            }
            // Exponent: e5, E-9 (not when a letter follows: "2e x" stays 2 * e * x).
            if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                size_t j = i + 1;
                if (j < n && (s[j] == '+' || s[j] == '-')) ++j;
                size_t d = j;
                while (j < n && is_digit(s[j])) ++j;
                if (j > d && (j >= n || !is_letter(s[j]))) i = j;
            }
            out.push_back({Tok::Num, std::string(s.substr(b, i - b))});
            continue;
        }
        if (is_letter(c)) {
            size_t b = i;
            while (i < n && is_letter(s[i])) ++i;
            std::string_view word = s.substr(b, i - b);
            if (is_func_word(word)) {
                std::string name(word);
                if (name == "infinity" || name == "inf") name = "infty";
                out.push_back({Tok::Cmd, "\\" + name});
            } else {
                for (char l : word) out.push_back({Tok::Ident, std::string(1, l)});
            }
            continue;
        }
        if (c == '\\') {
            if (i + 1 < n && is_letter(s[i + 1])) {
                size_t b = i;
                ++i;
                while (i < n && is_letter(s[i])) ++i;
                out.push_back({Tok::Cmd, std::string(s.substr(b, i - b))});
            } else if (i + 1 < n) {
                out.push_back({Tok::Sym, std::string(s.substr(i, 2))});
                i += 2;
            } else {
                out.push_back({Tok::Sym, "\\"});
                ++i;
            }
            continue;
        }
        if (i + 1 < n && (c == '<' || c == '>' || c == '!') && s[i + 1] == '=') {
            out.push_back({Tok::Sym, std::string(s.substr(i, 2))});
            i += 2;
            continue;
        }
        out.push_back({Tok::Sym, std::string(1, c)});
        ++i;
    }
    if (out.size() > kMaxTokens) return std::nullopt;
    return out;
}

std::string join_tokens(const std::vector<Token>& t, size_t b, size_t e) {
    std::string out;
    for (size_t i = b; i < e; ++i) {
        if (i > b) out += ' ';
        out += t[i].text;
    }
    return out;
}

// ------------------------------------------------------------------------------------------
// Expressions: a recursive-descent parser into an arena, evaluated in double precision.

enum class Op { Num, Var, Add, Sub, Mul, Div, Pow, Neg, Fact, Func, Binom };

struct Node {
    Op op;
    double value = 0;
    std::string name;  // Var: variable name; Func: function name
    int a = -1;
    int b = -1;
    bool int_literal = false;   // a Num written as digits only
    bool int_fraction = false;  // \frac{int}{int}: the tail of a mixed number
};

struct ParseFail {};

bool is_greek(std::string_view cmd) {
    for (std::string_view g :
         {"\\alpha",  "\\beta",  "\\gamma",    "\\delta", "\\epsilon", "\\varepsilon", "\\zeta",
          "\\eta",    "\\theta", "\\vartheta", "\\iota",  "\\kappa",   "\\lambda",     "\\mu",
          "\\nu",     "\\xi",    "\\rho",      "\\sigma", "\\tau",     "\\upsilon",    "\\phi",
          "\\varphi", "\\chi",   "\\psi",      "\\omega", "\\Gamma",   "\\Delta",      "\\Theta",
          "\\Lambda", "\\Xi",    "\\Sigma",    "\\Phi",   "\\Psi",     "\\Omega"})
        if (cmd == g) return true;
    return false;
}

bool is_function_cmd(std::string_view cmd) {
    for (std::string_view f :
         {"\\sin", "\\cos", "\\tan", "\\cot", "\\sec", "\\csc", "\\arcsin", "\\arccos", "\\arctan",
          "\\ln", "\\log", "\\exp", "\\sinh", "\\cosh", "\\tanh"})
        if (cmd == f) return true;
    return false;
}

class ExprParser {
  public:
    ExprParser(std::vector<Token> tokens, std::vector<Node>& arena)
        : t_(std::move(tokens)), arena_(arena) {}

    // The whole token list as one expression, or nothing.
    std::optional<int> parse_all() {
        try {
            if (t_.empty()) return std::nullopt;
            int root = parse_expr();
            if (pos_ != t_.size()) return std::nullopt;
            return root;
        } catch (const ParseFail&) {
            return std::nullopt;
        }
    }

  private:
    struct DepthGuard {
        explicit DepthGuard(int& d) : d_(d) {
            if (++d_ > 2 * kMaxDepth) throw ParseFail{};
        }
        ~DepthGuard() { --d_; }
        int& d_;
    };

    bool at_end() const { return pos_ >= t_.size(); }
    bool is_sym(std::string_view s) const {
        return !at_end() && t_[pos_].kind == Tok::Sym && t_[pos_].text == s;
    }
    bool is_cmd(std::string_view s) const {
        return !at_end() && t_[pos_].kind == Tok::Cmd && t_[pos_].text == s;
    }
    void expect_sym(std::string_view s) {
        if (!is_sym(s)) throw ParseFail{};
        ++pos_;
    }

    int add(Node n) {
        if (arena_.size() > 8 * kMaxTokens) throw ParseFail{};
        arena_.push_back(std::move(n));
        return static_cast<int>(arena_.size()) - 1;
    }
    int binary(Op op, int a, int b) { return add({op, 0, "", a, b}); }
    int number(double v) { return add({Op::Num, v, "", -1, -1}); }

    // Can the current token begin a factor of an implicit product ("2x", "3\sqrt2")?
    bool starts_factor() const {
        if (at_end()) return false;
        const Token& k = t_[pos_];
        if (k.kind == Tok::Num || k.kind == Tok::Ident) return true;
        if (k.kind == Tok::Sym) return k.text == "(" || k.text == "{";
        return k.text == "\\frac" || k.text == "\\sqrt" || k.text == "\\pi" ||
               k.text == "\\lfloor" || k.text == "\\lceil" || k.text == "\\binom" ||
               k.text == "\\infty" || is_function_cmd(k.text) || is_greek(k.text);
    }

    int parse_expr() {
        DepthGuard g(depth_);
        int left = parse_term();
        while (is_sym("+") || is_sym("-")) {
            Op op = is_sym("+") ? Op::Add : Op::Sub;
            ++pos_;
            left = binary(op, left, parse_term());
        }
        return left;
    }

    int parse_term() {
        DepthGuard g(depth_);
        int left = parse_unary();
        int factors = 1;
        while (!at_end()) {
            if (is_sym("*") || is_sym("/")) {
                Op op = is_sym("*") ? Op::Mul : Op::Div;
                ++pos_;
                left = binary(op, left, parse_unary());
                ++factors;
                continue;
            }
            if (!starts_factor()) break;
            int right = parse_power();
            // "2\frac{1}{2}" is the mixed number 2 1/2 when it is the whole term.
            bool term_ends = !starts_factor() && !is_sym("*") && !is_sym("/");
            if (factors == 1 && term_ends && arena_[right].int_fraction) {
                if (arena_[left].op == Op::Num && arena_[left].int_literal) {
                    left = binary(Op::Add, left, right);
                    ++factors;
                    continue;
                }
                if (arena_[left].op == Op::Neg && arena_[arena_[left].a].int_literal) {
                    int sum = binary(Op::Add, arena_[left].a, right);
                    left = add({Op::Neg, 0, "", sum, -1});
                    ++factors;
                    continue;
                }
            }
            left = binary(Op::Mul, left, right);
            ++factors;
        }
        return left;
    }

    int parse_unary() {
        DepthGuard g(depth_);
        if (is_sym("-")) {
            ++pos_;
            return add({Op::Neg, 0, "", parse_unary(), -1});
        }
        if (is_sym("+")) {
            ++pos_;
            return parse_unary();
        }
        return parse_power();
    }

    int parse_power() {
        DepthGuard g(depth_);
        int base = parse_postfix();
        while (is_sym("^")) {
            ++pos_;
            base = binary(Op::Pow, base, parse_exponent());
        }
        return base;
    }

    // After '^': a braced group, or a signed single factor ("x^2", "2^-1", "e^x").
    int parse_exponent() {
        DepthGuard g(depth_);
        if (is_sym("{")) return parse_group("{", "}");
        if (is_sym("-")) {
            ++pos_;
            return add({Op::Neg, 0, "", parse_exponent(), -1});
        }
        if (is_sym("+")) {
            ++pos_;
            return parse_exponent();
        }
        return parse_postfix();
    }

    int parse_postfix() {
        DepthGuard g(depth_);
        int p = parse_primary();
        while (is_sym("!") || is_sym("%")) {
            if (is_sym("!")) {
                p = add({Op::Fact, 0, "", p, -1});
            } else {
                p = binary(Op::Div, p, number(100));
            }
            ++pos_;
        }
        return p;
    }

    int parse_group(std::string_view open, std::string_view close) {
        expect_sym(open);
        int e = parse_expr();
        expect_sym(close);
        return e;
    }

    // Argument of \frac, \sqrt, \binom: {group}, or one digit / one symbol ("\frac12").
    int parse_arg() {
        DepthGuard g(depth_);
        if (is_sym("{")) return parse_group("{", "}");
        if (at_end()) throw ParseFail{};
        Token& k = t_[pos_];
        if (k.kind == Tok::Num) {
            bool digits = std::all_of(k.text.begin(), k.text.end(), is_digit);
            if (digits && k.text.size() > 1) {
                double v = k.text[0] - '0';
                k.text.erase(0, 1);
                int id = number(v);
                arena_[id].int_literal = true;
                return id;
            }
        }
        return parse_primary();
    }

    // Argument of \sin, \ln, ...: (group), or the implicit product that follows ("\sin 2x").
    int parse_function_arg() {
        DepthGuard g(depth_);
        if (is_sym("(")) return parse_group("(", ")");
        int arg = parse_power();
        while (starts_factor() && !is_function_cmd(t_[pos_].text)) {
            arg = binary(Op::Mul, arg, parse_power());
        }
        return arg;
    }

    int parse_primary() {
        DepthGuard g(depth_);
        if (at_end()) throw ParseFail{};
        const Token k = t_[pos_];
        switch (k.kind) {
            case Tok::Num: {
                ++pos_;
                char* end = nullptr;
                double v = std::strtod(k.text.c_str(), &end);
                if (end == k.text.c_str()) throw ParseFail{};
                int id = number(v);
                arena_[id].int_literal = std::all_of(k.text.begin(), k.text.end(), is_digit);
                return id;
            }
            case Tok::Ident: {
                ++pos_;
                std::string name = k.text;
                if (is_sym("_")) {
                    ++pos_;
                    name += "_" + subscript_text();
                } else if (name == "e") {
                    return number(std::numbers::e);
                }
                return add({Op::Var, 0, name, -1, -1});
            }
            case Tok::Sym: {
                if (k.text == "(") return parse_group("(", ")");
                if (k.text == "{") return parse_group("{", "}");
                if (k.text == "[") return parse_group("[", "]");
                if (k.text == "|") {
                    ++pos_;
                    int inner = parse_expr();
                    expect_sym("|");
                    return add({Op::Func, 0, "abs", inner, -1});
                }
                throw ParseFail{};
            }
            case Tok::Cmd:
                break;
        }
        ++pos_;
        const std::string& c = k.text;
        if (c == "\\pi") return number(std::numbers::pi);
        if (c == "\\infty") return number(HUGE_VAL);
        if (c == "\\frac") {
            int num = parse_arg();
            int den = parse_arg();
            int id = binary(Op::Div, num, den);
            arena_[id].int_fraction = arena_[num].int_literal && arena_[den].int_literal;
            return id;
        }
        if (c == "\\lfloor" || c == "\\lceil") {
            int inner = parse_expr();
            if (!is_cmd(c == "\\lfloor" ? "\\rfloor" : "\\rceil")) throw ParseFail{};
            ++pos_;
            return add({Op::Func, 0, c == "\\lfloor" ? "floor" : "ceil", inner, -1});
        }
        if (c == "\\binom") {
            int n = parse_arg();
            int r = parse_arg();
            return binary(Op::Binom, n, r);
        }
        if (c == "\\sqrt") {
            if (is_sym("[")) {
                int index = parse_group("[", "]");
                int radicand = parse_arg();
                return binary(Op::Pow, radicand, binary(Op::Div, number(1), index));
            }
            return add({Op::Func, 0, "sqrt", parse_arg(), -1});
        }
        if (is_greek(c)) {
            std::string name = c;
            if (is_sym("_")) {
                ++pos_;
                name += "_" + subscript_text();
            }
            return add({Op::Var, 0, name, -1, -1});
        }
        if (is_function_cmd(c)) {
            int base = -1;
            int power = -1;
            if (c == "\\log" && is_sym("_")) {
                ++pos_;
                base = parse_arg();
            }
            if (is_sym("^")) {  // \sin^2 x
                ++pos_;
                power = parse_exponent();
            }
            int arg = parse_function_arg();
            int f = add({Op::Func, 0, c.substr(1), arg, -1});
            if (base >= 0) {
                arena_[f].name = "ln";
                f = binary(Op::Div, f, add({Op::Func, 0, "ln", base, -1}));
            }
            if (power >= 0) f = binary(Op::Pow, f, power);
            return f;
        }
        throw ParseFail{};
    }

    // The subscript after '_': a braced group or one token, as text.
    std::string subscript_text() {
        if (at_end()) throw ParseFail{};
        if (!is_sym("{")) return t_[pos_++].text;
        size_t b = pos_ + 1;
        int depth = 0;
        for (size_t i = pos_; i < t_.size(); ++i) {
            if (t_[i].kind == Tok::Sym && t_[i].text == "{") ++depth;
            if (t_[i].kind == Tok::Sym && t_[i].text == "}" && --depth == 0) {
                pos_ = i + 1;
                std::string s;
                for (size_t j = b; j < i; ++j) s += t_[j].text;
                return s;
            }
        }
        throw ParseFail{};
    }

    std::vector<Token> t_;
    std::vector<Node>& arena_;
    size_t pos_ = 0;
    int depth_ = 0;
};

using Vars = std::vector<std::pair<std::string, double>>;

double factorial(double x) {
    if (!(x >= 0) || x != std::floor(x) || x > 170) return NAN;
    return std::tgamma(x + 1);
}

double binom(double n, double k) {
    if (n != std::floor(n) || k != std::floor(k) || k < 0 || n < 0 || k > n || n > 1e6) return NAN;
    k = std::min(k, n - k);
    if (k > 1000) return std::exp(std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1));
    double r = 1;
    for (double i = 1; i <= k; ++i) r = r * (n - k + i) / i;
    return std::round(r);
}

double eval(const std::vector<Node>& arena, int id, const Vars& vars) {
    const Node& n = arena[id];
    auto A = [&] { return eval(arena, n.a, vars); };
    auto B = [&] { return eval(arena, n.b, vars); };
    switch (n.op) {
        case Op::Num:
            return n.value;
        case Op::Var:
            for (const auto& [name, v] : vars)
                if (name == n.name) return v;
            return NAN;
        case Op::Add:
            return A() + B();
        case Op::Sub:
            return A() - B();
        case Op::Mul:
            return A() * B();
        case Op::Div:
            return A() / B();
        case Op::Pow:
            return std::pow(A(), B());
        case Op::Neg:
            return -A();
        case Op::Fact:
            return factorial(A());
        case Op::Binom:
            return binom(A(), B());
        case Op::Func: {
            double x = A();
            const std::string& f = n.name;
            if (f == "sqrt") return std::sqrt(x);
            if (f == "abs") return std::fabs(x);
            if (f == "floor") return std::floor(x);
            if (f == "ceil") return std::ceil(x);
            if (f == "sin") return std::sin(x);
            if (f == "cos") return std::cos(x);
            if (f == "tan") return std::tan(x);
            if (f == "cot") return 1 / std::tan(x);
            if (f == "sec") return 1 / std::cos(x);
            if (f == "csc") return 1 / std::sin(x);
            if (f == "arcsin") return std::asin(x);
            if (f == "arccos") return std::acos(x);
            if (f == "arctan") return std::atan(x);
            if (f == "sinh") return std::sinh(x);
            if (f == "cosh") return std::cosh(x);
            if (f == "tanh") return std::tanh(x);
            if (f == "ln") return std::log(x);
            if (f == "log") return std::log10(x);
            if (f == "exp") return std::exp(x);
            return NAN;
        }
    }
    return NAN;
}

void collect_vars(const std::vector<Node>& arena, int id, std::vector<std::string>& out) {
    const Node& n = arena[id];
    if (n.op == Op::Var) {
        if (std::find(out.begin(), out.end(), n.name) == out.end()) out.push_back(n.name);
        return;
    }
    if (n.a >= 0) collect_vars(arena, n.a, out);
    if (n.b >= 0) collect_vars(arena, n.b, out);
}

// ------------------------------------------------------------------------------------------
// Structure: tuples, intervals, sets, lists, unions, equations, expressions.

enum class Kind { Expr, Equation, Tuple, Set, List, Union, Text };

// How a lone number was written; drives the tolerance (docs/grading.md, "Numbers").
struct Literal {
    bool is_literal = false;   // the whole item is one number: 12, -0.5, 4.4e7, 4.4*10^{7}
    bool is_integer = false;   // digits only (exact comparison as digit strings)
    bool approximate = false;  // written with a decimal point or an exponent
    std::string digits;        // is_integer: sign and digits without leading zeros
    double ulp = 0;            // unit in the last written place
    int significant = 0;       // significant digits written
};

struct Item {
    Kind kind = Kind::Text;
    std::string text;  // canonical text (Text items are compared by it)
    std::string open, close;
    std::vector<Item> parts;
    int root = -1;             // Expr
    bool percent = false;      // Expr written with a trailing %
    bool has_decimal = false;  // Expr contains a number with a decimal point or exponent
    Literal literal;
};

bool sym_at(const std::vector<Token>& t, size_t i, std::string_view s) {
    return i < t.size() && t[i].kind == Tok::Sym && t[i].text == s;
}

bool is_opener(const Token& k) {
    return k.kind == Tok::Sym &&
           (k.text == "(" || k.text == "[" || k.text == "{" || k.text == "\\{");
}
bool is_closer(const Token& k) {
    return k.kind == Tok::Sym &&
           (k.text == ")" || k.text == "]" || k.text == "}" || k.text == "\\}");
}

// Ranges separated by tokens for which `sep` holds, at bracket depth 0.
template <typename Sep>
std::vector<std::pair<size_t, size_t>> split_top(const std::vector<Token>& t, size_t b, size_t e,
                                                 Sep sep) {
    std::vector<std::pair<size_t, size_t>> parts;
    int depth = 0;
    size_t start = b;
    for (size_t i = b; i < e; ++i) {
        if (is_opener(t[i])) ++depth;
        if (is_closer(t[i])) --depth;
        if (depth == 0 && sep(i)) {
            parts.emplace_back(start, i);
            start = i + 1;
        }
    }
    parts.emplace_back(start, e);
    return parts;
}

// Index of the bracket closing the opener at b (any bracket kinds: "[1,2)"), or e.
size_t matching_close(const std::vector<Token>& t, size_t b, size_t e) {
    int depth = 0;
    for (size_t i = b; i < e; ++i) {
        if (is_opener(t[i])) ++depth;
        if (is_closer(t[i]) && --depth == 0) return i;
    }
    return e;
}

Literal literal_of(const std::vector<Token>& t, size_t b, size_t e) {
    Literal lit;
    bool negative = false;
    if (b < e && (sym_at(t, b, "-") || sym_at(t, b, "+"))) {
        negative = t[b].text == "-";
        ++b;
    }
    if (b >= e || t[b].kind != Tok::Num) return lit;
    const std::string& num = t[b].text;
    std::string mantissa = num;
    long exponent = 0;
    size_t epos = num.find_first_of("eE");
    if (epos != std::string::npos) {
        mantissa = num.substr(0, epos);
        exponent = std::strtol(num.c_str() + epos + 1, nullptr, 10);
    }
    bool sci = epos != std::string::npos;
    size_t next = b + 1;
    // "4.4 * 10^{7}" / "4.4*10^7"
    if (next < e && sym_at(t, next, "*") && next + 2 < e && t[next + 1].kind == Tok::Num &&
        t[next + 1].text == "10" && sym_at(t, next + 2, "^")) {
        size_t j = next + 3;
        bool braced = sym_at(t, j, "{");
        if (braced) ++j;
        bool neg = false;
        if (sym_at(t, j, "-") || sym_at(t, j, "+")) {
            neg = t[j].text == "-";
            ++j;
        }
        if (j < e && t[j].kind == Tok::Num &&
            std::all_of(t[j].text.begin(), t[j].text.end(), is_digit) && t[j].text.size() < 6) {
            long x = std::strtol(t[j].text.c_str(), nullptr, 10);
            ++j;
            if (!braced || sym_at(t, j, "}")) {
                if (braced) ++j;
                exponent += neg ? -x : x;
                sci = true;
                next = j;
            }
        }
    }
    if (next != e) return lit;
    lit.is_literal = true;
    size_t point = mantissa.find('.');
    int decimals = point == std::string::npos ? 0 : static_cast<int>(mantissa.size() - point - 1);
    lit.approximate = point != std::string::npos || sci;
    lit.ulp = std::pow(10.0, static_cast<double>(exponent - decimals));
    std::string sig;
    for (char c : mantissa)
        if (is_digit(c)) sig += c;
    size_t nz = sig.find_first_not_of('0');
    lit.significant = nz == std::string::npos ? 0 : static_cast<int>(sig.size() - nz);
    if (!lit.approximate) {
        lit.is_integer = true;
        std::string digits = nz == std::string::npos ? "0" : sig.substr(nz);
        lit.digits = (negative && digits != "0" ? "-" : "") + digits;
    }
    return lit;
}

// "x", "a_1", "x_{n}", "\theta", "f(x)": a left-hand side that only names the answer.
bool is_name(const std::vector<Token>& t, size_t b, size_t e) {
    if (b >= e) return false;
    bool head = t[b].kind == Tok::Ident || (t[b].kind == Tok::Cmd && is_greek(t[b].text));
    if (!head) return false;
    size_t i = b + 1;
    if (i == e) return true;
    if (sym_at(t, i, "_")) {
        ++i;
        if (sym_at(t, i, "{")) {
            i = matching_close(t, i, e);
            if (i == e) return false;
        }
        return i + 1 == e;
    }
    return sym_at(t, i, "(") && i + 2 < e + 0 && t[i + 1].kind == Tok::Ident &&
           sym_at(t, i + 2, ")") && i + 3 == e;
}

// A name, or a bracketed list of names: "(x, y) = (1, 2)".
bool is_names(const std::vector<Token>& t, size_t b, size_t e) {
    if (is_name(t, b, e)) return true;
    if (b >= e || !is_opener(t[b]) || matching_close(t, b, e) != e - 1) return false;
    auto comma = [&](size_t i) { return sym_at(t, i, ","); };
    for (const auto& [nb, ne] : split_top(t, b + 1, e - 1, comma))
        if (!is_name(t, nb, ne)) return false;
    return true;
}

class Answer {
  public:
    std::vector<Token> tokens;
    std::vector<Node> arena;
    Item root;

    Item parse(size_t b, size_t e, int depth) {
        Item item;
        item.text = join_tokens(tokens, b, e);
        if (b >= e || depth > kMaxDepth) return item;
        const auto& t = tokens;

        // Union: A \cup B (also "U" between brackets).
        auto cup = [&](size_t i) {
            if (t[i].kind == Tok::Cmd && t[i].text == "\\cup") return true;
            return t[i].kind == Tok::Ident && t[i].text == "U" && i > b && i + 1 < e &&
                   is_closer(t[i - 1]) && is_opener(t[i + 1]);
        };
        auto unions = split_top(t, b, e, cup);
        if (unions.size() > 1) return group(Kind::Union, unions, item, depth);

        auto comma = [&](size_t i) { return sym_at(t, i, ",") || sym_at(t, i, ";"); };
        // Wrapped in one pair of brackets.
        if (is_opener(t[b]) && matching_close(t, b, e) == e - 1) {
            const std::string& open = t[b].text;
            const std::string& close = t[e - 1].text;
            auto inner = split_top(t, b + 1, e - 1, comma);
            bool has_comma = inner.size() > 1;
            if (open == "\\{") {
                if (b + 1 == e - 1) inner.clear();  // \{\}: the empty set
                return group(Kind::Set, inner, item, depth);
            }
            if (open == "{") {
                if (has_comma) return group(Kind::Set, inner, item, depth);
                if (close == "}") return parse(b + 1, e - 1, depth + 1);
                return item;
            }
            if (has_comma) {
                Item tuple = group(Kind::Tuple, inner, item, depth);
                tuple.open = open;
                tuple.close = close;
                return tuple;
            }
            if ((open == "(" && close == ")") || (open == "[" && close == "]"))
                return parse(b + 1, e - 1, depth + 1);
            return item;  // "[5)": text
        }

        auto items = split_top(t, b, e, comma);
        if (items.size() > 1) return group(Kind::List, items, item, depth);

        // Relations: "x = 5", "x \in [0,1]", "y = 2x + 3", "x^2 + y^2 = 1".
        auto eq = [&](size_t i) {
            return sym_at(t, i, "=") || (t[i].kind == Tok::Cmd && t[i].text == "\\in");
        };
        auto sides = split_top(t, b, e, eq);
        if (sides.size() > 1) {
            if (is_names(t, sides[0].first, sides[0].second))
                return parse(sides.back().first, sides.back().second, depth + 1);
            if (sides.size() != 2 || sides[0].first == sides[0].second ||
                sides[1].first == sides[1].second)
                return item;  // "a = b = c", "= 5", "x =": text
            Item equation = item;
            equation.kind = Kind::Equation;
            equation.parts.push_back(parse(sides[0].first, sides[0].second, depth + 1));
            equation.parts.push_back(parse(sides[1].first, sides[1].second, depth + 1));
            return equation;
        }
        for (size_t i = b; i < e; ++i) {
            const std::string& s = t[i].text;
            if (t[i].kind == Tok::Sym &&
                (s == "<" || s == ">" || s == "<=" || s == ">=" || s == "!=" || s == "\\\\"))
                return item;  // inequalities and the like: compared as text
        }

        // A number or an expression, perhaps with a trailing %.
        size_t expr_end = e;
        if (sym_at(t, e - 1, "%")) {
            item.percent = true;
            --expr_end;
        }
        if (expr_end == b) return item;
        std::vector<Token> sub(t.begin() + b, t.begin() + expr_end);
        ExprParser parser(std::move(sub), arena);
        auto root_id = parser.parse_all();
        if (!root_id) {
            item.percent = false;
            return item;
        }
        item.kind = Kind::Expr;
        item.root = *root_id;
        item.literal = literal_of(t, b, expr_end);
        for (size_t i = b; i < expr_end; ++i) {
            if (t[i].kind == Tok::Num && t[i].text.find_first_of(".eE") != std::string::npos)
                item.has_decimal = true;
        }
        return item;
    }

  private:
    Item group(Kind kind, const std::vector<std::pair<size_t, size_t>>& ranges, Item item,
               int depth) {
        if (ranges.size() > kMaxListItems) return item;  // stays text
        item.kind = kind;
        for (const auto& [rb, re] : ranges) item.parts.push_back(parse(rb, re, depth + 1));
        return item;
    }
};

// ------------------------------------------------------------------------------------------
// Comparison

bool close_values(double x, double y, double rel_tol) {
    if (std::isnan(x) || std::isnan(y)) return false;
    if (std::isinf(x) || std::isinf(y)) return x == y;
    double scale = std::max(std::fabs(x), std::fabs(y));
    return std::fabs(x - y) <= rel_tol * scale + 1e-12;
}

struct NumberView {
    double value;
    bool approximate;  // the side uses decimal notation somewhere
    const Literal* literal;
    double scale;  // 1, or 1/100 for the "percent as a fraction" reading
};

bool numbers_equal(const NumberView& a, const NumberView& b) {
    double x = a.value * a.scale;
    double y = b.value * b.scale;
    if (close_values(x, y, kExactRelTol)) return true;
    if ((a.approximate || b.approximate) && close_values(x, y, kDecimalRelTol)) return true;
    // Two written decimals: the more precise one rounds to the coarser one.
    if (a.literal->is_literal && b.literal->is_literal && std::isfinite(x) && std::isfinite(y)) {
        const NumberView& coarse = a.literal->ulp * a.scale >= b.literal->ulp * b.scale ? a : b;
        double ulp = coarse.literal->ulp * coarse.scale;
        if (coarse.literal->approximate && coarse.literal->significant >= 2 &&
            std::fabs(x - y) <= 0.5 * ulp * (1 + 1e-9))
            return true;
    }
    return false;
}

// f and g agree at random positive points (a fixed seed: grading is deterministic). Points
// where both are undefined are skipped; one defined and the other not is a difference.
template <typename F, typename G>
bool agree_at_random_points(const std::vector<std::string>& vars, F f, G g, double rel_tol) {
    Rng rng(0x5eedULL);
    Vars point(vars.size());
    int agreeing = 0;
    for (int trial = 0; trial < 3 * kSymbolicPoints && agreeing < kSymbolicPoints; ++trial) {
        for (size_t i = 0; i < vars.size(); ++i) point[i] = {vars[i], 0.5 + 2.0 * rng.uniform()};
        double x = f(point);
        double y = g(point);
        bool fx = std::isfinite(x);
        bool fy = std::isfinite(y);
        if (!fx && !fy) continue;
        if (fx != fy || !close_values(x, y, rel_tol)) return false;
        ++agreeing;
    }
    return agreeing >= 3;
}

bool exprs_equal(const Answer& A, const Item& a, const Answer& B, const Item& b) {
    if (a.literal.is_integer && b.literal.is_integer && !a.percent && !b.percent)
        return a.literal.digits == b.literal.digits;
    std::vector<std::string> vars;
    collect_vars(A.arena, a.root, vars);
    collect_vars(B.arena, b.root, vars);
    if (vars.empty()) {
        double x = eval(A.arena, a.root, {});
        double y = eval(B.arena, b.root, {});
        for (double sa : {1.0, 0.01}) {
            if (sa != 1.0 && !a.percent) continue;
            for (double sb : {1.0, 0.01}) {
                if (sb != 1.0 && !b.percent) continue;
                if (numbers_equal({x, a.has_decimal, &a.literal, sa},
                                  {y, b.has_decimal, &b.literal, sb}))
                    return true;
            }
        }
        return false;
    }
    if (vars.size() > 16) return false;
    double tol = (a.has_decimal || b.has_decimal) ? kDecimalRelTol : kSymbolicRelTol;
    return agree_at_random_points(
        vars, [&](const Vars& p) { return eval(A.arena, a.root, p); },
        [&](const Vars& p) { return eval(B.arena, b.root, p); }, tol);
}

// The same equation, perhaps rearranged: lhs - rhs agree up to the sign
// ("x^2 + y^2 = 1" and "1 = y^2 + x^2", "y = 2x + 3" and "2x - y + 3 = 0").
bool equations_agree(const Answer& A, const Item& a, const Answer& B, const Item& b) {
    for (const Item* side : {&a.parts[0], &a.parts[1], &b.parts[0], &b.parts[1]})
        if (side->kind != Kind::Expr) return false;
    std::vector<std::string> vars;
    for (const Item& side : a.parts) collect_vars(A.arena, side.root, vars);
    for (const Item& side : b.parts) collect_vars(B.arena, side.root, vars);
    if (vars.empty() || vars.size() > 16) return false;
    auto diff = [](const Answer& X, const Item& eq, const Vars& p) {
        return eval(X.arena, eq.parts[0].root, p) - eval(X.arena, eq.parts[1].root, p);
    };
    for (double sign : {1.0, -1.0}) {
        if (agree_at_random_points(
                vars, [&](const Vars& p) { return diff(A, a, p); },
                [&](const Vars& p) { return sign * diff(B, b, p); }, kSymbolicRelTol))
            return true;
    }
    return false;
}

bool items_equal(const Answer& A, const Item& a, const Answer& B, const Item& b, int depth);

// Every item of `xs` matched with a distinct equal item of `ys` (greedy).
bool multiset_equal(const Answer& A, const std::vector<Item>& xs, const Answer& B,
                    const std::vector<Item>& ys, int depth) {
    if (xs.size() != ys.size()) return false;
    std::vector<bool> used(ys.size(), false);
    for (const Item& x : xs) {
        bool found = false;
        for (size_t j = 0; j < ys.size() && !found; ++j) {
            if (!used[j] && items_equal(A, x, B, ys[j], depth + 1)) {
                used[j] = true;
                found = true;
            }
        }
        if (!found) return false;
    }
    return true;
}

bool words_equal(const std::string& x, const std::string& y) {
    if (x.empty() || x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
        if (lower(x[i]) != lower(y[i])) return false;
        if (!is_letter(x[i]) && x[i] != ' ') return false;
    }
    return true;
}

bool items_equal(const Answer& A, const Item& a, const Answer& B, const Item& b, int depth) {
    if (depth > kMaxDepth) return false;
    if (a.text == b.text && !a.text.empty()) return true;
    if (a.kind == Kind::Text || b.kind == Kind::Text) return words_equal(a.text, b.text);
    bool unordered_a = a.kind == Kind::Set || a.kind == Kind::List;
    bool unordered_b = b.kind == Kind::Set || b.kind == Kind::List;
    if (unordered_a && unordered_b) return multiset_equal(A, a.parts, B, b.parts, depth);
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case Kind::Expr:
            return exprs_equal(A, a, B, b);
        case Kind::Union:
            return multiset_equal(A, a.parts, B, b.parts, depth);
        case Kind::Tuple:
            if (a.open != b.open || a.close != b.close || a.parts.size() != b.parts.size())
                return false;
            for (size_t i = 0; i < a.parts.size(); ++i)
                if (!items_equal(A, a.parts[i], B, b.parts[i], depth + 1)) return false;
            return true;
        case Kind::Equation: {
            const auto& p = a.parts;
            const auto& q = b.parts;
            if (equations_agree(A, a, B, b)) return true;
            return (items_equal(A, p[0], B, q[0], depth + 1) &&
                    items_equal(A, p[1], B, q[1], depth + 1)) ||
                   (items_equal(A, p[0], B, q[1], depth + 1) &&
                    items_equal(A, p[1], B, q[0], depth + 1));
        }
        default:
            return false;
    }
}

// "A", "(A)", "A)": a multiple-choice letter A-E; 0 if not one.
char choice_letter(const std::vector<Token>& t) {
    auto letter = [](const Token& k) {
        return k.kind == Tok::Ident && k.text[0] >= 'A' && k.text[0] <= 'E';
    };
    if (t.size() == 1 && letter(t[0])) return t[0].text[0];
    if (t.size() == 3 && sym_at(t, 0, "(") && letter(t[1]) && sym_at(t, 2, ")"))
        return t[1].text[0];
    if (t.size() == 2 && letter(t[0]) && sym_at(t, 1, ")")) return t[0].text[0];
    return 0;
}

// "(B) 27" -> the letter, and the rest starting at *rest.
char leading_choice(const std::vector<Token>& t, size_t* rest) {
    if (t.size() > 3 && sym_at(t, 0, "(") && t[1].kind == Tok::Ident && t[1].text[0] >= 'A' &&
        t[1].text[0] <= 'E' && sym_at(t, 2, ")")) {
        *rest = 3;
        return t[1].text[0];
    }
    return 0;
}

bool equivalent_impl(std::string_view a, std::string_view b) {
    if (a.size() > kMaxAnswerChars || b.size() > kMaxAnswerChars) return trim(a) == trim(b);
    std::string ca = clean_latex(a);
    std::string cb = clean_latex(b);
    if (ca.empty() || cb.empty()) return false;
    // Answers in words ("Evelyn", "odd"): case-insensitive text.
    auto words = [](const std::string& s) {
        bool run = false;
        for (size_t i = 0; i < s.size(); ++i) {
            if (!is_letter(s[i]) && s[i] != ' ') return false;
            if (i > 0 && is_letter(s[i]) && is_letter(s[i - 1])) run = true;
        }
        return run;
    };
    if (words(ca) && words(cb)) {
        std::string la = ca;
        std::string lb = cb;
        for (char& c : la) c = lower(c);
        for (char& c : lb) c = lower(c);
        return la == lb;
    }
    auto ta = tokenize(ca);
    auto tb = tokenize(cb);
    if (!ta || !tb) return ca == cb;
    if (ta->empty() || tb->empty()) return false;
    if (join_tokens(*ta, 0, ta->size()) == join_tokens(*tb, 0, tb->size())) return true;

    // Multiple choice.
    char la = choice_letter(*ta);
    char lb = choice_letter(*tb);
    size_t rest_a = 0;
    size_t rest_b = 0;
    char lead_a = leading_choice(*ta, &rest_a);
    char lead_b = leading_choice(*tb, &rest_b);
    if (la && lb) return la == lb;
    if (la) return lead_b == la;
    if (lb) return lead_a == lb;
    // A choice label in front of a value ("(B) 27") is dropped when the other side is a value.
    if (lead_a) ta->erase(ta->begin(), ta->begin() + static_cast<long>(rest_a));
    if (lead_b) tb->erase(tb->begin(), tb->begin() + static_cast<long>(rest_b));

    Answer A;
    A.tokens = std::move(*ta);
    A.root = A.parse(0, A.tokens.size(), 0);
    Answer B;
    B.tokens = std::move(*tb);
    B.root = B.parse(0, B.tokens.size(), 0);
    return items_equal(A, A.root, B, B.root, 0);
}

}  // namespace

std::string extract_answer(std::string_view completion, const ExtractOptions& options) {
    try {
        if (auto boxed = last_box(completion)) return *boxed;
        if (!options.fallbacks) return "";
        std::string_view region = answer_region(completion);
        if (auto phrase = phrase_answer(region)) return *phrase;
        if (auto number = last_number(region)) return *number;
    } catch (...) {  // e.g. std::bad_alloc: grading must not abort a run
    }
    return "";
}

bool answers_equivalent(std::string_view a, std::string_view b) {
    try {
        return equivalent_impl(a, b);
    } catch (...) {
        return false;
    }
}

GradeResult grade_math(std::string_view completion, std::string_view reference_answer,
                       const ExtractOptions& options) {
    GradeResult result;
    result.extracted = extract_answer(completion, options);
    result.correct =
        !result.extracted.empty() && answers_equivalent(result.extracted, reference_answer);
    return result;
}

std::string normalize_answer(std::string_view answer) {
    try {
        if (answer.size() > kMaxAnswerChars) return std::string(trim(answer));
        std::string cleaned = clean_latex(answer);
        auto tokens = tokenize(cleaned);
        if (!tokens) return cleaned;
        return join_tokens(*tokens, 0, tokens->size());
    } catch (...) {
        return std::string(trim(answer));
    }
}

}  // namespace vase
