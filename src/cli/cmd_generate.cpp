// vase generate: stream a completion of a prompt or a chat message.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/kv_options.h"
#include "engine/generator.h"
#include "text/chat_template.h"
#include "util/error.h"
#include "util/memory.h"
#include "util/npy.h"

namespace vase::cli {
namespace {

struct GenerateArgs {
    std::string model;
    std::string prompt;
    std::string chat;
    std::string system;
    std::string prompt_ids;
    std::string dump_logits;
    int64_t n_predict = 256;
    uint64_t seed = 0;
    float temperature = -1.0f;  // < 0: the model's default
    int top_k = -1;
    float top_p = -1.0f;
    float min_p = -1.0f;
    bool ignore_eos = false;
    bool no_think = false;
    bool json = false;
    bool reference = false;
    int threads = 0;
    std::vector<std::string> stop;
    EvictionParams kv;
    DType kv_type = DType::F16;
};

std::vector<int32_t> parse_ids(const std::string& text) {
    std::vector<int32_t> ids;
    std::istringstream in(text);
    std::string word;
    while (in >> word) {
        try {
            size_t used = 0;
            long v = std::stol(word, &used);
            if (used != word.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(word);
            ids.push_back(static_cast<int32_t>(v));
        } catch (const std::exception&) {
            fail("--prompt-ids: '{}' is not a token id", word);
        }
    }
    return ids;
}

void run_generate(GenerateArgs& a) {
    // Everything the user can get wrong is checked before the model loads.
    int given = !a.prompt.empty() + !a.chat.empty() + !a.prompt_ids.empty();
    if (given != 1) fail("give exactly one of -p/--prompt, --chat or --prompt-ids");
    if (a.n_predict < 0) fail("-n/--n-predict must be >= 0 (got {})", a.n_predict);
    a.kv.seed = a.seed;
    a.kv.validate();
    std::vector<int32_t> explicit_ids;
    if (!a.prompt_ids.empty()) explicit_ids = parse_ids(a.prompt_ids);

    const int threads = a.threads > 0 ? a.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    Engine engine(a.model, threads);
    const Tokenizer& tok = engine.tokenizer();

    GenerateOptions opt;
    opt.max_new_tokens = a.n_predict;
    opt.sampling = engine.default_sampling();
    if (a.temperature >= 0.0f) opt.sampling.temperature = a.temperature;
    if (a.top_k >= 0) opt.sampling.top_k = a.top_k;
    if (a.top_p >= 0.0f) opt.sampling.top_p = a.top_p;
    if (a.min_p >= 0.0f) opt.sampling.min_p = a.min_p;
    opt.sampling.seed = a.seed;
    opt.ignore_eos = a.ignore_eos;
    opt.stop_strings = a.stop;
    opt.kv = a.kv;
    opt.kv_type = a.kv_type;
    opt.reference = a.reference;

    std::string prompt_text;
    std::vector<int32_t> prompt;
    if (!a.chat.empty()) {
        if (!engine.checkpoint().chat_template.empty() &&
            !is_qwen3_chat_template(engine.checkpoint().chat_template)) {
            fail("{}: the chat template is not Qwen3's; vase renders only the Qwen3 chat format (use -p for raw text)",
                 a.model);
        }
        std::vector<ChatMessage> messages;
        if (!a.system.empty()) messages.push_back(ChatMessage{"system", a.system, std::nullopt, {}});
        messages.push_back(ChatMessage{"user", a.chat, std::nullopt, {}});
        ChatOptions co;
        co.enable_thinking = !a.no_think;
        prompt_text = render_chat(messages, co);
        prompt = tok.encode(prompt_text);
    } else if (!a.prompt.empty()) {
        prompt_text = a.prompt;
        prompt = tok.encode(prompt_text);
    } else {
        prompt = explicit_ids;
    }
    if (prompt.empty()) fail("the prompt encodes to no tokens");

    const bool tty = isatty(STDOUT_FILENO) != 0;
    const int32_t think_open = tok.token_id("<think>");
    const int32_t think_close = tok.token_id("</think>");
    std::vector<float> logits_dump;
    const int64_t vocab = engine.config().vocab_size;
    if (!a.dump_logits.empty()) logits_dump.reserve(static_cast<size_t>(a.n_predict * vocab));

    auto on_token = [&](int, int32_t token, const std::string& piece, const float* logits) {
        if (!a.dump_logits.empty()) logits_dump.insert(logits_dump.end(), logits, logits + vocab);
        if (a.json) return true;
        // Thinking is shown apart from the answer: a header, dimmed on a terminal.
        if (token == think_open && think_open >= 0) {
            std::fputs(tty ? "\x1b[2m[thinking]\n" : "[thinking]\n", stdout);
        } else if (token == think_close && think_close >= 0) {
            std::fputs(tty ? "\x1b[0m\n[answer]\n" : "\n[answer]\n", stdout);
        } else {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
        }
        std::fflush(stdout);
        return true;
    };
    GenerationTimings t;
    std::vector<GenerationResult> results = generate(engine, prompt, opt, 1, on_token, &t);
    const GenerationResult& r = results[0];
    if (tty && !a.json) std::fputs("\x1b[0m", stdout);

    if (!a.dump_logits.empty()) {
        const int64_t n = static_cast<int64_t>(logits_dump.size()) / vocab;
        write_npy(a.dump_logits, logits_dump.data(), {n, vocab});
    }
    const double pp = t.prefill_seconds > 0 ? t.prompt_tokens / t.prefill_seconds : 0.0;
    const double tg = t.decode_seconds > 0 ? t.decoded_tokens / t.decode_seconds : 0.0;
    const uint64_t peak = peak_rss_bytes();
    if (a.json) {
        nlohmann::json out{{"prompt_tokens", t.prompt_tokens},
                           {"tokens", r.tokens},
                           {"text", r.text},
                           {"finish_reason", r.finish_reason},
                           {"prompt_tokens_per_s", pp},
                           {"decode_tokens_per_s", tg},
                           {"peak_rss_bytes", peak},
                           {"cache", r.cache.to_json()}};
        std::printf("%s\n", out.dump(2).c_str());
        return;
    }
    std::fprintf(stderr,
                 "\n\nprompt %ld tokens at %.1f tok/s | decode %zu tokens at %.2f tok/s | "
                 "finish %s | peak memory %.1f MiB\n",
                 static_cast<long>(t.prompt_tokens), pp, r.tokens.size(), tg, r.finish_reason.c_str(),
                 static_cast<double>(peak) / (1024.0 * 1024.0));
    const CacheStats& c = r.cache;
    std::fprintf(stderr,
                 "kv: policy %s | capacity %ld slots (%.1f MiB) | passes %ld | evicted %ld per head | "
                 "slots peak %ld final %ld | protected %ld | sparsity %.3f | eviction %.3f s\n",
                 c.policy.c_str(), static_cast<long>(c.capacity),
                 static_cast<double>(c.cache_bytes) / (1024.0 * 1024.0),
                 static_cast<long>(c.eviction_passes), static_cast<long>(c.tokens_evicted),
                 static_cast<long>(c.peak_slots), static_cast<long>(c.final_slots),
                 static_cast<long>(c.protected_slots), c.sparsity(), c.evict_seconds);
}

}  // namespace

void register_generate(CLI::App& app) {
    auto args = std::make_shared<GenerateArgs>();
    CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt or a chat message");
    cmd->add_option("-m,--model", args->model, "Hugging Face model directory or GGUF file")->required();
    cmd->add_option("-p,--prompt", args->prompt, "Raw prompt text (no chat template)");
    cmd->add_option("--chat", args->chat, "A user message, rendered with the Qwen3 chat template");
    cmd->add_option("--system", args->system, "System message for --chat");
    cmd->add_flag("--no-think", args->no_think, "Chat with enable_thinking=false");
    cmd->add_option("--prompt-ids", args->prompt_ids, "The prompt as space-separated token ids");
    cmd->add_option("-n,--n-predict", args->n_predict, "Most new tokens to generate")->capture_default_str();
    cmd->add_option("--seed", args->seed, "Seed of sampling and eviction")->capture_default_str();
    cmd->add_option("--temp", args->temperature, "Temperature (0 = greedy; default: the model's)");
    cmd->add_option("--top-k", args->top_k, "Top-k (0 = off; default: the model's)");
    cmd->add_option("--top-p", args->top_p, "Top-p (default: the model's)");
    cmd->add_option("--min-p", args->min_p, "Min-p (default: the model's)");
    cmd->add_flag("--ignore-eos", args->ignore_eos, "Do not stop at end-of-sequence tokens");
    cmd->add_option("--stop", args->stop, "Stop string (repeatable)");
    cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)");
    cmd->add_option("--dump-logits", args->dump_logits,
                    "Write the logits each generated token was chosen from, [n_generated, vocab] float32 .npy");
    cmd->add_flag("--json", args->json, "Print one JSON object with the result and statistics");
    cmd->add_flag("--reference", args->reference, "Use the scalar reference forward pass (slow; for checks)");
    add_kv_options(*cmd, args->kv);
    add_kv_type_option(*cmd, args->kv_type);
    cmd->callback([args] { run_generate(*args); });
}

}  // namespace vase::cli
