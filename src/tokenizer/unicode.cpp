#include "tokenizer/unicode.h"

#include <algorithm>

namespace concord::unicode {
namespace {

bool in_ranges(std::span<const CodepointRange> ranges, uint32_t cp) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                             [](uint32_t v, const CodepointRange& r) { return v < r.first; });
  return it != ranges.begin() && cp <= std::prev(it)->last;
}

}  // namespace

bool is_letter(uint32_t cp) {
  return in_ranges(kLetterRanges, cp);
}
bool is_number(uint32_t cp) {
  return in_ranges(kNumberRanges, cp);
}
bool is_punctuation(uint32_t cp) {
  return in_ranges(kPunctuationRanges, cp);
}
bool is_mark(uint32_t cp) {
  return in_ranges(kMarkRanges, cp);
}

bool is_whitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

uint32_t to_lower(uint32_t cp) {
  if ((cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)) return cp + 32;
  return cp;
}

std::vector<uint32_t> decode_utf8(std::string_view s, std::vector<size_t>* offsets) {
  std::vector<uint32_t> out;
  if (offsets) offsets->clear();
  size_t i = 0;
  while (i < s.size()) {
    if (offsets) offsets->push_back(i);
    const auto c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    bool valid = n > 0 && i + static_cast<size_t>(n) <= s.size();
    for (int k = 1; valid && k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((cc >> 6) != 2) valid = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!valid) {
      out.push_back(0xFFFD);
      i += 1;
      continue;
    }
    out.push_back(cp);
    i += static_cast<size_t>(n);
  }
  if (offsets) offsets->push_back(s.size());
  return out;
}

std::string encode_utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

std::string encode_utf8(std::span<const uint32_t> cps) {
  std::string out;
  for (uint32_t cp : cps) out += encode_utf8(cp);
  return out;
}

}  // namespace concord::unicode
