// The server's request parsers (src/server/api.cpp) on arbitrary bodies: a
// body either parses or throws ApiException with a 4xx error whose JSON can be
// sent; a parsed request goes through apply_fields (the engine's option checks)
// and, for chat, render_chat. Nothing else may escape.
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "server/api.h"
#include "util/error.h"

namespace {

void check_error(const vase::server::ApiException& e) {
    FUZZ_CHECK(e.error.status >= 400 && e.error.status < 500);
    FUZZ_CHECK(!e.error.message.empty());
    // The server sends it with invalid UTF-8 replaced; that must always work.
    (void)e.error.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void check_fields(const vase::server::SamplingFields& f) {
    FUZZ_CHECK(f.n >= 1);
    if (f.max_tokens) FUZZ_CHECK(*f.max_tokens >= 0);
    try {
        const vase::GenerateOptions options =
            vase::server::apply_fields(f, vase::GenerateOptions{});
        options.kv.validate();
        options.sampling.validate();
    } catch (const vase::server::ApiException& e) {
        check_error(e);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    try {
        const vase::server::ChatRequest r = vase::server::parse_chat_request(body);
        check_fields(r.fields);
        try {
            vase::ChatOptions options;
            options.enable_thinking = r.enable_thinking;
            (void)vase::render_chat(r.messages, options);
        } catch (const vase::Error&) {
        }
    } catch (const vase::server::ApiException& e) {
        check_error(e);
    }
    try {
        const vase::server::CompletionRequest r = vase::server::parse_completion_request(body);
        check_fields(r.fields);
        for (int32_t id : r.prompt_tokens) FUZZ_CHECK(id >= 0);
    } catch (const vase::server::ApiException& e) {
        check_error(e);
    }
    return 0;
}
