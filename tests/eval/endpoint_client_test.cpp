// The chat-completions client of `vase eval --endpoint` against vase serve
// in-process (a tiny random model): answers and cache statistics come back,
// a full server (429) is retried until it has room, refusals and unreachable
// servers fail with the URL named.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "../engine/test_model.h"
#include "engine/scheduler.h"
#include "eval/endpoint_client.h"
#include "server/server.h"
#include "util/error.h"

namespace vase {
namespace {

using namespace std::chrono_literals;

class Served {
  public:
    Served(int max_seqs, int max_queue) : engine_(testing::tiny_model_dir(), 2) {
        SchedulerOptions so;
        so.max_seqs = max_seqs;
        so.max_queue = max_queue;
        so.kv.budget = 256;
        so.kv.window = 32;
        scheduler_ = std::make_unique<Scheduler>(engine_, so);
        server::ServerOptions opt;
        opt.port = 0;
        opt.model_name = "tiny";
        opt.defaults.sampling = engine_.default_sampling();
        opt.defaults.kv = so.kv;
        server_ = std::make_unique<server::Server>(engine_, *scheduler_, opt);
        port_ = server_->bind();
        thread_ = std::thread([this] { server_->run(); });
        httplib::Client c("127.0.0.1", port_);
        for (int i = 0; i < 200 && !c.Get("/health"); ++i) std::this_thread::sleep_for(10ms);
    }
    ~Served() {
        server_->stop();
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }

  private:
    Engine engine_;
    std::unique_ptr<Scheduler> scheduler_;
    std::unique_ptr<server::Server> server_;
    int port_ = 0;
    std::thread thread_;
};

TEST(EndpointClient, AnswersWithCacheStatistics) {
    Served s(2, 2);
    EndpointRequest r;
    r.timeout_seconds = 60;
    r.model = "tiny";
    r.max_tokens = 6;
    r.temperature = 0.0f;
    r.extra = {
        {"kv_policy", "streaming"}, {"kv_budget", 64}, {"kv_window", 16}, {"ignore_eos", true}};
    for (const std::string& base : {s.url(), s.url() + "/v1", s.url() + "/v1/"}) {
        const EndpointResult a = complete_chat(base, "What is 2 + 2?", r);
        EXPECT_EQ(a.finish_reason, "length") << base;
        EXPECT_EQ(a.completion_tokens, 6);
        ASSERT_TRUE(a.cache.is_object());
        EXPECT_EQ(a.cache["policy"], "streaming");
        EXPECT_EQ(a.cache["budget"], 64);
        // Greedy: the same answer every time.
        const EndpointResult b = complete_chat(base, "What is 2 + 2?", r);
        EXPECT_EQ(a.text + a.reasoning, b.text + b.reasoning);
    }
}

TEST(EndpointClient, RefusalsAndUnreachableServersNameTheUrl) {
    Served s(1, 0);
    EndpointRequest r;
    r.timeout_seconds = 60;
    r.max_tokens = 4;
    r.extra = {{"kv_budget", 10}};  // smaller than the window: 400
    try {
        complete_chat(s.url(), "hi", r);
        FAIL() << "a 400 must throw";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("HTTP 400"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(s.url()), std::string::npos) << e.what();
    }
    r.extra = nlohmann::json::object();
    r.model = "other";
    EXPECT_THROW(complete_chat(s.url(), "hi", r), Error);  // 404 is not retried
    EXPECT_THROW(complete_chat("ftp://x", "hi", r), Error);
    // A port nobody listens on: retried, then an error naming the URL.
    r.model = "";
    r.max_retries = 1;
    r.retry_delay_seconds = 0.01;
    int closed_port = 0;
    {
        // A port the system just gave out and that nothing listens on any more.
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        socklen_t len = sizeof addr;
        ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
        closed_port = ntohs(addr.sin_port);
        close(fd);
    }
    try {
        complete_chat("http://127.0.0.1:" + std::to_string(closed_port), "hi", r);
        FAIL() << "nothing listens there";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("2 attempts"), std::string::npos) << e.what();
    }
}

TEST(EndpointClient, RetriesWhileTheServerIsFull) {
    Served s(1, 0);
    // One long request takes the only place for a while.
    std::thread busy([&] {
        EndpointRequest r;
        r.timeout_seconds = 60;
        r.max_tokens = 400;
        r.extra = {
            {"ignore_eos", true}, {"kv_policy", "streaming"}, {"kv_budget", 64}, {"kv_window", 16}};
        try {
            EXPECT_EQ(complete_chat(s.url(), "keep busy", r).completion_tokens, 400);
        } catch (const Error& e) {
            ADD_FAILURE() << e.what();
        }
    });
    httplib::Client c("127.0.0.1", s.port());
    for (int i = 0; i < 500; ++i) {
        auto m = c.Get("/metrics");
        if (m && m->body.find("vase_active_sequences 1") != std::string::npos) break;
        std::this_thread::sleep_for(5ms);
    }
    EndpointRequest r;
    r.timeout_seconds = 60;
    r.max_tokens = 3;
    r.extra = {{"ignore_eos", true}};
    r.max_retries = 0;
    try {
        complete_chat(s.url(), "hi", r);
        ADD_FAILURE() << "the server should have been full";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("HTTP 429"), std::string::npos) << e.what();
    }
    r.max_retries = 60;
    r.retry_delay_seconds = 0.05;
    const EndpointResult a = complete_chat(s.url(), "hi", r);
    EXPECT_EQ(a.completion_tokens, 3);
    busy.join();
}

}  // namespace
}  // namespace vase
