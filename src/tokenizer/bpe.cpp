#include "tokenizer/bpe.h"

#include <array>
#include <functional>
#include <map>
#include <queue>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace concord {
namespace {

// The pre-tokenizer patterns of the Hugging Face tokenizers behind each
// tokenizer.ggml.pre name.
const std::string kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const std::string kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const std::string kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const std::string kCjk = "[一-龥ࠀ-一가-퟿]+";

const std::map<std::string, std::vector<std::string>>& patterns_by_name() {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"}},
      {"gpt-2", {kGpt2}},
      {"mpt", {kGpt2}},
      {"llama3", {kLlama3}},
      {"llama-bpe", {kLlama3}},
      {"qwen2", {kQwen2}},
      {"starcoder", {"\\p{N}", kGpt2}},
      {"refact", {"\\p{N}", kGpt2}},
      {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"}},
      {"deepseek-llm",
       {"[\r\n]",
        "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-"
        "ᲺᲽ-"
        "Ჿᴀ-ᴫ"
        "ᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄ"
        "Ⰰ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-"
        "𐲲𐳀-"
        "𐳲𑢠-𑣟𞤀-𞥃]+",
        "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", kCjk, "\\p{N}+"}},
      {"deepseek-coder", {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kCjk, "\\p{N}"}},
  };
  return table;
}

// GPT-2's byte <-> printable code point table: printable Latin-1 bytes stand for
// themselves, the other 68 bytes for U+0100 onwards.
struct ByteTable {
  std::array<uint32_t, 256> to_cp{};
  std::map<uint32_t, uint8_t> to_byte;
  ByteTable() {
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cp[b] = printable ? b : next++;
      to_byte[to_cp[b]] = static_cast<uint8_t>(b);
    }
  }
};
const ByteTable& byte_table() {
  static const ByteTable table;
  return table;
}

}  // namespace

const std::vector<std::string>& pre_tokenizer_patterns(const std::string& name) {
  const auto& table = patterns_by_name();
  auto it = table.find(name);
  if (it == table.end()) {
    std::string list;
    for (const std::string& n : pre_tokenizer_names()) list += (list.empty() ? "" : ", ") + n;
    fail("BPE pre-tokenizer '{}' (tokenizer.ggml.pre) is not supported (supported: {})", name,
         list);
  }
  return it->second;
}

const std::vector<std::string>& pre_tokenizer_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [name, patterns] : patterns_by_name()) out.push_back(name);
    return out;
  }();
  return names;
}

BpeEncoder::BpeEncoder(const Vocab& vocab) {
  for (const std::string& p : pre_tokenizer_patterns(vocab.pre)) patterns_.emplace_back(p);
  for (size_t i = 0; i < vocab.merges.size(); ++i)
    ranks_.emplace(vocab.merges[i].first + " " + vocab.merges[i].second, static_cast<int>(i));
}

std::vector<std::string> BpeEncoder::pre_tokenize(std::string_view text) const {
  std::vector<size_t> offsets;
  const std::vector<uint32_t> cps = unicode::decode_utf8(text, &offsets);
  // Pieces as [first, last) code point spans; each pattern splits every piece further,
  // keeping both what it matches and what lies between matches.
  std::vector<std::pair<size_t, size_t>> pieces = {{0, cps.size()}};
  for (const CodepointRegex& re : patterns_) {
    std::vector<std::pair<size_t, size_t>> next;
    for (const auto& [begin, end] : pieces) {
      size_t gap = begin;
      for (size_t pos = begin; pos < end;) {
        const int64_t length = re.match_at(cps, begin, end, pos);
        if (length <= 0) {
          ++pos;
          continue;
        }
        if (gap < pos) next.emplace_back(gap, pos);
        next.emplace_back(pos, pos + static_cast<size_t>(length));
        pos += static_cast<size_t>(length);
        gap = pos;
      }
      if (gap < end) next.emplace_back(gap, end);
    }
    pieces = std::move(next);
  }
  std::vector<std::string> words;
  for (const auto& [begin, end] : pieces)
    words.emplace_back(text.substr(offsets[begin], offsets[end] - offsets[begin]));
  return words;
}

void BpeEncoder::encode(const Vocab& vocab, std::string_view text,
                        std::vector<TokenId>& out) const {
  for (const std::string& word : pre_tokenize(text)) encode_word(vocab, word, out);
}

void BpeEncoder::encode_word(const Vocab& vocab, const std::string& word,
                             std::vector<TokenId>& out) const {
  const ByteTable& table = byte_table();
  // Symbols as a linked list of strings, one per byte at first (its printable stand-in).
  struct Symbol {
    std::string text;
    int prev, next;  // neighbours, -1 at the ends; merged-away symbols keep empty text
  };
  std::vector<Symbol> symbols;
  for (unsigned char b : word) {
    const int i = static_cast<int>(symbols.size());
    symbols.push_back({unicode::encode_utf8(table.to_cp[b]), i - 1, i + 1});
  }
  if (!symbols.empty()) symbols.back().next = -1;
  // Candidate merges of adjacent pairs, lowest rank first (leftmost on ties). A candidate
  // whose symbols changed since it was queued is stale and skipped: each merge costs
  // O(log n), so a word of n bytes is O(n log n), not O(n^2).
  struct Candidate {
    int rank, left;
    size_t length;  // of the merged text when queued, to detect staleness
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](int left) {
    if (left < 0 || symbols[static_cast<size_t>(left)].next < 0) return;
    const Symbol& a = symbols[static_cast<size_t>(left)];
    const Symbol& b = symbols[static_cast<size_t>(a.next)];
    auto it = ranks_.find(a.text + " " + b.text);
    if (it != ranks_.end()) queue.push({it->second, left, a.text.size() + b.text.size()});
  };
  for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) consider(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& a = symbols[static_cast<size_t>(c.left)];
    if (a.text.empty() || a.next < 0) continue;
    Symbol& b = symbols[static_cast<size_t>(a.next)];
    if (a.text.size() + b.text.size() != c.length) continue;  // stale
    a.text += b.text;
    b.text.clear();
    a.next = b.next;
    if (a.next >= 0) symbols[static_cast<size_t>(a.next)].prev = c.left;
    consider(a.prev);
    consider(c.left);
  }
  std::vector<std::string> merged;
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[static_cast<size_t>(i)].next)
    merged.push_back(std::move(symbols[static_cast<size_t>(i)].text));
  for (const std::string& s : merged) {
    if (const auto id = vocab.find(s)) {
      out.push_back(*id);
      continue;
    }
    // Not in the vocabulary (a broken merge table): fall back to the symbol's bytes.
    for (const uint32_t cp : unicode::decode_utf8(s)) {
      const auto id = vocab.find(unicode::encode_utf8(cp));
      if (id) {
        out.push_back(*id);
      } else if (vocab.unk >= 0) {
        out.push_back(vocab.unk);
      }
    }
  }
}

std::string BpeEncoder::byte_text(uint8_t byte) {
  return unicode::encode_utf8(byte_table().to_cp[byte]);
}

std::string BpeEncoder::token_bytes(const std::string& token) {
  const ByteTable& table = byte_table();
  std::string out;
  for (const uint32_t cp : unicode::decode_utf8(token)) {
    auto it = table.to_byte.find(cp);
    if (it != table.to_byte.end()) {
      out += static_cast<char>(it->second);
    } else {
      out += unicode::encode_utf8(cp);  // not a byte stand-in: keep it as text
    }
  }
  return out;
}

}  // namespace concord
