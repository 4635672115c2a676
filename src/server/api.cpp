#include "server/api.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "kv/params.h"
#include "util/error.h"

namespace vase::server {
namespace {

using nlohmann::json;

constexpr int64_t kMaxTokensLimit = int64_t{1} << 30;
constexpr size_t kMaxStopStrings = 16;

json null_or(const std::string& s) {
    return s.empty() ? json(nullptr) : json(s);
}

const char* type_name(const json& v) {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number_float()) return "a number";
    if (v.is_number()) return "an integer";
    if (v.is_string()) return "a string";
    if (v.is_array()) return "an array";
    return "an object";
}

[[noreturn]] void wrong_type(const std::string& param, const char* expected, const json& v) {
    bad_param(param, fmt::format("'{}' must be {}, not {}", param, expected, type_name(v)),
              "invalid_type");
}

// Each getter returns nullopt for an absent or null field.
const json* field(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
}

std::optional<bool> get_bool(const json& obj, const char* key) {
    const json* v = field(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) wrong_type(key, "a boolean", *v);
    return v->get<bool>();
}

std::optional<int64_t> get_int(const json& obj, const char* key, int64_t lo, int64_t hi) {
    const json* v = field(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_integer()) wrong_type(key, "an integer", *v);
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi)) {
        bad_param(key, fmt::format("'{}' must be at most {}", key, hi));
    }
    const int64_t x = v->get<int64_t>();
    if (x < lo || x > hi)
        bad_param(key, fmt::format("'{}' must be between {} and {}, got {}", key, lo, hi, x));
    return x;
}

std::optional<float> get_number(const json& obj, const char* key, double lo, double hi,
                                bool lo_open = false) {
    const json* v = field(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number()) wrong_type(key, "a number", *v);
    const double x = v->get<double>();
    if (!std::isfinite(x) || x < lo || x > hi || (lo_open && x == lo)) {
        bad_param(key, fmt::format("'{}' must be in {}{}, {}], got {}", key, lo_open ? "(" : "[",
                                   lo, hi, x));
    }
    return static_cast<float>(x);
}

std::optional<std::string> get_string(const json& obj, const char* key) {
    const json* v = field(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) wrong_type(key, "a string", *v);
    return v->get<std::string>();
}

[[noreturn]] void unsupported(const std::string& param, const std::string& what) {
    bad_param(param, fmt::format("{} is not supported by vase", what), "unsupported_parameter");
}

json parse_object(std::string_view body) {
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        ApiError e;
        e.message = "the request body is not valid JSON";
        e.code = "invalid_json";
        throw ApiException(e);
    }
    if (!j.is_object()) {
        ApiError e;
        e.message = fmt::format("the request body must be a JSON object, not {}", type_name(j));
        e.code = "invalid_json";
        throw ApiException(e);
    }
    return j;
}

// OpenAI features that change the output in ways vase does not implement:
// refuse them instead of silently ignoring them.
void refuse_unsupported(const json& j) {
    // Chat sends a boolean, completions the number of alternatives.
    if (const json* v = field(j, "logprobs")) {
        if (!v->is_boolean() && !v->is_number_integer())
            wrong_type("logprobs", "a boolean or an integer", *v);
        if (v->is_number_integer() || v->get<bool>()) unsupported("logprobs", "logprobs");
    }
    for (const char* key : {"presence_penalty", "frequency_penalty", "repetition_penalty"}) {
        if (get_number(j, key, -2.0, 2.0).value_or(0.0f) != 0.0f) unsupported(key, key);
    }
    if (const json* v = field(j, "logit_bias")) {
        if (!v->is_object()) wrong_type("logit_bias", "an object", *v);
        if (!v->empty()) unsupported("logit_bias", "logit_bias");
    }
    if (const json* v = field(j, "response_format")) {
        if (!v->is_object()) wrong_type("response_format", "an object", *v);
        auto t = v->find("type");
        if (t != v->end() && !(t->is_string() && *t == "text")) {
            unsupported("response_format", "a response_format other than text");
        }
    }
    if (const json* v = field(j, "tools")) {
        if (!v->is_array()) wrong_type("tools", "an array", *v);
        if (!v->empty()) unsupported("tools", "tool calling");
    }
}

SamplingFields parse_fields(const json& j) {
    SamplingFields f;
    f.model = get_string(j, "model").value_or("");
    f.max_tokens = get_int(j, "max_tokens", 1, kMaxTokensLimit);
    if (auto m = get_int(j, "max_completion_tokens", 1, kMaxTokensLimit)) f.max_tokens = m;
    f.temperature = get_number(j, "temperature", 0.0, 2.0);
    f.top_p = get_number(j, "top_p", 0.0, 1.0, /*lo_open=*/true);
    f.min_p = get_number(j, "min_p", 0.0, 1.0);
    if (auto k = get_int(j, "top_k", -1, std::numeric_limits<int>::max()))
        f.top_k = static_cast<int>(*k);
    if (const json* v = field(j, "seed")) {
        if (!v->is_number_integer()) wrong_type("seed", "an integer", *v);
        f.seed =
            v->is_number_unsigned() ? v->get<uint64_t>() : static_cast<uint64_t>(v->get<int64_t>());
    }
    if (const json* v = field(j, "stop")) {
        if (v->is_string()) {
            f.stop.push_back(v->get<std::string>());
        } else if (v->is_array()) {
            if (v->size() > kMaxStopStrings) {
                bad_param("stop",
                          fmt::format("'stop' may hold at most {} strings", kMaxStopStrings));
            }
            for (const json& s : *v) {
                if (!s.is_string()) wrong_type("stop", "a string or an array of strings", s);
                f.stop.push_back(s.get<std::string>());
            }
        } else {
            wrong_type("stop", "a string or an array of strings", *v);
        }
    }
    f.n = static_cast<int>(get_int(j, "n", 1, 128).value_or(1));
    f.stream = get_bool(j, "stream").value_or(false);
    if (const json* v = field(j, "stream_options")) {
        if (!v->is_object()) wrong_type("stream_options", "an object", *v);
        f.include_usage = get_bool(*v, "include_usage").value_or(false);
    }
    f.ignore_eos = get_bool(j, "ignore_eos").value_or(false);
    f.return_token_ids = get_bool(j, "return_token_ids").value_or(false);
    if (get_int(j, "best_of", 1, 128).value_or(1) > f.n) unsupported("best_of", "best_of > n");

    KvOverrides& kv = f.kv;
    kv.policy = get_string(j, "kv_policy");
    kv.budget = get_int(j, "kv_budget", 0, kMaxTokensLimit);
    kv.window = get_int(j, "kv_window", 0, kMaxTokensLimit);
    kv.n_large = get_int(j, "kv_n_large", -1, kMaxTokensLimit);
    kv.sinks = get_int(j, "kv_sinks", 0, kMaxTokensLimit);
    kv.temperature = get_number(j, "kv_temperature", 0.0, 1e6, /*lo_open=*/true);
    kv.lambda = get_number(j, "kv_lambda", 0.0, 1.0);
    kv.smooth = get_bool(j, "kv_smooth");
    kv.type = get_string(j, "kv_type");
    refuse_unsupported(j);
    return f;
}

// Message content: a string, or an array of text parts.
std::string parse_content(const json& msg, size_t i) {
    const std::string param = fmt::format("messages[{}].content", i);
    auto it = msg.find("content");
    if (it == msg.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (!it->is_array()) wrong_type(param, "a string or an array of content parts", *it);
    std::string text;
    for (const json& part : *it) {
        if (!part.is_object()) wrong_type(param, "an array of content parts", part);
        auto type = part.find("type");
        if (type == part.end() || !type->is_string()) {
            bad_param(param, fmt::format("'{}' parts need a string 'type'", param), "invalid_type");
        }
        if (*type != "text")
            unsupported(param, fmt::format("content of type '{}'", type->get<std::string>()));
        auto t = part.find("text");
        if (t == part.end() || !t->is_string())
            wrong_type(param + ".text", "a string", t == part.end() ? json() : *t);
        text += t->get<std::string>();
    }
    return text;
}

}  // namespace

void bad_param(const std::string& param, const std::string& message, const std::string& code) {
    ApiError e;
    e.message = message;
    e.param = param;
    e.code = code;
    throw ApiException(e);
}

json ApiError::to_json() const {
    return json{{"error",
                 {{"message", message},
                  {"type", type},
                  {"param", null_or(param)},
                  {"code", null_or(code)}}}};
}

ChatRequest parse_chat_request(std::string_view body) {
    const json j = parse_object(body);
    ChatRequest r;
    r.fields = parse_fields(j);
    const json* msgs = field(j, "messages");
    if (msgs == nullptr)
        bad_param("messages", "'messages' is required", "missing_required_parameter");
    if (!msgs->is_array()) wrong_type("messages", "an array", *msgs);
    if (msgs->empty()) bad_param("messages", "'messages' must hold at least one message");
    for (size_t i = 0; i < msgs->size(); ++i) {
        const json& m = (*msgs)[i];
        const std::string where = fmt::format("messages[{}]", i);
        if (!m.is_object()) wrong_type(where, "an object", m);
        auto role = m.find("role");
        if (role == m.end() || !role->is_string()) {
            bad_param(where + ".role", fmt::format("'{}.role' must be a string", where),
                      "invalid_type");
        }
        ChatMessage msg;
        msg.role = role->get<std::string>();
        if (msg.role == "developer") msg.role = "system";  // OpenAI's newer name
        if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" &&
            msg.role != "tool") {
            bad_param(where + ".role",
                      fmt::format(
                          "'{}.role' must be system, developer, user, assistant or tool, not '{}'",
                          where, msg.role));
        }
        msg.content = parse_content(m, i);
        if (auto rc = get_string(m, "reasoning_content")) msg.reasoning_content = *rc;
        if (const json* calls = field(m, "tool_calls")) {
            if (!calls->is_array()) wrong_type(where + ".tool_calls", "an array", *calls);
            for (const json& c : *calls) {
                const json* fn = c.is_object() ? field(c, "function") : nullptr;
                if (fn == nullptr || !fn->is_object() || !fn->contains("name") ||
                    !(*fn)["name"].is_string()) {
                    bad_param(where + ".tool_calls",
                              "each tool call needs a function with a string name", "invalid_type");
                }
                ToolCall call;
                call.name = (*fn)["name"].get<std::string>();
                if (fn->contains("arguments"))
                    call.arguments = nlohmann::ordered_json((*fn)["arguments"]);
                msg.tool_calls.push_back(std::move(call));
            }
        }
        r.messages.push_back(std::move(msg));
    }
    if (const json* kw = field(j, "chat_template_kwargs")) {
        if (!kw->is_object()) wrong_type("chat_template_kwargs", "an object", *kw);
        r.enable_thinking = get_bool(*kw, "enable_thinking").value_or(true);
    }
    return r;
}

CompletionRequest parse_completion_request(std::string_view body) {
    const json j = parse_object(body);
    CompletionRequest r;
    r.fields = parse_fields(j);
    if (get_bool(j, "echo").value_or(false)) unsupported("echo", "echo");
    if (auto s = get_string(j, "suffix"); s && !s->empty()) unsupported("suffix", "suffix");
    const json* p = field(j, "prompt");
    if (p == nullptr) bad_param("prompt", "'prompt' is required", "missing_required_parameter");
    if (p->is_string()) {
        r.prompt = p->get<std::string>();
    } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
        r.prompt = (*p)[0].get<std::string>();
    } else if (p->is_array() && !p->empty() && (*p)[0].is_number()) {
        for (const json& t : *p) {
            if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
                t.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
                bad_param("prompt", "a prompt of token ids must hold only non-negative integers",
                          "invalid_type");
            }
            r.prompt_tokens.push_back(static_cast<int32_t>(t.get<int64_t>()));
        }
    } else if (p->is_array() && p->size() > 1) {
        unsupported("prompt", "more than one prompt per request");
    } else {
        wrong_type("prompt", "a string or an array of token ids", *p);
    }
    if (r.prompt.empty() && r.prompt_tokens.empty())
        bad_param("prompt", "'prompt' must not be empty");
    return r;
}

GenerateOptions apply_fields(const SamplingFields& f, const GenerateOptions& base) {
    GenerateOptions o = base;
    if (f.temperature) o.sampling.temperature = *f.temperature;
    if (f.top_p) o.sampling.top_p = *f.top_p;
    if (f.top_k) o.sampling.top_k = std::max(0, *f.top_k);  // -1 (vLLM) and 0: off
    if (f.min_p) o.sampling.min_p = *f.min_p;
    if (f.seed) o.sampling.seed = o.kv.seed = *f.seed;
    o.stop_strings = f.stop;
    o.ignore_eos = f.ignore_eos;
    const KvOverrides& kv = f.kv;
    if (kv.policy) o.kv.policy = *kv.policy;
    if (kv.budget) o.kv.budget = *kv.budget;
    if (kv.window) o.kv.window = *kv.window;
    if (kv.n_large) o.kv.n_large = *kv.n_large;
    if (kv.sinks) o.kv.sinks = *kv.sinks;
    if (kv.temperature) o.kv.temperature = *kv.temperature;
    if (kv.lambda) o.kv.lambda = *kv.lambda;
    if (kv.smooth) o.kv.smooth = *kv.smooth ? 1 : 0;
    if (kv.type) {
        if (*kv.type == "f32") {
            o.kv_type = DType::F32;
        } else if (*kv.type == "f16") {
            o.kv_type = DType::F16;
        } else if (*kv.type == "bf16") {
            o.kv_type = DType::BF16;
        } else {
            bad_param("kv_type",
                      fmt::format("'kv_type' must be f32, f16 or bf16, not '{}'", *kv.type));
        }
    }
    try {
        o.kv.validate();
    } catch (const Error& e) {
        bad_param(kv.policy && !is_eviction_policy(*kv.policy) ? "kv_policy" : "kv_budget",
                  e.what());
    }
    try {
        o.sampling.validate();
    } catch (const Error& e) {
        bad_param("temperature", e.what());
    }
    return o;
}

json Usage::to_json() const {
    return json{{"prompt_tokens", prompt_tokens},
                {"completion_tokens", completion_tokens},
                {"total_tokens", prompt_tokens + completion_tokens}};
}

json completion_response(const std::string& kind, const std::string& id, int64_t created,
                         const std::string& model, const std::vector<Choice>& choices,
                         const Usage& usage, bool with_token_ids) {
    const bool chat = kind == "chat";
    json out_choices = json::array();
    for (size_t i = 0; i < choices.size(); ++i) {
        const Choice& c = choices[i];
        json choice{{"index", i}};
        if (chat) {
            choice["message"] = {
                {"role", "assistant"},
                {"content", c.text},
                {"reasoning_content", c.reasoning ? json(*c.reasoning) : json(nullptr)}};
        } else {
            choice["text"] = c.text;
        }
        choice["logprobs"] = nullptr;
        choice["finish_reason"] = c.finish_reason;
        choice["kv_cache"] = c.cache.to_json();
        if (with_token_ids) choice["token_ids"] = c.tokens;
        out_choices.push_back(std::move(choice));
    }
    return json{{"id", id},
                {"object", chat ? "chat.completion" : "text_completion"},
                {"created", created},
                {"model", model},
                {"choices", std::move(out_choices)},
                {"usage", usage.to_json()}};
}

json stream_chunk(const std::string& kind, const std::string& id, int64_t created,
                  const std::string& model, const ChunkDelta& d, bool with_token_ids) {
    const bool chat = kind == "chat";
    json choice{{"index", d.index}};
    if (chat) {
        json delta = json::object();
        if (d.role) {
            delta["role"] = "assistant";
            delta["content"] = "";
        }
        if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
        if (!d.content.empty()) delta["content"] = d.content;
        choice["delta"] = std::move(delta);
    } else {
        choice["text"] = d.content;
    }
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = d.finish_reason.empty() ? json(nullptr) : json(d.finish_reason);
    if (d.finished != nullptr) {
        choice["kv_cache"] = d.finished->cache.to_json();
        if (with_token_ids) choice["token_ids"] = d.finished->tokens;
    }
    return json{{"id", id},
                {"object", chat ? "chat.completion.chunk" : "text_completion"},
                {"created", created},
                {"model", model},
                {"choices", json::array({std::move(choice)})}};
}

json usage_chunk(const std::string& kind, const std::string& id, int64_t created,
                 const std::string& model, const Usage& usage) {
    return json{{"id", id},
                {"object", kind == "chat" ? "chat.completion.chunk" : "text_completion"},
                {"created", created},
                {"model", model},
                {"choices", json::array()},
                {"usage", usage.to_json()}};
}

json models_response(const std::string& model, int64_t created, int64_t context) {
    return json{{"object", "list"},
                {"data", json::array({json{{"id", model},
                                           {"object", "model"},
                                           {"created", created},
                                           {"owned_by", "vase"},
                                           {"max_model_len", context}}})}};
}

}  // namespace vase::server
