// Looking up a token's id by its text in a tokenizer spec, as the loaders and
// writers of checkpoints do for the special tokens (<|im_end|>, ...).
#pragma once

#include <cstdint>
#include <string_view>

#include "text/tokenizer.h"

namespace vase {

// The added tokens first, then the vocabulary; -1 for an empty text or one
// that is not a single token.
int32_t find_token_id(const TokenizerSpec& spec, std::string_view text);

}  // namespace vase
