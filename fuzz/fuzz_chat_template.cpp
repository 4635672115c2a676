// render_chat() on conversations built from arbitrary bytes (any roles,
// contents, reasoning, tool calls and tool definitions), and the helpers that
// read generated or foreign text: split_reasoning, prompt_opens_think,
// is_qwen3_chat_template and python_json_dumps.
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "text/chat_template.h"
#include "util/error.h"

namespace {

using nlohmann::ordered_json;

// A JSON value from the input, or a plain string when the bytes do not parse.
ordered_json json_or_string(const std::string& text) {
    ordered_json j = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? ordered_json(text) : j;
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vase::fuzz::ByteReader in(data, size);
    static const char* const kRoles[] = {"system", "user", "assistant", "tool", "", "developer"};

    vase::ChatOptions options;
    options.add_generation_prompt = in.flag();
    options.enable_thinking = in.flag();
    const int n_tools = in.in_range(0, 2);
    for (int i = 0; i < n_tools; ++i) options.tools.push_back(json_or_string(in.text(200)));
    std::vector<vase::ChatMessage> messages;
    const int n_messages = in.in_range(0, 6);
    for (int i = 0; i < n_messages; ++i) {
        vase::ChatMessage m;
        m.role = kRoles[in.in_range(0, static_cast<int>(std::size(kRoles)) - 1)];
        m.content = in.text(300);
        if (in.flag()) m.reasoning_content = in.text(200);
        const int n_calls = in.in_range(0, 2);
        for (int k = 0; k < n_calls; ++k) {
            vase::ToolCall call;
            call.name = in.text(30);
            call.arguments = json_or_string(in.text(120));
            m.tool_calls.push_back(std::move(call));
        }
        messages.push_back(std::move(m));
    }
    const bool opened = in.flag();
    const std::string rest = in.rest();

    try {
        const std::string prompt = vase::render_chat(messages, options);
        FUZZ_CHECK(!prompt.empty());
        for (const vase::ChatMessage& m : messages) {
            // Thinking may be dropped, but what a user or system says always reaches the prompt.
            if (m.role == "user" || m.role == "system") FUZZ_CHECK(contains(prompt, m.content));
        }
        (void)vase::prompt_opens_think(prompt);
    } catch (const vase::Error&) {
    }

    const vase::SplitReasoning split = vase::split_reasoning(rest, opened);
    FUZZ_CHECK(split.reasoning.size() + split.content.size() <= rest.size());
    (void)vase::prompt_opens_think(rest);
    (void)vase::is_qwen3_chat_template(rest);

    // json.dumps output is JSON: it must read back as the same value.
    const ordered_json value = ordered_json::parse(rest, nullptr, false);
    if (!value.is_discarded()) {
        const std::string dumped = vase::python_json_dumps(value);
        const ordered_json back = ordered_json::parse(dumped, nullptr, false);
        FUZZ_CHECK(!back.is_discarded());
        FUZZ_CHECK(back == value);
    }
    return 0;
}
