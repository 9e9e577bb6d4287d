#include "tokenizer/vocab.h"

#include <fmt/format.h>

#include "tokenizer/bpe.h"
#include "util/error.h"

namespace concord {
namespace {

std::optional<TokenId> optional_id(const gguf::File& f, const char* key, int32_t n_vocab) {
  const std::optional<int64_t> id = f.get_int(key);
  if (!id) return std::nullopt;
  if (*id < 0 || *id >= n_vocab) {
    // Some converters write ids past the vocabulary for absent tokens: treat as absent.
    return std::nullopt;
  }
  return static_cast<TokenId>(*id);
}

}  // namespace

bool Vocab::is_control(TokenId id) const {
  return id >= 0 && id < size() && types[static_cast<size_t>(id)] == TokenType::Control;
}

std::optional<TokenId> Vocab::find(const std::string& piece) const {
  const auto it = ids.find(piece);
  if (it == ids.end()) return std::nullopt;
  return it->second;
}

void Vocab::check(TokenId id) const {
  if (id < 0 || id >= size()) fail("token id {} is outside the vocabulary (0..{})", id, size() - 1);
}

Vocab Vocab::from_gguf(const gguf::File& f) {
  Vocab v;
  const std::string model = f.get_string("tokenizer.ggml.model").value_or("");
  if (model == "llama") {
    v.model = Model::Spm;
  } else if (model == "gpt2") {
    v.model = Model::Bpe;
  } else {
    fail("{}: tokenizer model '{}' is not supported (supported: llama, gpt2)", f.label(), model);
  }
  v.pre = f.get_string("tokenizer.ggml.pre").value_or("default");
  if (v.model == Model::Bpe) {
    try {
      pre_tokenizer_patterns(v.pre);  // an unknown name is a load error, not a silent default
    } catch (const Error& e) {
      fail("{}: {}", f.label(), e.what());
    }
  }

  const gguf::Array* tokens = f.get_array("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->element_type != gguf::ValueType::String) {
    fail("{}: tokenizer.ggml.tokens is missing or not an array of strings", f.label());
  }
  const size_t n = tokens->items.size();
  v.tokens.reserve(n);
  for (const gguf::Value& t : tokens->items) v.tokens.push_back(std::get<std::string>(t.data));

  v.scores.assign(n, 0.0f);
  if (const gguf::Array* scores = f.get_array("tokenizer.ggml.scores")) {
    if (scores->items.size() != n) {
      fail("{}: {} token scores for {} tokens", f.label(), scores->items.size(), n);
    }
    for (size_t i = 0; i < n; ++i) v.scores[i] = static_cast<float>(scores->items[i].as_f64());
  }
  v.types.assign(n, TokenType::Normal);
  if (const gguf::Array* types = f.get_array("tokenizer.ggml.token_type")) {
    if (types->items.size() != n) {
      fail("{}: {} token types for {} tokens", f.label(), types->items.size(), n);
    }
    for (size_t i = 0; i < n; ++i) v.types[i] = static_cast<TokenType>(types->items[i].as_i64());
  }
  if (const gguf::Array* merges = f.get_array("tokenizer.ggml.merges")) {
    v.merges.reserve(merges->items.size());
    for (const gguf::Value& m : merges->items) {
      const std::string& s = std::get<std::string>(m.data);
      const size_t space = s.find(' ', 1);
      if (space == std::string::npos) fail("{}: malformed BPE merge '{}'", f.label(), s);
      v.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    }
  }
  for (size_t i = 0; i < n; ++i) v.ids.emplace(v.tokens[i], static_cast<TokenId>(i));

  const auto n_vocab = static_cast<int32_t>(n);
  v.bos = optional_id(f, "tokenizer.ggml.bos_token_id", n_vocab).value_or(-1);
  v.eos = optional_id(f, "tokenizer.ggml.eos_token_id", n_vocab).value_or(-1);
  v.eot = optional_id(f, "tokenizer.ggml.eot_token_id", n_vocab).value_or(-1);
  v.pad = optional_id(f, "tokenizer.ggml.padding_token_id", n_vocab).value_or(-1);
  v.unk = optional_id(f, "tokenizer.ggml.unknown_token_id", n_vocab).value_or(-1);
  v.sep = optional_id(f, "tokenizer.ggml.seperator_token_id", n_vocab).value_or(-1);
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(v.model == Model::Spm);
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
  v.add_space_prefix =
      f.get_bool("tokenizer.ggml.add_space_prefix").value_or(v.model == Model::Spm);

  v.byte_tokens.fill(-1);
  for (int b = 0; b < 256; ++b) {
    if (const auto id = v.find(fmt::format("<0x{:02X}>", b))) v.byte_tokens[b] = *id;
  }
  return v;
}

}  // namespace concord
