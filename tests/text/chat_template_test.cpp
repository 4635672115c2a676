// render_chat() against Jinja2's rendering of the real Qwen3 template
// (tests/data/chat/fixtures.json, written by tools/render_chat_fixtures.py),
// plus the reasoning split and template recognition.
#include "text/chat_template.h"

#include "util/error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace vase {
namespace {

using Json = nlohmann::ordered_json;

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "cannot open " << path;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

const Json& fixtures() {
    static const Json j = Json::parse(
        read_text(std::filesystem::path(VASE_SOURCE_DIR) / "tests/data/chat/fixtures.json"));
    return j;
}

ChatMessage message_from_json(const Json& j) {
    ChatMessage m;
    m.role = j.at("role").get<std::string>();
    m.content = j.at("content").get<std::string>();
    if (j.contains("reasoning_content") && !j["reasoning_content"].is_null()) {
        m.reasoning_content = j["reasoning_content"].get<std::string>();
    }
    if (j.contains("tool_calls")) {
        for (const Json& call : j["tool_calls"]) {
            const Json& f = call.contains("function") ? call["function"] : call;
            m.tool_calls.push_back({f.at("name").get<std::string>(), f.at("arguments")});
        }
    }
    return m;
}

std::string render_case(const Json& c) {
    std::vector<ChatMessage> messages;
    for (const Json& m : c.at("messages")) messages.push_back(message_from_json(m));
    ChatOptions options;
    options.add_generation_prompt = c.at("add_generation_prompt").get<bool>();
    options.enable_thinking = c.value("enable_thinking", true);
    if (c.contains("tools")) {
        for (const Json& t : c["tools"]) options.tools.push_back(t);
    }
    return render_chat(messages, options);
}

TEST(ChatTemplate, MatchesJinjaFixtures) {
    const Json& cases = fixtures().at("cases");
    ASSERT_GE(cases.size(), 20u);
    for (const Json& c : cases) {
        SCOPED_TRACE(c.at("name").get<std::string>());
        EXPECT_EQ(render_case(c), c.at("expected").get<std::string>());
    }
}

TEST(ChatTemplate, FixtureTemplateIsRecognised) {
    EXPECT_TRUE(is_qwen3_chat_template(fixtures().at("chat_template").get<std::string>()));
}

TEST(ChatTemplate, InstalledTokenizerTemplateIsRecognised) {
    const auto path = std::filesystem::path(VASE_TOKENIZER_DIR) / "tokenizer_config.json";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " missing; run scripts/setup.sh";
    const auto config = nlohmann::json::parse(read_text(path));
    const std::string source = config.at("chat_template").get<std::string>();
    EXPECT_TRUE(is_qwen3_chat_template(source));
    // The fixtures were rendered from this very template.
    EXPECT_EQ(source, fixtures().at("chat_template").get<std::string>())
        << "rerun /usr/bin/python3 tools/render_chat_fixtures.py";
}

std::string replace_once(std::string s, std::string_view from, std::string_view to) {
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
}

TEST(ChatTemplate, OtherTemplatesAreRejected) {
    const std::string qwen3 = fixtures().at("chat_template").get<std::string>();
    // Qwen2.5-style ChatML without thinking.
    EXPECT_FALSE(is_qwen3_chat_template(
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
        "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt "
        "%}{{ '<|im_start|>assistant\\n' }}{% endif %}"));
    EXPECT_FALSE(is_qwen3_chat_template(""));
    // No enable_thinking switch (Qwen3-2507 instruct).
    EXPECT_FALSE(is_qwen3_chat_template(
        replace_once(qwen3, "enable_thinking is defined and enable_thinking is false", "false")));
    // Think block opened by the generation prompt (Qwen3-2507 thinking).
    EXPECT_FALSE(
        is_qwen3_chat_template(replace_once(qwen3, "{{- '<|im_start|>assistant\\n' }}",
                                            "{{- '<|im_start|>assistant\\n<think>\\n' }}")));
    // Thinking of earlier turns kept.
    EXPECT_FALSE(is_qwen3_chat_template(replace_once(
        qwen3, "message.content.split('</think>')[-1].lstrip('\\n')", "message.content")));
}

TEST(ChatTemplate, BadConversationsFailClearly) {
    try {
        render_chat({});
        FAIL() << "expected vase::Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no messages"), std::string::npos) << e.what();
    }
    try {
        render_chat({{"user", "hi"}, {"developer", "be nice"}});
        FAIL() << "expected vase::Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("message 1 has role 'developer'"), std::string::npos)
            << e.what();
    }
    ChatMessage bad{"user", "hi"};
    bad.tool_calls.push_back({"f", "{}"});
    EXPECT_THROW(render_chat({bad}), Error);
}

TEST(PythonJsonDumps, MatchesPythonFormatting) {
    // Expected strings are what CPython's json.dumps(..., ensure_ascii=False) prints.
    EXPECT_EQ(python_json_dumps(Json::parse(R"({"b": 1, "a": [true, null, "x"]})")),
              R"({"b": 1, "a": [true, null, "x"]})");
    EXPECT_EQ(python_json_dumps(Json::parse("[0.1, 1.0, 100.0, 1e16, 1e15, 1.5e-5, 0.0001, -0.0, "
                                            "123456789.125, 1e300, 5e-324, -2.5e-7, 3]")),
              "[0.1, 1.0, 100.0, 1e+16, 1000000000000000.0, 1.5e-05, 0.0001, -0.0, "
              "123456789.125, 1e+300, 5e-324, -2.5e-07, 3]");
    EXPECT_EQ(python_json_dumps(Json("q\"\\/\n\r\t\b\f\x01\x1f\x7f é")),
              "\"q\\\"\\\\/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f é\"");
    EXPECT_EQ(python_json_dumps(Json::object()), "{}");
    EXPECT_EQ(python_json_dumps(Json::array()), "[]");
    EXPECT_EQ(python_json_dumps(Json(18446744073709551615ull)), "18446744073709551615");
    EXPECT_EQ(python_json_dumps(Json(-42)), "-42");
}

TEST(SplitReasoning, ThinkingOutput) {
    auto s = split_reasoning("<think>\nLet me add.\n2+2=4\n</think>\n\nThe answer is 4.", false);
    EXPECT_EQ(s.reasoning, "Let me add.\n2+2=4");
    EXPECT_EQ(s.content, "The answer is 4.");
    EXPECT_TRUE(s.thinking_closed);
}

TEST(SplitReasoning, TruncatedInsideThinking) {
    auto s = split_reasoning("<think>\nStill thinking", false);
    EXPECT_EQ(s.reasoning, "Still thinking");
    EXPECT_EQ(s.content, "");
    EXPECT_FALSE(s.thinking_closed);
}

TEST(SplitReasoning, NoThinkBlockIsAllContent) {
    // enable_thinking=false: the prompt closed the think block, the model answers.
    auto s = split_reasoning("\n\nJust the answer </think> with a stray tag", false);
    EXPECT_EQ(s.reasoning, "");
    EXPECT_EQ(s.content, "\n\nJust the answer </think> with a stray tag");
    EXPECT_TRUE(s.thinking_closed);
    EXPECT_EQ(split_reasoning("", false).content, "");
}

TEST(SplitReasoning, PromptOpenedThink) {
    auto s = split_reasoning("reasoning here\n</think>\n\nanswer", true);
    EXPECT_EQ(s.reasoning, "reasoning here");
    EXPECT_EQ(s.content, "answer");
    EXPECT_TRUE(s.thinking_closed);
    auto repeated = split_reasoning("<think>\nr\n</think>\n\na", true);
    EXPECT_EQ(repeated.reasoning, "r");
    EXPECT_EQ(repeated.content, "a");
    auto open = split_reasoning("never closed", true);
    EXPECT_EQ(open.reasoning, "never closed");
    EXPECT_FALSE(open.thinking_closed);
}

TEST(SplitReasoning, OnlyFirstCloseTagEndsThinking) {
    auto s = split_reasoning("<think>a</think>\n\nb </think> c\n", false);
    EXPECT_EQ(s.reasoning, "a");
    EXPECT_EQ(s.content, "b </think> c\n");
    auto empty = split_reasoning("<think>\n\n</think>\n\n", false);
    EXPECT_EQ(empty.reasoning, "");
    EXPECT_EQ(empty.content, "");
    EXPECT_TRUE(empty.thinking_closed);
}

TEST(SplitReasoning, RendersBackToTheSameTurn) {
    // Generation prompt + generated text == the conversation rendered with the
    // split answer appended (up to the end-of-turn token).
    const std::vector<ChatMessage> chat = {{"system", "Be brief."}, {"user", "2+2?"}};
    const std::string prompt = render_chat(chat);
    EXPECT_FALSE(prompt_opens_think(prompt));
    const std::string generated = "<think>\nTwo plus two.\n</think>\n\nFour.";
    const SplitReasoning s = split_reasoning(generated, prompt_opens_think(prompt));
    auto with_answer = chat;
    with_answer.push_back({"assistant", s.content, s.reasoning});
    ChatOptions no_prompt;
    no_prompt.add_generation_prompt = false;
    EXPECT_EQ(render_chat(with_answer, no_prompt), prompt + generated + "<|im_end|>\n");
}

TEST(PromptOpensThink, DetectsOpenBlock) {
    EXPECT_FALSE(prompt_opens_think("<|im_start|>assistant\n"));
    EXPECT_FALSE(prompt_opens_think("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
    EXPECT_TRUE(prompt_opens_think("<|im_start|>assistant\n<think>\n"));
    EXPECT_TRUE(prompt_opens_think("<think>a</think> <think>\n"));
    ChatOptions no_thinking;
    no_thinking.enable_thinking = false;
    EXPECT_FALSE(prompt_opens_think(render_chat({{"user", "hi"}}, no_thinking)));
}

}  // namespace
}  // namespace vase
