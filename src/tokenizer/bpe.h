// Byte-level BPE (tokenizer.ggml.model = "gpt2"): the pre-tokenizer named by
// tokenizer.ggml.pre splits text into words with its patterns, each word's bytes are
// mapped to printable characters (GPT-2's byte-to-unicode table) and merged pair by pair
// in the order of tokenizer.ggml.merges.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/vocab.h"

namespace concord {

// The patterns of a pre-tokenizer, applied one after another (each to the pieces the
// previous ones produced); throws concord::Error listing the known names.
const std::vector<std::string>& pre_tokenizer_patterns(const std::string& name);
const std::vector<std::string>& pre_tokenizer_names();

class BpeEncoder {
 public:
  explicit BpeEncoder(const Vocab& vocab);
  // Appends the ids of `text` (no special tokens inside) to `out`; `vocab` is the one the
  // encoder was built from.
  void encode(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out) const;
  // Words as the pre-tokenizer cuts them (for tests).
  std::vector<std::string> pre_tokenize(std::string_view text) const;
  // The bytes a BPE token's text stands for, and the text that stands for one byte.
  static std::string token_bytes(const std::string& token);
  static std::string byte_text(uint8_t byte);

 private:
  void encode_word(const Vocab& vocab, const std::string& word, std::vector<TokenId>& out) const;

  std::vector<CodepointRegex> patterns_;
  std::unordered_map<std::string, int> ranks_;  // "left right" -> merge rank
};

}  // namespace concord
