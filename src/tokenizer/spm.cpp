// SentencePiece-style tokenisation: start from UTF-8 characters (spaces written as "▁"),
// repeatedly merge the adjacent pair whose concatenation is the highest-scoring vocabulary
// piece (leftmost on ties), then map leftovers that are not pieces to byte tokens.
#include <queue>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace concord {
namespace {

struct Symbol {
  size_t start, length;
  int prev, next;  // neighbours in the linked list of live symbols (-1 at the ends)
};

struct Bigram {
  int left, right;
  float score;
  size_t length;  // combined length when queued: a stale entry no longer matches
  bool operator<(const Bigram& other) const {  // max-heap: higher score, then leftmost
    return score < other.score || (score == other.score && left > other.left);
  }
};

}  // namespace

void Tokenizer::encode_spm(std::string_view raw, std::vector<TokenId>& out) const {
  std::string text;
  for (char c : raw) {
    if (c == ' ') {
      text += "\xe2\x96\x81";
    } else {
      text += c;
    }
  }
  std::vector<Symbol> symbols;
  for (size_t i = 0; i < text.size();) {
    const size_t len =
        std::min(utf8::sequence_length(static_cast<unsigned char>(text[i])), text.size() - i);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({i, len, index - 1, -1});
    if (index > 0) symbols[static_cast<size_t>(index - 1)].next = index;
    i += len;
  }

  std::priority_queue<Bigram> queue;
  auto try_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    const Symbol& r = symbols[static_cast<size_t>(right)];
    const auto id = vocab_.find(text.substr(l.start, l.length + r.length));
    if (!id) return;
    queue.push({left, right, vocab_.scores[static_cast<size_t>(*id)], l.length + r.length});
  };
  for (size_t i = 1; i < symbols.size(); ++i)
    try_pair(static_cast<int>(i - 1), static_cast<int>(i));

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = symbols[static_cast<size_t>(b.left)];
    Symbol& r = symbols[static_cast<size_t>(b.right)];
    if (l.length == 0 || r.length == 0 || l.length + r.length != b.length || l.next != b.right) {
      continue;  // one side was merged away since this pair was queued
    }
    l.length += r.length;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[static_cast<size_t>(r.next)].prev = b.left;
    try_pair(l.prev, b.left);
    try_pair(b.left, l.next);
  }

  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& s = symbols[static_cast<size_t>(i)];
    const std::string piece = text.substr(s.start, s.length);
    if (const auto id = vocab_.find(piece)) {
      out.push_back(*id);
      continue;
    }
    for (unsigned char byte : piece) {  // byte fallback, or <unk> without byte tokens
      const TokenId id = vocab_.byte_tokens[byte] >= 0 ? vocab_.byte_tokens[byte] : vocab_.unk;
      if (id < 0) fail("cannot tokenise byte 0x{:02X}: no byte token and no <unk>", byte);
      out.push_back(id);
    }
  }
}

}  // namespace concord
