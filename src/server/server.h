// vase serve's HTTP layer (cpp-httplib): the OpenAI routes on top of a
// Scheduler. Requests are parsed into structs (server/api.h), turned into
// engine jobs, and answered as JSON or as server-sent events.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/generator.h"
#include "engine/scheduler.h"

namespace vase::server {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;         // 0: any free port (see Server::bind)
    std::string model_name;  // the id of /v1/models and of responses
    // max_tokens of a request that gives none (capped by the context).
    int64_t default_max_tokens = 4096;
    int http_threads = 0;  // 0: max_seqs + max_queue + 32 (a thread per open connection)
    size_t max_body_bytes = size_t{4} << 20;
    // Sampling defaults (the model's) and cache options of requests that give none.
    GenerateOptions defaults;
};

class Server {
  public:
    Server(Engine& engine, Scheduler& scheduler, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds the listening socket; returns the port. Throws vase::Error if it cannot.
    int bind();
    // Serves until stop() (from any thread).
    void run();
    void stop();

    // Resident memory when the server was made (the model loaded, the
    // scheduler's buffers allocated), for the memory bound in /metrics.
    uint64_t startup_rss_bytes() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace vase::server
