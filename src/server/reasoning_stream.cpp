#include "server/reasoning_stream.h"

#include <algorithm>

namespace vase::server {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

// Length of the longest proper prefix of `tag` that `s` ends with.
size_t partial_tag(std::string_view s, std::string_view tag) {
    for (size_t k = std::min(tag.size() - 1, s.size()); k > 0; --k) {
        if (s.substr(s.size() - k) == tag.substr(0, k)) return k;
    }
    return 0;
}

}  // namespace

ReasoningStream::Delta ReasoningStream::push(std::string_view text) {
    Delta out;
    held_.append(text);
    if (state_ == State::kStart) {
        const size_t start = held_.find_first_not_of(" \t\r\n");
        if (start == std::string::npos) return out;  // whitespace so far: undecided
        std::string_view rest = std::string_view(held_).substr(start);
        if (rest.starts_with(kOpen)) {
            held_.erase(0, start + kOpen.size());
            state_ = State::kThinking;
        } else if (kOpen.starts_with(rest)) {
            return out;  // a "<think>" may still be arriving
        } else if (opened_) {
            state_ = State::kThinking;  // the prompt opened the block: all of it is reasoning
        } else {
            state_ = State::kContent;  // no think block: all answer, untrimmed
        }
    }
    if (state_ == State::kThinking) think(out);
    if (state_ == State::kAfterThink) after_think(out);
    if (state_ == State::kContent) {
        out.content += held_;
        held_.clear();
    }
    return out;
}

void ReasoningStream::think(Delta& out) {
    const size_t close = held_.find(kClose);
    size_t end = close == std::string::npos ? held_.size() - partial_tag(held_, kClose) : close;
    // Newlines before </think> are trimmed: hold them until text follows.
    while (end > 0 && held_[end - 1] == '\n') --end;
    size_t begin = 0;
    if (!reasoning_started_) {
        while (begin < end && held_[begin] == '\n') ++begin;
        if (begin < end) reasoning_started_ = true;
    }
    out.reasoning.append(held_, begin, end - begin);
    if (close == std::string::npos) {
        held_.erase(0, end);
        return;
    }
    held_.erase(0, close + kClose.size());
    state_ = State::kAfterThink;
}

void ReasoningStream::after_think(Delta& out) {
    // The answer starts after the newlines that follow </think>.
    const size_t start = held_.find_first_not_of('\n');
    if (start == std::string::npos) {
        held_.clear();
        return;
    }
    held_.erase(0, start);
    state_ = State::kContent;
}

ReasoningStream::Delta ReasoningStream::finish() {
    Delta out;
    if (state_ == State::kStart) {
        // Only whitespace or a partial "<think>" came.
        if (opened_) {
            state_ = State::kThinking;
        } else {
            out.content = held_;
            held_.clear();
            return out;
        }
    }
    if (state_ == State::kThinking) {
        // An unclosed block is all reasoning, its outer newlines trimmed.
        std::string_view rest = held_;
        while (!rest.empty() && rest.back() == '\n') rest.remove_suffix(1);
        if (!reasoning_started_) {
            while (!rest.empty() && rest.front() == '\n') rest.remove_prefix(1);
        }
        out.reasoning.append(rest);
    } else if (state_ == State::kContent) {
        out.content = held_;
    }
    held_.clear();
    return out;
}

}  // namespace vase::server
