// Unicode for the pre-tokenizers: UTF-8 <-> code points and the general categories their
// patterns use (\p{L}, \p{N}, \p{P}, \p{M}, \s), from tables generated out of Python's
// unicodedata (scripts/gen-unicode-tables.py).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace concord::unicode {

struct CodepointRange {
  uint32_t first, last;
};
extern const std::span<const CodepointRange> kLetterRanges, kNumberRanges, kPunctuationRanges,
    kMarkRanges;

bool is_letter(uint32_t cp);
bool is_number(uint32_t cp);
bool is_punctuation(uint32_t cp);
bool is_mark(uint32_t cp);
bool is_whitespace(uint32_t cp);  // the White_Space property
uint32_t to_lower(uint32_t cp);   // ASCII and Latin-1 letters; others unchanged

// Decodes UTF-8; an invalid byte becomes one code point 0xFFFD. `offsets` (if given)
// receives each code point's byte offset, plus text.size() at the end, so that spans of
// code points map back to the exact input bytes.
std::vector<uint32_t> decode_utf8(std::string_view text, std::vector<size_t>* offsets = nullptr);
std::string encode_utf8(uint32_t cp);
std::string encode_utf8(std::span<const uint32_t> cps);

}  // namespace concord::unicode
