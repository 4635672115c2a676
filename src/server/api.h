// The OpenAI API shapes vase serve speaks: request bodies parsed and checked
// into structs, and the JSON of responses, stream chunks and errors. No HTTP
// and no model here, so every rule is testable on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/generator.h"
#include "text/chat_template.h"

namespace vase::server {

// An error as OpenAI sends it: {"error": {"message", "type", "param", "code"}}
// with the HTTP status it goes with.
struct ApiError {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::string param;  // "" is sent as null
    std::string code;   // "" is sent as null
    nlohmann::json to_json() const;
};

// Thrown by the parsers and the request preparation; the server answers with `error`.
class ApiException : public std::runtime_error {
  public:
    explicit ApiException(ApiError error)
        : std::runtime_error(error.message), error(std::move(error)) {}
    ApiError error;
};

// 400 invalid_request_error naming the parameter.
[[noreturn]] void bad_param(const std::string& param, const std::string& message,
                            const std::string& code = "invalid_value");

// Optional cache options of a request (vase's extension); absent fields keep
// the server's defaults.
struct KvOverrides {
    std::optional<std::string> policy;
    std::optional<int64_t> budget, window, n_large, sinks;
    std::optional<float> temperature, lambda;
    std::optional<bool> smooth;
    std::optional<std::string> type;  // "f32", "f16" or "bf16"
};

// Fields both endpoints share.
struct SamplingFields {
    std::string model;                  // "" if absent
    std::optional<int64_t> max_tokens;  // max_tokens or max_completion_tokens
    std::optional<float> temperature, top_p, min_p;
    std::optional<int> top_k;
    std::optional<uint64_t> seed;
    std::vector<std::string> stop;
    int n = 1;
    bool stream = false;
    bool include_usage = false;     // stream_options.include_usage
    bool ignore_eos = false;        // extension (as vLLM)
    bool return_token_ids = false;  // extension: choices[i].token_ids
    KvOverrides kv;
};

struct ChatRequest {
    SamplingFields fields;
    std::vector<ChatMessage> messages;
    bool enable_thinking = true;  // chat_template_kwargs.enable_thinking
};

struct CompletionRequest {
    SamplingFields fields;
    std::string prompt;                  // text, or
    std::vector<int32_t> prompt_tokens;  // token ids (prompt given as an array of integers)
};

// Parse a request body. Throw ApiException (400) for malformed JSON, a known
// field of the wrong type or out of range, a missing required field, and
// OpenAI features vase does not implement when they are asked for. Unknown
// fields are ignored, as OpenAI-compatible servers do.
ChatRequest parse_chat_request(std::string_view body);
CompletionRequest parse_completion_request(std::string_view body);

// The generation options of a request: the server's defaults (`base`: the
// model's sampling defaults and the server's cache options) with the
// request's fields applied. Throws ApiException for values the engine rejects.
// `max_new_tokens` is left to the caller (it depends on the prompt length).
GenerateOptions apply_fields(const SamplingFields& fields, const GenerateOptions& base);

// One finished choice.
struct Choice {
    std::string text;                      // completions: the text; chat: the answer (content)
    std::optional<std::string> reasoning;  // chat: the thinking, if the output had a think block
    std::string finish_reason;
    std::vector<int32_t> tokens;
    CacheStats cache;
};

struct Usage {
    int64_t prompt_tokens = 0;
    int64_t completion_tokens = 0;
    nlohmann::json to_json() const;
};

// Response bodies. `kind` is "chat" or "completion".
nlohmann::json completion_response(const std::string& kind, const std::string& id, int64_t created,
                                   const std::string& model, const std::vector<Choice>& choices,
                                   const Usage& usage, bool with_token_ids);
// One stream chunk of choice `index`: a delta (chat: reasoning and/or content;
// completion: text) and, on its last chunk, the finish reason and cache statistics.
struct ChunkDelta {
    int index = 0;
    bool role = false;  // chat: the first chunk announces the assistant role
    std::string content;
    std::string reasoning;
    std::string finish_reason;         // "" until the last chunk
    const Choice* finished = nullptr;  // the last chunk: cache statistics (and token ids)
};
nlohmann::json stream_chunk(const std::string& kind, const std::string& id, int64_t created,
                            const std::string& model, const ChunkDelta& delta, bool with_token_ids);
// The usage chunk sent before [DONE] when stream_options.include_usage is set.
nlohmann::json usage_chunk(const std::string& kind, const std::string& id, int64_t created,
                           const std::string& model, const Usage& usage);

// GET /v1/models.
nlohmann::json models_response(const std::string& model, int64_t created, int64_t context);

}  // namespace vase::server
