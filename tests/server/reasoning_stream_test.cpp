// ReasoningStream against split_reasoning(): for generated texts cut into
// pieces at every position (and at random positions), the streamed deltas of
// each kind add up to the split of the whole text.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "server/reasoning_stream.h"
#include "text/chat_template.h"

namespace vase::server {
namespace {

struct Streamed {
    std::string reasoning, content;
};

Streamed stream(const std::vector<std::string>& pieces, bool opened) {
    ReasoningStream rs(opened);
    Streamed out;
    for (const std::string& p : pieces) {
        ReasoningStream::Delta d = rs.push(p);
        out.reasoning += d.reasoning;
        out.content += d.content;
    }
    ReasoningStream::Delta d = rs.finish();
    out.reasoning += d.reasoning;
    out.content += d.content;
    return out;
}

const std::vector<std::string> kTexts = {
    "<think>\nLet me think.\n</think>\n\nThe answer is 4.",
    "<think>\n\n</think>\n\nNo thinking here.",
    "  \n<think>\nleading space\n\n</think>answer right after",
    "<think>\nunclosed reasoning that ran out of tokens\n\n",
    "<think>a</thinx>b</think>\n\n\nc\n\n",
    "<think>\n</think>",
    "<think>",
    "<thi",
    "  ",
    "",
    "plain answer, no think block\n",
    "answer with </think> inside",
    "\n\nreasoning after an opened prompt\n</think>\n\nanswer",
    "<think>\nnested <think> tag\n</think>\n\n<think>not reasoning</think>",
    "<think>\n\n\n</think>\n\n\n",
    "<think>line one\n\nline two\n</think>\n\nok",
    "<think>ends with a partial </thi",
};

TEST(ReasoningStream, EverySplitPointMatchesSplitReasoning) {
    for (bool opened : {false, true}) {
        for (const std::string& text : kTexts) {
            const SplitReasoning want = split_reasoning(text, opened);
            for (size_t cut = 0; cut <= text.size(); ++cut) {
                const Streamed got = stream({text.substr(0, cut), text.substr(cut)}, opened);
                EXPECT_EQ(got.reasoning, want.reasoning)
                    << "text '" << text << "' cut " << cut << " opened " << opened;
                EXPECT_EQ(got.content, want.content)
                    << "text '" << text << "' cut " << cut << " opened " << opened;
            }
        }
    }
}

TEST(ReasoningStream, ByteAtATimeAndRandomPiecesMatchSplitReasoning) {
    std::mt19937 rng(5);
    const std::vector<std::string> alphabet = {"<think>", "</think>", "\n", "\n\n",   " ", "a",
                                               "b",       "<",        "</", "think>", "é"};
    for (int trial = 0; trial < 2000; ++trial) {
        std::string text;
        const int n = static_cast<int>(rng() % 12);
        for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
        std::vector<std::string> pieces;
        for (size_t at = 0; at < text.size();) {
            const size_t len = 1 + rng() % 4;
            pieces.push_back(text.substr(at, len));
            at += len;
        }
        const bool opened = (trial & 1) != 0;
        const SplitReasoning want = split_reasoning(text, opened);
        const Streamed got = stream(pieces, opened);
        ASSERT_EQ(got.reasoning, want.reasoning) << "text '" << text << "' opened " << opened;
        ASSERT_EQ(got.content, want.content) << "text '" << text << "' opened " << opened;
    }
}

// Deltas go out as soon as they are decided: reasoning before </think> arrives.
TEST(ReasoningStream, ReasoningIsStreamedBeforeTheBlockCloses) {
    ReasoningStream rs(false);
    EXPECT_EQ(rs.push("<think>").reasoning, "");
    EXPECT_EQ(rs.push("\nStep one").reasoning, "Step one");
    ReasoningStream::Delta d = rs.push("\n");
    EXPECT_EQ(d.reasoning, "");  // a newline before </think> is trimmed, so it waits
    EXPECT_EQ(rs.push("step two").reasoning, "\nstep two");
    d = rs.push("</think>\n\nAnswer");
    EXPECT_EQ(d.reasoning, "");
    EXPECT_EQ(d.content, "Answer");
    EXPECT_EQ(rs.push(" done").content, " done");
}

}  // namespace
}  // namespace vase::server
