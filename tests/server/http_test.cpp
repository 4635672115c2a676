// vase serve's HTTP layer in-process on a tiny random model: exact status and
// OpenAI error shape for malformed requests, unknown routes and models,
// over-long prompts and a full server; response shapes; a client that
// disconnects frees its sequences.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "../engine/test_model.h"
#include "engine/scheduler.h"
#include "server/server.h"

namespace vase::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

Engine& engine() {
    static Engine e(testing::tiny_model_dir(), 2);
    return e;
}

// A server on a free port, stopped when the fixture goes.
class Running {
  public:
    explicit Running(int max_seqs = 4, int max_queue = 4) {
        SchedulerOptions so;
        so.max_seqs = max_seqs;
        so.max_queue = max_queue;
        so.kv.budget = 256;
        so.kv.window = 32;
        scheduler_ = std::make_unique<Scheduler>(engine(), so);
        ServerOptions opt;
        opt.port = 0;
        opt.model_name = "tiny";
        opt.default_max_tokens = 16;
        opt.max_body_bytes = 1 << 20;
        opt.defaults.sampling = engine().default_sampling();
        opt.defaults.kv = so.kv;
        server_ = std::make_unique<Server>(engine(), *scheduler_, opt);
        port_ = server_->bind();
        thread_ = std::thread([this] { server_->run(); });
        httplib::Client c("127.0.0.1", port_);
        for (int i = 0; i < 200 && !c.Get("/health"); ++i) std::this_thread::sleep_for(10ms);
    }
    ~Running() {
        server_->stop();
        thread_.join();
    }
    int port() const { return port_; }
    httplib::Client client() const {
        httplib::Client c("127.0.0.1", port_);
        c.set_read_timeout(60, 0);
        return c;
    }
    json metric_values() const {
        auto res = client().Get("/metrics");
        json out = json::object();
        std::regex line(R"(^(vase_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$)");
        std::string body = res ? res->body : "";
        size_t at = 0;
        while (at < body.size()) {
            size_t end = body.find('\n', at);
            std::string l = body.substr(at, end - at);
            std::smatch m;
            if (std::regex_match(l, m, line)) out[m[1].str() + m[2].str()] = std::stod(m[3].str());
            at = end == std::string::npos ? body.size() : end + 1;
        }
        return out;
    }

  private:
    std::unique_ptr<Scheduler> scheduler_;
    std::unique_ptr<Server> server_;
    int port_ = 0;
    std::thread thread_;
};

Running& shared() {
    static Running r;
    return r;
}

void expect_error(const httplib::Result& res, int status, const char* param, const char* code,
                  const std::string& what) {
    ASSERT_TRUE(res) << what;
    EXPECT_EQ(res->status, status) << what << ": " << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << what;
    const json j = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << what << ": " << res->body;
    const json& e = j["error"];
    EXPECT_EQ(e.size(), 4u) << what;
    EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << what;
    EXPECT_TRUE(e["type"].is_string()) << what;
    if (param == nullptr) {
        EXPECT_TRUE(e["param"].is_null()) << what << ": " << res->body;
    } else {
        EXPECT_EQ(e["param"], param) << what << ": " << res->body;
    }
    EXPECT_EQ(e["code"], code) << what << ": " << res->body;
}

// Malformed requests get 400, prompts longer than the context 400, unknown
// routes and models 404, bodies over the limit 413, all in OpenAI's shape.
TEST(Http, ErrorsHaveTheirStatusAndOpenAIShape) {
    auto c = shared().client();
    struct Case {
        const char* path;
        std::string body;
        const char* param;
        const char* code;
    };
    const Case cases[] = {
        {"/v1/chat/completions", "{not json", nullptr, "invalid_json"},
        {"/v1/chat/completions", "", nullptr, "invalid_json"},
        {"/v1/chat/completions", "[]", nullptr, "invalid_json"},
        {"/v1/chat/completions", R"({"messages":"hi"})", "messages", "invalid_type"},
        {"/v1/chat/completions",
         R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":"9"})", "max_tokens",
         "invalid_type"},
        {"/v1/chat/completions", R"({"messages":[{"role":"user","content":"hi"}],"temperature":9})",
         "temperature", "invalid_value"},
        {"/v1/chat/completions", R"({"messages":[{"role":"user","content":"hi"}],"n":5})", "n",
         "invalid_value"},
        {"/v1/chat/completions",
         R"({"messages":[{"role":"user","content":"hi"}],"kv_policy":"nope"})", "kv_policy",
         "invalid_value"},
        {"/v1/completions", R"({"prompt":{}})", "prompt", "invalid_type"},
        {"/v1/completions", R"({"prompt":[151936]})", "prompt", "invalid_value"},
        {"/v1/completions", R"({"prompt":"hi","stop":[1]})", "stop", "invalid_type"},
    };
    for (const Case& k : cases) {
        expect_error(c.Post(k.path, k.body, "application/json"), 400, k.param, k.code,
                     k.path + (" " + k.body));
    }

    const int64_t context = engine().config().max_position_embeddings;
    json ids = json::array();
    for (int64_t i = 0; i < context; ++i) ids.push_back(100 + i % 1000);
    expect_error(c.Post("/v1/completions", json{{"prompt", ids}, {"max_tokens", 1}}.dump(),
                        "application/json"),
                 400, "prompt", "context_length_exceeded", "prompt of the whole context");
    expect_error(
        c.Post("/v1/chat/completions",
               json{{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", context}}
                   .dump(),
               "application/json"),
        400, "messages", "context_length_exceeded", "max_tokens of the whole context");

    expect_error(c.Post("/v1/nope", "{}", "application/json"), 404, nullptr, "unknown_url",
                 "POST /v1/nope");
    expect_error(c.Get("/v1/chat/completions"), 404, nullptr, "unknown_url", "GET on a POST route");
    expect_error(c.Get("/"), 404, nullptr, "unknown_url", "GET /");
    expect_error(c.Post("/v1/chat/completions",
                        R"({"model":"gpt-4","messages":[{"role":"user","content":"hi"}]})",
                        "application/json"),
                 404, "model", "model_not_found", "unknown model");
    expect_error(c.Get("/v1/models/gpt-4"), 404, "model", "model_not_found",
                 "GET an unknown model");
    auto ok = c.Get("/v1/models/tiny");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(json::parse(ok->body)["id"], "tiny");

    std::string body = R"({"prompt":")" + std::string(2 << 20, 'a') + R"("})";
    expect_error(c.Post("/v1/completions", body, "application/json"), 413, nullptr,
                 "request_too_large", "a 2 MiB body");
}

void expect_stream_ends_with_done_and_usage() {
    auto c = shared().client();
    auto res = c.Post("/v1/completions",
                      R"({"prompt":"Once upon","max_tokens":6,"ignore_eos":true,"stream":true,
                          "stream_options":{"include_usage":true}})",
                      "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
    const std::string& body = res->body;
    ASSERT_GE(body.size(), 14u);
    EXPECT_EQ(body.substr(body.size() - 14), "data: [DONE]\n\n");
    int chunks = 0;
    json usage;
    std::string finish;
    for (size_t at = 0; at < body.size();) {
        const size_t end = body.find("\n\n", at);
        ASSERT_NE(end, std::string::npos);
        const std::string event = body.substr(at, end - at);
        ASSERT_EQ(event.rfind("data: ", 0), 0u) << event;
        at = end + 2;
        if (event == "data: [DONE]") break;
        const json j = json::parse(event.substr(6));
        ++chunks;
        if (j.contains("usage")) usage = j["usage"];
        if (!j["choices"].empty() && j["choices"][0]["finish_reason"].is_string())
            finish = j["choices"][0]["finish_reason"];
    }
    EXPECT_GE(chunks, 2);
    EXPECT_EQ(finish, "length");
    EXPECT_EQ(usage["completion_tokens"], 6);
}

TEST(Http, ChatAndCompletionShapes) {
    auto c = shared().client();
    auto res = c.Post("/v1/chat/completions",
                      R"({"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":5,
                          "ignore_eos":true,"n":2,"return_token_ids":true})",
                      "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    json j = json::parse(res->body);
    EXPECT_EQ(j["object"], "chat.completion");
    EXPECT_EQ(j["model"], "tiny");
    ASSERT_EQ(j["choices"].size(), 2u);
    for (const json& ch : j["choices"]) {
        EXPECT_EQ(ch["finish_reason"], "length");
        EXPECT_EQ(ch["token_ids"].size(), 5u);
        EXPECT_EQ(ch["message"]["role"], "assistant");
        EXPECT_TRUE(ch["message"]["content"].is_string());
        EXPECT_EQ(ch["kv_cache"]["policy"], "full");
    }
    EXPECT_EQ(j["usage"]["completion_tokens"], 10);
    EXPECT_EQ(j["usage"]["total_tokens"].get<int>(), j["usage"]["prompt_tokens"].get<int>() + 10);

    // max_tokens absent: the server's default (16 here).
    res = c.Post("/v1/completions",
                 R"({"prompt":"Once upon","ignore_eos":true,"kv_policy":"streaming",
                                        "kv_budget":64,"kv_window":16})",
                 "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    j = json::parse(res->body);
    EXPECT_EQ(j["object"], "text_completion");
    EXPECT_EQ(j["usage"]["completion_tokens"], 16);
    EXPECT_EQ(j["choices"][0]["kv_cache"]["policy"], "streaming");
    EXPECT_EQ(j["choices"][0]["kv_cache"]["budget"], 64);
    expect_stream_ends_with_done_and_usage();
}

// Opens a raw connection, sends `request`, reads `bytes` bytes, and closes.
void send_and_leave(int port, const std::string& request, size_t bytes) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    std::string got;
    char buf[512];
    while (got.size() < bytes) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
    }
    close(fd);
}

std::string post(const std::string& path, const std::string& body) {
    return "POST " + path +
           " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(Http, ClientsThatLeaveFreeTheirSequences) {
    Running server(2, 2);
    // Evicting within a small budget: a long request fits the memory limit.
    const std::string long_job =
        R"({"prompt":"Once upon","max_tokens":3000,"ignore_eos":true,"kv_policy":"streaming","kv_budget":64,"kv_window":16)";
    // A stream whose client reads its first bytes, then leaves.
    send_and_leave(server.port(), post("/v1/completions", long_job + R"(,"stream":true})"), 300);
    // A plain request whose client leaves without reading anything.
    send_and_leave(server.port(), post("/v1/completions", long_job + "}"), 0);
    json m;
    for (int i = 0; i < 300; ++i) {
        m = server.metric_values();
        if (m.value("vase_jobs_total{outcome=\"cancelled\"}", 0.0) == 2 &&
            m.value("vase_active_sequences", 1.0) == 0) {
            break;
        }
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(m["vase_jobs_total{outcome=\"cancelled\"}"], 2) << m.dump();
    EXPECT_EQ(m["vase_active_sequences"], 0);
    EXPECT_EQ(m["vase_kv_reserved_bytes"], 0);
    EXPECT_LT(m["vase_generated_tokens_total"].get<double>(), 3000)
        << "stopped long before max_tokens";
}

TEST(Http, AFullServerAnswers429) {
    Running server(1, 0);
    // The only sequence is busy with a stream whose client stays connected.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string req =
        post("/v1/completions",
             R"({"prompt":"Once upon","max_tokens":3000,"ignore_eos":true,"stream":true,
                               "kv_policy":"streaming","kv_budget":64,"kv_window":16})");
    ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    char buf[256];
    const ssize_t got = read(fd, buf, sizeof buf);
    ASSERT_GT(got, 0);
    ASSERT_EQ(std::string(buf, static_cast<size_t>(got)).rfind("HTTP/1.1 200", 0), 0u)
        << std::string(buf, static_cast<size_t>(got));  // the stream has started
    auto res = server.client().Post("/v1/completions", R"({"prompt":"hi","max_tokens":2})",
                                    "application/json");
    expect_error(res, 429, nullptr, "server_busy", "second request on a full server");
    EXPECT_EQ(res->get_header_value("Retry-After"), "1");
    EXPECT_EQ(json::parse(res->body)["error"]["type"], "rate_limit_error");
    EXPECT_EQ(server.metric_values()["vase_jobs_total{outcome=\"refused\"}"], 1);
    close(fd);
}

}  // namespace
}  // namespace vase::server
