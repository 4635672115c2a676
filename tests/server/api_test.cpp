// The request parsers and validators of src/server/api.cpp: each malformed or
// out-of-range request gives the exact status, param and code; well-formed
// requests give the fields they say.
#include <gtest/gtest.h>

#include <string>

#include "server/api.h"

namespace vase::server {
namespace {

using nlohmann::json;

struct Bad {
    const char* body;
    int status;
    const char* param;  // nullptr: null
    const char* code;
};

ApiError chat_error(const std::string& body) {
    try {
        parse_chat_request(body);
    } catch (const ApiException& e) {
        return e.error;
    }
    ADD_FAILURE() << "accepted: " << body;
    return {};
}

ApiError completion_error(const std::string& body) {
    try {
        parse_completion_request(body);
    } catch (const ApiException& e) {
        return e.error;
    }
    ADD_FAILURE() << "accepted: " << body;
    return {};
}

void expect_error(const ApiError& e, const Bad& want) {
    EXPECT_EQ(e.status, want.status) << want.body;
    EXPECT_EQ(e.param, want.param == nullptr ? "" : want.param) << want.body;
    EXPECT_EQ(e.code, want.code) << want.body;
    EXPECT_FALSE(e.message.empty()) << want.body;
    // OpenAI's shape: exactly these four keys, nulls for absent param/code.
    const json j = e.to_json();
    ASSERT_TRUE(j.contains("error")) << want.body;
    const json& err = j["error"];
    EXPECT_EQ(err.size(), 4u);
    EXPECT_TRUE(err["message"].is_string());
    EXPECT_EQ(err["type"], "invalid_request_error");
    if (want.param == nullptr) {
        EXPECT_TRUE(err["param"].is_null()) << want.body;
    } else {
        EXPECT_EQ(err["param"], want.param) << want.body;
    }
    EXPECT_EQ(err["code"], want.code) << want.body;
}

const char* const kMsgs = R"("messages":[{"role":"user","content":"hi"}])";

std::string chat(const std::string& extra) {
    return std::string("{") + kMsgs + (extra.empty() ? "" : "," + extra) + "}";
}

TEST(ParseChat, MalformedBodies) {
    for (const Bad& b :
         {Bad{"{bad", 400, nullptr, "invalid_json"}, Bad{"", 400, nullptr, "invalid_json"},
          Bad{"[1,2]", 400, nullptr, "invalid_json"}, Bad{"\"text\"", 400, nullptr, "invalid_json"},
          Bad{"{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", 400, nullptr,
              "invalid_json"},
          Bad{"{} trailing", 400, nullptr, "invalid_json"}}) {
        expect_error(chat_error(b.body), b);
    }
}

TEST(ParseChat, MessagesChecked) {
    const Bad cases[] = {
        {"{}", 400, "messages", "missing_required_parameter"},
        {R"({"messages":{}})", 400, "messages", "invalid_type"},
        {R"({"messages":[]})", 400, "messages", "invalid_value"},
        {R"({"messages":["hi"]})", 400, "messages[0]", "invalid_type"},
        {R"({"messages":[{"content":"hi"}]})", 400, "messages[0].role", "invalid_type"},
        {R"({"messages":[{"role":"robot","content":"hi"}]})", 400, "messages[0].role",
         "invalid_value"},
        {R"({"messages":[{"role":"user","content":5}]})", 400, "messages[0].content",
         "invalid_type"},
        {R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", 400,
         "messages[0].content", "unsupported_parameter"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}]})", 400, "messages[0].content",
         "invalid_type"},
        {R"({"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","tool_calls":5}]})",
         400, "messages[1].tool_calls", "invalid_type"},
    };
    for (const Bad& b : cases) expect_error(chat_error(b.body), b);
}

TEST(ParseChat, WrongTypesAndValues) {
    const std::pair<std::string, Bad> cases[] = {
        {R"("max_tokens":"x")", {"", 400, "max_tokens", "invalid_type"}},
        {R"("max_tokens":1.5)", {"", 400, "max_tokens", "invalid_type"}},
        {R"("max_tokens":0)", {"", 400, "max_tokens", "invalid_value"}},
        {R"("max_tokens":-3)", {"", 400, "max_tokens", "invalid_value"}},
        {R"("max_tokens":18446744073709551615)", {"", 400, "max_tokens", "invalid_value"}},
        {R"("max_completion_tokens":true)", {"", 400, "max_completion_tokens", "invalid_type"}},
        {R"("temperature":"hot")", {"", 400, "temperature", "invalid_type"}},
        {R"("temperature":-0.1)", {"", 400, "temperature", "invalid_value"}},
        {R"("temperature":2.5)", {"", 400, "temperature", "invalid_value"}},
        {R"("top_p":0)", {"", 400, "top_p", "invalid_value"}},
        {R"("top_p":1.01)", {"", 400, "top_p", "invalid_value"}},
        {R"("top_k":-2)", {"", 400, "top_k", "invalid_value"}},
        {R"("top_k":2.5)", {"", 400, "top_k", "invalid_type"}},
        {R"("min_p":2)", {"", 400, "min_p", "invalid_value"}},
        {R"("seed":"1")", {"", 400, "seed", "invalid_type"}},
        {R"("n":0)", {"", 400, "n", "invalid_value"}},
        {R"("n":"2")", {"", 400, "n", "invalid_type"}},
        {R"("stop":5)", {"", 400, "stop", "invalid_type"}},
        {R"("stop":["a",1])", {"", 400, "stop", "invalid_type"}},
        {R"("stop":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17"])",
         {"", 400, "stop", "invalid_value"}},
        {R"("stream":"yes")", {"", 400, "stream", "invalid_type"}},
        {R"("stream_options":[])", {"", 400, "stream_options", "invalid_type"}},
        {R"("stream_options":{"include_usage":1})", {"", 400, "include_usage", "invalid_type"}},
        {R"("chat_template_kwargs":{"enable_thinking":"no"})",
         {"", 400, "enable_thinking", "invalid_type"}},
        {R"("chat_template_kwargs":true)", {"", 400, "chat_template_kwargs", "invalid_type"}},
        {R"("kv_budget":"big")", {"", 400, "kv_budget", "invalid_type"}},
        {R"("kv_budget":-1)", {"", 400, "kv_budget", "invalid_value"}},
        {R"("kv_policy":7)", {"", 400, "kv_policy", "invalid_type"}},
        {R"("kv_smooth":1)", {"", 400, "kv_smooth", "invalid_type"}},
        {R"("logprobs":true)", {"", 400, "logprobs", "unsupported_parameter"}},
        {R"("logprobs":"yes")", {"", 400, "logprobs", "invalid_type"}},
        {R"("presence_penalty":0.5)", {"", 400, "presence_penalty", "unsupported_parameter"}},
        {R"("logit_bias":{"1":5})", {"", 400, "logit_bias", "unsupported_parameter"}},
        {R"("response_format":{"type":"json_object"})",
         {"", 400, "response_format", "unsupported_parameter"}},
        {R"("tools":[{"type":"function","function":{"name":"f"}}])",
         {"", 400, "tools", "unsupported_parameter"}},
    };
    for (const auto& [extra, want] : cases) {
        const std::string body = chat(extra);
        Bad b = want;
        b.body = body.c_str();
        expect_error(chat_error(body), b);
    }
}

TEST(ParseChat, WellFormedRequestGivesItsFields) {
    const ChatRequest r = parse_chat_request(R"({
        "model": "m", "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": null, "reasoning_content": "r",
             "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "content": "42"}],
        "max_completion_tokens": 7, "temperature": 0, "top_p": 0.5, "top_k": -1, "min_p": 0.1,
        "seed": -1, "stop": "x", "n": 3, "stream": true, "stream_options": {"include_usage": true},
        "chat_template_kwargs": {"enable_thinking": false, "other": 1},
        "kv_policy": "vase", "kv_budget": 256, "kv_window": 32, "kv_type": "bf16",
        "user": "ignored", "frequency_penalty": 0, "logprobs": false, "unknown_field": {"x": [1]}})");
    ASSERT_EQ(r.messages.size(), 4u);
    EXPECT_EQ(r.messages[0].role, "system");
    EXPECT_EQ(r.messages[1].content, "ab");
    EXPECT_EQ(r.messages[2].content, "");
    EXPECT_EQ(r.messages[2].reasoning_content, "r");
    ASSERT_EQ(r.messages[2].tool_calls.size(), 1u);
    EXPECT_EQ(r.messages[2].tool_calls[0].name, "f");
    EXPECT_FALSE(r.enable_thinking);
    const SamplingFields& f = r.fields;
    EXPECT_EQ(f.model, "m");
    EXPECT_EQ(f.max_tokens, 7);
    EXPECT_EQ(f.temperature, 0.0f);
    EXPECT_EQ(f.top_k, -1);
    EXPECT_EQ(f.seed, ~uint64_t{0});
    EXPECT_EQ(f.stop, std::vector<std::string>{"x"});
    EXPECT_EQ(f.n, 3);
    EXPECT_TRUE(f.stream);
    EXPECT_TRUE(f.include_usage);
    EXPECT_EQ(f.kv.policy, "vase");
    EXPECT_EQ(f.kv.budget, 256);

    GenerateOptions base;
    base.sampling.temperature = 0.6f;
    const GenerateOptions o = apply_fields(f, base);
    EXPECT_EQ(o.sampling.temperature, 0.0f);
    EXPECT_EQ(o.sampling.top_k, 0);  // -1: off
    EXPECT_EQ(o.sampling.seed, ~uint64_t{0});
    EXPECT_EQ(o.kv.seed, ~uint64_t{0});
    EXPECT_EQ(o.kv.policy, "vase");
    EXPECT_EQ(o.kv.budget, 256);
    EXPECT_EQ(o.kv.window, 32);
    EXPECT_EQ(o.kv_type, DType::BF16);
}

TEST(ApplyFields, CacheRulesAreCheckedWithTheParameterNamed) {
    GenerateOptions base;
    auto error_of = [&](const std::string& extra) {
        try {
            apply_fields(parse_chat_request(chat(extra)).fields, base);
        } catch (const ApiException& e) {
            return e.error;
        }
        ADD_FAILURE() << "accepted: " << extra;
        return ApiError{};
    };
    ApiError e = error_of(R"("kv_policy":"nope")");
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, "kv_policy");
    e = error_of(R"("kv_budget":64,"kv_window":64)");  // B must exceed W
    EXPECT_EQ(e.param, "kv_budget");
    e = error_of(R"("kv_budget":100,"kv_window":64)");  // B % W
    EXPECT_EQ(e.param, "kv_budget");
    e = error_of(R"("kv_type":"q8_0")");
    EXPECT_EQ(e.param, "kv_type");
}

TEST(ParseCompletion, PromptForms) {
    EXPECT_EQ(parse_completion_request(R"({"prompt":"abc"})").prompt, "abc");
    EXPECT_EQ(parse_completion_request(R"({"prompt":["abc"]})").prompt, "abc");
    EXPECT_EQ(parse_completion_request(R"({"prompt":[1,2,3]})").prompt_tokens,
              (std::vector<int32_t>{1, 2, 3}));
    const Bad cases[] = {
        {"{}", 400, "prompt", "missing_required_parameter"},
        {R"({"prompt":5})", 400, "prompt", "invalid_type"},
        {R"({"prompt":""})", 400, "prompt", "invalid_value"},
        {R"({"prompt":[]})", 400, "prompt", "invalid_type"},
        {R"({"prompt":[1,-2]})", 400, "prompt", "invalid_type"},
        {R"({"prompt":[1,"a"]})", 400, "prompt", "invalid_type"},
        {R"({"prompt":[1,4294967296]})", 400, "prompt", "invalid_type"},
        {R"({"prompt":["a","b"]})", 400, "prompt", "unsupported_parameter"},
        {R"({"prompt":"a","echo":true})", 400, "echo", "unsupported_parameter"},
        {R"({"prompt":"a","logprobs":2})", 400, "logprobs", "unsupported_parameter"},
        {R"({"prompt":"a","best_of":3})", 400, "best_of", "unsupported_parameter"},
        {R"({"prompt":"a","max_tokens":null,"temperature":null,"stop":null})", 0, nullptr, ""},
    };
    for (const Bad& b : cases) {
        if (b.status == 0) {
            EXPECT_NO_THROW(parse_completion_request(b.body)) << "nulls are absent fields";
            continue;
        }
        expect_error(completion_error(b.body), b);
    }
}

TEST(Responses, ShapesOfChatAndCompletion) {
    Choice c;
    c.text = "answer";
    c.reasoning = "thought";
    c.finish_reason = "length";
    c.tokens = {1, 2};
    Usage u{5, 2};
    const json chat = completion_response("chat", "id1", 7, "m", {c}, u, true);
    EXPECT_EQ(chat["object"], "chat.completion");
    EXPECT_EQ(chat["choices"][0]["message"]["role"], "assistant");
    EXPECT_EQ(chat["choices"][0]["message"]["content"], "answer");
    EXPECT_EQ(chat["choices"][0]["message"]["reasoning_content"], "thought");
    EXPECT_EQ(chat["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(chat["choices"][0]["token_ids"], json({1, 2}));
    EXPECT_TRUE(chat["choices"][0]["kv_cache"].contains("eviction_passes"));
    EXPECT_EQ(chat["usage"]["total_tokens"], 7);
    const json text = completion_response("completion", "id2", 7, "m", {c}, u, false);
    EXPECT_EQ(text["object"], "text_completion");
    EXPECT_EQ(text["choices"][0]["text"], "answer");
    EXPECT_FALSE(text["choices"][0].contains("token_ids"));

    ChunkDelta d;
    d.index = 1;
    d.reasoning = "r";
    json chunk = stream_chunk("chat", "id", 7, "m", d, false);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    EXPECT_EQ(chunk["choices"][0]["index"], 1);
    EXPECT_EQ(chunk["choices"][0]["delta"], json({{"reasoning_content", "r"}}));
    EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
    EXPECT_EQ(usage_chunk("chat", "id", 7, "m", u)["choices"], json::array());
}

}  // namespace
}  // namespace vase::server
