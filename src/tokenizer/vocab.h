// A tokenizer vocabulary as GGUF stores it (`tokenizer.ggml.*`).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gguf/gguf.h"

namespace concord {

using TokenId = int32_t;

enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

struct Vocab {
  enum class Model { Spm, Bpe };

  Model model = Model::Spm;
  std::string pre = "default";  // BPE pre-tokenizer name (tokenizer.ggml.pre)
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<TokenType> types;
  std::unordered_map<std::string, TokenId> ids;             // piece -> id
  std::vector<std::pair<std::string, std::string>> merges;  // BPE, by rank

  TokenId bos = -1, eos = -1, eot = -1, pad = -1, unk = -1, sep = -1;
  bool add_bos = false, add_eos = false, add_space_prefix = true;
  std::array<TokenId, 256> byte_tokens{};  // <0xNN> per byte (SPM byte fallback), -1 if none

  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
  bool is_control(TokenId id) const;
  std::optional<TokenId> find(const std::string& piece) const;
  // Throws concord::Error for an out-of-range id.
  void check(TokenId id) const;

  // Reads the vocabulary; an unknown tokenizer model is a clear error.
  static Vocab from_gguf(const gguf::File& file);
};

}  // namespace concord
