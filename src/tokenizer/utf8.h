// Minimal UTF-8 helpers shared by the tokenizers and the streaming detokeniser.
#pragma once

#include <cstddef>
#include <string_view>

namespace concord::utf8 {

// Length of the sequence a lead byte announces (1 for ASCII and for invalid lead bytes,
// so that malformed input still advances byte by byte).
inline size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  if ((lead >> 3) == 0x1e) return 4;
  return 1;
}

// Bytes at the end of `s` that start a multi-byte sequence which is not yet complete.
inline size_t incomplete_tail(std::string_view s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xc0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const size_t need = sequence_length(c);
    return need > back ? back : 0;
  }
  return 0;
}

}  // namespace concord::utf8
