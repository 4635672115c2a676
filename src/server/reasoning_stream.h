// Streams generated chat text as reasoning and answer deltas, the way
// split_reasoning() splits the whole text at the end (vLLM's qwen3 reasoning
// parser): the deltas of each kind, concatenated, equal split_reasoning()'s
// reasoning and content. Text that may still turn out to be a "</think>" or a
// newline the split trims is held back until the next piece decides.
#pragma once

#include <string>
#include <string_view>

namespace vase::server {

class ReasoningStream {
  public:
    // prompt_opened_think: as split_reasoning's argument (prompt_opens_think(prompt)).
    explicit ReasoningStream(bool prompt_opened_think) : opened_(prompt_opened_think) {}

    struct Delta {
        std::string reasoning;
        std::string content;
    };
    // The next piece of generated text.
    Delta push(std::string_view text);
    // The end of the generation: whatever was held back and still belongs.
    Delta finish();

  private:
    enum class State { kStart, kThinking, kAfterThink, kContent };
    void think(Delta& out);
    void after_think(Delta& out);

    bool opened_;
    State state_ = State::kStart;
    std::string held_;                // text not yet decided
    bool reasoning_started_ = false;  // a non-newline reasoning character was sent
};

}  // namespace vase::server
