// ASCII case folding for names that are ASCII by definition (GGUF type names, file types).
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace concord {

inline std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace concord
