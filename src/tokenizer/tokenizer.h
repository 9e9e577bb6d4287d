// Text <-> token ids for a GGUF vocabulary: SentencePiece-style ("llama") and byte-level
// BPE ("gpt2", tokenizer/bpe.h).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <memory>

#include "tokenizer/bpe.h"
#include "tokenizer/vocab.h"

namespace concord {

class Tokenizer {
 public:
  explicit Tokenizer(Vocab vocab);
  static Tokenizer from_gguf(const gguf::File& file) { return Tokenizer(Vocab::from_gguf(file)); }

  const Vocab& vocab() const { return vocab_; }

  // add_special: BOS (and EOS) as the vocabulary asks. parse_special: control and
  // user-defined token texts inside `text` (e.g. "<s>") become their single ids;
  // otherwise they are tokenised as plain text.
  std::vector<TokenId> encode(std::string_view text, bool add_special = true,
                              bool parse_special = false) const;

  // The bytes a token stands for: "▁" becomes a space, <0xNN> its byte. Control tokens
  // render as nothing unless `show_special`.
  std::string piece(TokenId id, bool show_special = false) const;
  // Concatenated pieces; `strip_space_prefix` removes the space the encoder added in front.
  std::string decode(std::span<const TokenId> ids, bool strip_space_prefix = false) const;

 private:
  void encode_spm(std::string_view text, std::vector<TokenId>& out) const;

  Vocab vocab_;
  std::shared_ptr<const BpeEncoder> bpe_;   // BPE vocabularies only
  std::vector<TokenId> special_by_length_;  // control/user-defined tokens, longest first
};

// Streaming detokenisation: returns only complete UTF-8 text, holding back the bytes of
// a character that later tokens will finish.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  std::string push(TokenId id);
  std::string flush();  // whatever is held back, even if incomplete

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;
};

}  // namespace concord
