#include "eval/endpoint_client.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <regex>
#include <thread>

#include <httplib.h>

#include "util/error.h"

namespace vase {
namespace {

using nlohmann::json;

struct Url {
    std::string origin;  // scheme://host[:port]
    std::string path;    // of the chat completions route
};

Url parse_url(const std::string& base_url) {
    static const std::regex re(R"(^(https?://[^/?#]+)(/[^?#]*)?$)");
    std::smatch m;
    if (!std::regex_match(base_url, m, re)) {
        fail("--endpoint {}: not an http:// or https:// URL (example: http://127.0.0.1:8080/v1)",
             base_url);
    }
    std::string prefix = m[2].str();
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (prefix.empty()) prefix = "/v1";
    return Url{m[1].str(), prefix + "/chat/completions"};
}

json request_body(const std::string& user_message, const EndpointRequest& r) {
    json body = r.extra.is_object() ? r.extra : json::object();
    if (!r.model.empty()) body["model"] = r.model;
    body["messages"] = json::array({json{{"role", "user"}, {"content", user_message}}});
    if (r.max_tokens > 0) body["max_tokens"] = r.max_tokens;
    if (r.temperature) body["temperature"] = *r.temperature;
    if (r.top_p) body["top_p"] = *r.top_p;
    if (r.top_k) body["top_k"] = *r.top_k;
    if (r.min_p) body["min_p"] = *r.min_p;
    if (r.seed) body["seed"] = *r.seed;
    body["chat_template_kwargs"] = {{"enable_thinking", r.enable_thinking}};
    body["stream"] = false;
    return body;
}

std::string server_message(const std::string& body) {
    const json j = json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_object() &&
        j["error"].contains("message") && j["error"]["message"].is_string()) {
        return j["error"]["message"].get<std::string>();
    }
    return body.substr(0, 300);
}

EndpointResult parse_result(const std::string& url, const std::string& body) {
    const json j = json::parse(body, nullptr, false);
    const json* choice = nullptr;
    if (j.is_object() && j.contains("choices") && j["choices"].is_array() &&
        !j["choices"].empty() && j["choices"][0].is_object()) {
        choice = &j["choices"][0];
    }
    if (choice == nullptr || !choice->contains("message") || !(*choice)["message"].is_object()) {
        fail("{}: the answer is not a chat completion: {}", url, body.substr(0, 300));
    }
    const json& msg = (*choice)["message"];
    EndpointResult r;
    if (msg.contains("content") && msg["content"].is_string())
        r.text = msg["content"].get<std::string>();
    // vLLM and vase say reasoning_content; some servers say reasoning.
    for (const char* key : {"reasoning_content", "reasoning"}) {
        if (msg.contains(key) && msg[key].is_string()) {
            r.reasoning = msg[key].get<std::string>();
            break;
        }
    }
    if (choice->contains("finish_reason") && (*choice)["finish_reason"].is_string()) {
        r.finish_reason = (*choice)["finish_reason"].get<std::string>();
    }
    if (j.contains("usage") && j["usage"].is_object() && j["usage"].contains("completion_tokens") &&
        j["usage"]["completion_tokens"].is_number_integer()) {
        r.completion_tokens = j["usage"]["completion_tokens"].get<int64_t>();
    }
    r.cache = choice->contains("kv_cache") ? (*choice)["kv_cache"] : json(nullptr);
    return r;
}

}  // namespace

EndpointResult complete_chat(const std::string& base_url, const std::string& user_message,
                             const EndpointRequest& req) {
    const Url url = parse_url(base_url);
    const std::string where = url.origin + url.path;
    const std::string body =
        request_body(user_message, req).dump(-1, ' ', false, json::error_handler_t::replace);
    httplib::Client client(url.origin);
    client.set_connection_timeout(10, 0);
    const auto timeout = std::chrono::duration<double>(std::max(1.0, req.timeout_seconds));
    client.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
    client.set_write_timeout(60, 0);
    std::string key = req.api_key;
    if (key.empty()) {
        if (const char* env = std::getenv("OPENAI_API_KEY")) key = env;
    }
    if (!key.empty()) client.set_bearer_token_auth(key);

    double delay = std::max(0.0, req.retry_delay_seconds);
    std::string last_error;
    for (int attempt = 0; attempt <= std::max(0, req.max_retries); ++attempt) {
        if (attempt > 0) {
            std::this_thread::sleep_for(std::chrono::duration<double>(delay));
            delay = std::min(delay * 2.0, 60.0);
        }
        httplib::Result res = client.Post(url.path, body, "application/json");
        if (!res) {
            last_error = "cannot reach the server (" + httplib::to_string(res.error()) + ")";
            continue;
        }
        const int status = res->status;
        if (status == 200) return parse_result(where, res->body);
        last_error = "HTTP " + std::to_string(status) + ": " + server_message(res->body);
        if (status == 429 || status == 502 || status == 503 || status == 504) continue;
        fail("{}: the request was refused ({})", where, last_error);
    }
    fail("{}: no answer after {} attempts; last: {}", where, std::max(0, req.max_retries) + 1,
         last_error);
}

}  // namespace vase
