#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <utility>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace concord {
namespace {

constexpr std::string_view kSpaceMark = "\xe2\x96\x81";  // "▁"

// A piece of the input: either raw text to tokenise or an already-resolved special token.
struct Fragment {
  std::string_view text;
  TokenId special = -1;
};

}  // namespace

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  if (vocab_.model == Vocab::Model::Bpe) bpe_ = std::make_shared<const BpeEncoder>(vocab_);
  for (TokenId id = 0; id < vocab_.size(); ++id) {
    const TokenType t = vocab_.types[static_cast<size_t>(id)];
    if ((t == TokenType::Control || t == TokenType::UserDefined) &&
        !vocab_.tokens[static_cast<size_t>(id)].empty()) {
      special_by_length_.push_back(id);
    }
  }
  std::stable_sort(special_by_length_.begin(), special_by_length_.end(),
                   [this](TokenId a, TokenId b) {
                     return vocab_.tokens[static_cast<size_t>(a)].size() >
                            vocab_.tokens[static_cast<size_t>(b)].size();
                   });
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  // Split out special tokens: user-defined ones always, control ones when asked.
  std::vector<Fragment> fragments;
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    TokenId match = -1;
    for (TokenId id : special_by_length_) {
      const bool control = vocab_.types[static_cast<size_t>(id)] == TokenType::Control;
      if (control && !parse_special) continue;
      if (text.substr(i).starts_with(vocab_.tokens[static_cast<size_t>(id)])) {
        match = id;
        break;
      }
    }
    if (match < 0) {
      ++i;
      continue;
    }
    if (i > start) fragments.push_back({text.substr(start, i - start)});
    fragments.push_back({{}, match});
    i += vocab_.tokens[static_cast<size_t>(match)].size();
    start = i;
  }
  if (start < text.size()) fragments.push_back({text.substr(start)});

  std::vector<TokenId> out;
  if (add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  bool after_special = true;  // SentencePiece prefixes a space to text that starts a segment
  for (const Fragment& f : fragments) {
    if (f.special >= 0) {
      out.push_back(f.special);
      after_special = true;
      continue;
    }
    if (bpe_) {
      bpe_->encode(vocab_, f.text, out);
      continue;
    }
    std::string prepared;
    if (vocab_.add_space_prefix && after_special) prepared = " ";
    prepared += f.text;
    encode_spm(prepared, out);
    after_special = false;
  }
  if (add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
  return out;
}

std::string Tokenizer::piece(TokenId id, bool show_special) const {
  vocab_.check(id);
  const std::string& token = vocab_.tokens[static_cast<size_t>(id)];
  switch (vocab_.types[static_cast<size_t>(id)]) {
    case TokenType::Control:
    case TokenType::Unknown:
      return show_special ? token : std::string();
    case TokenType::Byte:
      // "<0xNN>"
      if (token.size() == 6)
        return std::string(1, static_cast<char>(std::stoi(token.substr(3, 2), nullptr, 16)));
      return token;
    default: {
      if (bpe_ && vocab_.types[static_cast<size_t>(id)] == TokenType::Normal)
        return BpeEncoder::token_bytes(token);
      std::string out;
      for (size_t i = 0; i < token.size();) {
        if (std::string_view(token).substr(i).starts_with(kSpaceMark)) {
          out += ' ';
          i += kSpaceMark.size();
        } else {
          out += token[i++];
        }
      }
      return out;
    }
  }
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool strip_space_prefix) const {
  std::string out;
  for (TokenId id : ids) out += piece(id);
  if (strip_space_prefix && vocab_.add_space_prefix && !out.empty() && out[0] == ' ') {
    out.erase(0, 1);
  }
  return out;
}

std::string StreamDecoder::push(TokenId id) {
  pending_ += tokenizer_.piece(id);
  const size_t hold = utf8::incomplete_tail(pending_);
  std::string ready = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return ready;
}

std::string StreamDecoder::flush() {
  return std::exchange(pending_, std::string());
}

}  // namespace concord
