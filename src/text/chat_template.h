// The Qwen3 chat format, written out in C++ instead of interpreting the Jinja
// template shipped in tokenizer_config.json: render_chat() produces byte for
// byte what Hugging Face's apply_chat_template() renders with Qwen3's template
// (checked against Jinja2 output in tests/data/chat/fixtures.json).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vase {

// One call an assistant message makes (OpenAI `tool_calls[].function`).
struct ToolCall {
    std::string name;
    // A string is inserted verbatim (the OpenAI API sends arguments as a JSON
    // string); any other JSON value is written as Python's json.dumps would.
    nlohmann::ordered_json arguments = nlohmann::ordered_json::object();
};

struct ChatMessage {
    std::string role;  // "system", "user", "assistant" or "tool"
    std::string content;
    // Assistant thinking kept apart from content. nullopt (absent or JSON null)
    // makes the template look for <think>...</think> inside content instead;
    // an empty string does not.
    std::optional<std::string> reasoning_content = std::nullopt;
    std::vector<ToolCall> tool_calls = {};  // assistant only
};

struct ChatOptions {
    bool add_generation_prompt = true;
    // false: the generation prompt is followed by an empty think block, which
    // tells Qwen3 to answer without reasoning.
    bool enable_thinking = true;
    // Function definitions (OpenAI `tools` entries), listed in the system turn.
    // ordered_json keeps the caller's key order, which the rendered text shows.
    std::vector<nlohmann::ordered_json> tools;
};

// The prompt text for `messages`. Thinking of assistant turns before the last
// user query is dropped, as the template does. Throws vase::Error for an empty
// conversation or an unknown role (the Jinja template would silently drop the
// message).
std::string render_chat(const std::vector<ChatMessage>& messages, const ChatOptions& options = {});

// True if `jinja_source` is a template of the Qwen3 hybrid-thinking family,
// the one render_chat() implements: ChatML turns, think blocks stripped before
// the last query, and `enable_thinking=false` rendered as an empty think
// block. Templates of other models (Qwen2.5, QwQ, Qwen3-2507 thinking or
// instruct, ...) return false; callers should then fail and name the file.
bool is_qwen3_chat_template(std::string_view jinja_source);

// Generated assistant text split into reasoning and answer.
struct SplitReasoning {
    std::string reasoning;
    std::string content;
    // False when generation stopped inside the think block (the answer is
    // missing, e.g. the token budget ran out while reasoning).
    bool thinking_closed = true;
};

// Splits what the model generated after the prompt. Qwen3 writes
// "<think>\n...\n</think>\n\nanswer". As vLLM's qwen3 reasoning parser does, the
// think block ends at the first </think>, and an unclosed block is all
// reasoning. Newlines around the reasoning and before the answer are trimmed
// as the chat template trims them, so the split renders back to the same
// assistant turn. `prompt_opened_think`: the prompt already ends inside a
// think block (see prompt_opens_think), so the output starts with reasoning.
// Otherwise there is reasoning only if the output starts with <think>
// (leading whitespace allowed); with enable_thinking=false Qwen3 writes none.
SplitReasoning split_reasoning(std::string_view generated, bool prompt_opened_think);

// True if `prompt` ends inside an open <think> block (its last <think> is
// not followed by </think>). False for render_chat() output of Qwen3, whose
// generation prompt leaves the <think> to the model or closes it.
bool prompt_opens_think(std::string_view prompt);

// Python's json.dumps(value, ensure_ascii=False): ", " and ": " separators,
// keys in stored order, floats as Python's repr. This is the template's
// `tojson` filter as transformers defines it.
std::string python_json_dumps(const nlohmann::ordered_json& value);

}  // namespace vase
