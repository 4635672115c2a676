// Qwen3's chat template, step by step in the order the Jinja source does it.
// The string helpers below mirror the Python str methods the template calls
// (split, strip, lstrip, rstrip with '\n'); they work on UTF-8 bytes, which
// is exact because every separator they look for is ASCII.
#include "text/chat_template.h"

#include "util/error.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace vase {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

std::string_view lstrip_newlines(std::string_view s) {
    while (!s.empty() && s.front() == '\n') s.remove_prefix(1);
    return s;
}

std::string_view rstrip_newlines(std::string_view s) {
    while (!s.empty() && s.back() == '\n') s.remove_suffix(1);
    return s;
}

std::string_view strip_newlines(std::string_view s) {
    return lstrip_newlines(rstrip_newlines(s));
}

// Python s.split(sep)[0]: the text before the first `sep`.
std::string_view before_first(std::string_view s, std::string_view sep) {
    return s.substr(0, s.find(sep));
}

// Python s.split(sep)[-1]: the text after the last `sep`.
std::string_view after_last(std::string_view s, std::string_view sep) {
    size_t at = s.rfind(sep);
    return at == std::string_view::npos ? s : s.substr(at + sep.size());
}

bool is_tool_response(std::string_view content) {
    return content.starts_with("<tool_response>") && content.ends_with("</tool_response>");
}

void check_roles(const std::vector<ChatMessage>& messages) {
    if (messages.empty()) fail("chat: the conversation has no messages");
    for (size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage& m = messages[i];
        if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool") {
            fail(
                "chat: message {} has role '{}'; the Qwen3 chat format knows system, user, "
                "assistant and tool",
                i, m.role);
        }
        if (!m.tool_calls.empty() && m.role != "assistant") {
            fail(
                "chat: message {} has role '{}' but carries tool calls; only assistant "
                "messages may",
                i, m.role);
        }
    }
}

void append_tools_system_turn(std::string& out, const std::vector<ChatMessage>& messages,
                              const std::vector<nlohmann::ordered_json>& tools) {
    out += "<|im_start|>system\n";
    if (messages[0].role == "system") {
        out += messages[0].content;
        out += "\n\n";
    }
    out +=
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
    for (const auto& tool : tools) {
        out += '\n';
        out += python_json_dumps(tool);
    }
    out +=
        "\n</tools>\n\nFor each function call, return a json object with function name and "
        "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
        "<function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n";
}

void append_assistant(std::string& out, const ChatMessage& m, bool keep_thinking, bool is_last) {
    std::string_view content = m.content;
    std::string_view reasoning;
    if (m.reasoning_content) {
        reasoning = *m.reasoning_content;
    } else if (content.find(kThinkClose) != std::string_view::npos) {
        reasoning = lstrip_newlines(
            after_last(rstrip_newlines(before_first(content, kThinkClose)), kThinkOpen));
        content = lstrip_newlines(after_last(content, kThinkClose));
    }

    out += "<|im_start|>assistant\n";
    // Turns after the last user query (the current tool-using answer) keep
    // their thinking; the last turn always gets a think block, even empty.
    if (keep_thinking && (is_last || !reasoning.empty())) {
        out += "<think>\n";
        out += strip_newlines(reasoning);
        out += "\n</think>\n\n";
        out += lstrip_newlines(content);
    } else {
        out += content;
    }

    for (size_t i = 0; i < m.tool_calls.size(); ++i) {
        const ToolCall& call = m.tool_calls[i];
        if (i > 0 || !content.empty()) out += '\n';
        out += "<tool_call>\n{\"name\": \"";
        out += call.name;
        out += "\", \"arguments\": ";
        if (call.arguments.is_string()) {
            out += call.arguments.get_ref<const std::string&>();
        } else {
            out += python_json_dumps(call.arguments);
        }
        out += "}\n</tool_call>";
    }
    out += "<|im_end|>\n";
}

void append_json_string(std::string& out, const std::string& s) {
    out += '"';
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;  // ensure_ascii=False: UTF-8 passes through
                }
        }
    }
    out += '"';
}

// float.__repr__: the shortest digits that round-trip, written in positional
// notation for decimal exponents -4..15 and in scientific notation otherwise.
void append_python_float(std::string& out, double x) {
    if (std::isnan(x)) {
        out += "NaN";
        return;
    }
    if (std::isinf(x)) {
        out += x < 0 ? "-Infinity" : "Infinity";
        return;
    }
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
    std::string_view sci(buf, static_cast<size_t>(end - buf));  // e.g. "-1.25e+02"
    if (sci.front() == '-') {
        out += '-';
        sci.remove_prefix(1);
    }
    size_t e_at = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e_at)) {
        if (c != '.') digits += c;
    }
    int exponent = 0;
    std::string_view exp_text = sci.substr(e_at + 1);
    if (exp_text.front() == '+') exp_text.remove_prefix(1);
    std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);

    if (exponent < -4 || exponent >= 16) {
        out += digits[0];
        if (digits.size() > 1) {
            out += '.';
            out.append(digits, 1);
        }
        out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
    } else if (exponent < 0) {
        out += "0.";
        out.append(static_cast<size_t>(-exponent - 1), '0');
        out += digits;
    } else {
        const size_t int_digits = static_cast<size_t>(exponent) + 1;
        if (digits.size() <= int_digits) {
            out += digits;
            out.append(int_digits - digits.size(), '0');
            out += ".0";
        } else {
            out.append(digits, 0, int_digits);
            out += '.';
            out.append(digits, int_digits);
        }
    }
}

void append_python_json(std::string& out, const nlohmann::ordered_json& v) {
    using Type = nlohmann::ordered_json::value_t;
    switch (v.type()) {
        case Type::null:
            out += "null";
            break;
        case Type::boolean:
            out += v.get<bool>() ? "true" : "false";
            break;
        case Type::number_integer:
            out += std::to_string(v.get<int64_t>());
            break;
        case Type::number_unsigned:
            out += std::to_string(v.get<uint64_t>());
            break;
        case Type::number_float:
            append_python_float(out, v.get<double>());
            break;
        case Type::string:
            append_json_string(out, v.get_ref<const std::string&>());
            break;
        case Type::array: {
            out += '[';
            bool first = true;
            for (const auto& item : v) {
                if (!first) out += ", ";
                first = false;
                append_python_json(out, item);
            }
            out += ']';
            break;
        }
        case Type::object: {
            out += '{';
            bool first = true;
            for (const auto& [key, item] : v.items()) {
                if (!first) out += ", ";
                first = false;
                append_json_string(out, key);
                out += ": ";
                append_python_json(out, item);
            }
            out += '}';
            break;
        }
        case Type::binary:
        case Type::discarded:
            fail("chat: a tool definition holds a value JSON cannot write");
    }
}

}  // namespace

std::string python_json_dumps(const nlohmann::ordered_json& value) {
    std::string out;
    append_python_json(out, value);
    return out;
}

std::string render_chat(const std::vector<ChatMessage>& messages, const ChatOptions& options) {
    check_roles(messages);
    const size_t n = messages.size();
    std::string out;

    if (!options.tools.empty()) {
        append_tools_system_turn(out, messages, options.tools);
    } else if (messages[0].role == "system") {
        out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
    }

    // The last user message that is a real query, not a wrapped tool result.
    // Without one, the template leaves the index at the last message.
    size_t last_query = n - 1;
    for (size_t i = n; i-- > 0;) {
        if (messages[i].role == "user" && !is_tool_response(messages[i].content)) {
            last_query = i;
            break;
        }
    }

    for (size_t i = 0; i < n; ++i) {
        const ChatMessage& m = messages[i];
        const bool is_last = i + 1 == n;
        if (m.role == "user" || (m.role == "system" && i > 0)) {
            out += "<|im_start|>" + m.role + '\n' + m.content + "<|im_end|>\n";
        } else if (m.role == "assistant") {
            append_assistant(out, m, i > last_query, is_last);
        } else if (m.role == "tool") {
            // Consecutive tool results share one user turn.
            if (i == 0 || messages[i - 1].role != "tool") out += "<|im_start|>user";
            out += "\n<tool_response>\n" + m.content + "\n</tool_response>";
            if (is_last || messages[i + 1].role != "tool") out += "<|im_end|>\n";
        }
    }

    if (options.add_generation_prompt) {
        out += "<|im_start|>assistant\n";
        if (!options.enable_thinking) out += "<think>\n\n</think>\n\n";
    }
    return out;
}

bool is_qwen3_chat_template(std::string_view src) {
    // Fragments that decide what the template writes; whitespace control and
    // layout may differ between copies (GGUF re-exports), these may not.
    static constexpr std::string_view kRequired[] = {
        R"('<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n')",
        R"(last_query_index)",
        R"(message.content.split('</think>')[-1].lstrip('\n'))",
        R"('\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n'))",
        R"(enable_thinking is defined and enable_thinking is false)",
        R"('<think>\n\n</think>\n\n')",
        R"('\n<tool_response>\n')",
    };
    for (std::string_view fragment : kRequired) {
        if (src.find(fragment) == std::string_view::npos) return false;
    }
    // Qwen3-*-Thinking-2507 opens the think block in the generation prompt.
    return src.find(R"('<|im_start|>assistant\n<think>\n')") == std::string_view::npos;
}

SplitReasoning split_reasoning(std::string_view generated, bool prompt_opened_think) {
    SplitReasoning out;
    std::string_view rest = generated;
    const size_t start = rest.find_first_not_of(" \t\r\n");
    if (start != std::string_view::npos && rest.substr(start).starts_with(kThinkOpen)) {
        // Qwen3 opens the block itself; after a prompt that already opened it,
        // vLLM drops a repeated <think> too.
        rest.remove_prefix(start + kThinkOpen.size());
    } else if (!prompt_opened_think) {
        out.content = generated;  // no think block: all answer
        return out;
    }
    size_t close = rest.find(kThinkClose);
    if (close == std::string_view::npos) {
        out.reasoning = strip_newlines(rest);
        out.thinking_closed = false;
        return out;
    }
    out.reasoning = strip_newlines(rest.substr(0, close));
    out.content = lstrip_newlines(rest.substr(close + kThinkClose.size()));
    return out;
}

bool prompt_opens_think(std::string_view prompt) {
    size_t open = prompt.rfind(kThinkOpen);
    return open != std::string_view::npos &&
           prompt.find(kThinkClose, open) == std::string_view::npos;
}

}  // namespace vase
