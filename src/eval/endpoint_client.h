// A small OpenAI chat-completions client, the backend of `vase eval
// --endpoint URL`: one user message in, the answer and its reasoning out.
// Works against vase serve (which also returns its cache statistics), vLLM,
// llama.cpp's server or any OpenAI-compatible endpoint.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace vase {

struct EndpointRequest {
    std::string model;       // "" = not sent (a server with one model serves it)
    int64_t max_tokens = 0;  // 0 = not sent
    std::optional<float> temperature, top_p, min_p;
    std::optional<int> top_k;
    std::optional<uint64_t> seed;
    bool enable_thinking = true;  // chat_template_kwargs.enable_thinking
    // Extra body fields sent as they are, e.g. vase's {"kv_policy": "vase", "kv_budget": 512}.
    nlohmann::json extra = nlohmann::json::object();
    std::string api_key;              // "" = $OPENAI_API_KEY if set
    double timeout_seconds = 3600.0;  // to read one response (long reasoning takes long)
    // Connection errors and 429/502/503/504 are retried this many times,
    // waiting retry_delay_seconds, doubled after each try (at most 60 s).
    int max_retries = 8;
    double retry_delay_seconds = 1.0;
};

struct EndpointResult {
    std::string text;       // the answer (message.content)
    std::string reasoning;  // message.reasoning_content ("" if none)
    std::string finish_reason;
    int64_t completion_tokens = 0;
    nlohmann::json cache;  // choices[0].kv_cache from vase serve; null from other servers
};

// POSTs one chat completion to base_url ("http://host:port" or
// "http://host:port/v1"; https too). Throws vase::Error naming the URL and
// what went wrong: a refused request (with the server's message), a
// malformed answer, or retries used up.
EndpointResult complete_chat(const std::string& base_url, const std::string& user_message,
                             const EndpointRequest& req);

}  // namespace vase
