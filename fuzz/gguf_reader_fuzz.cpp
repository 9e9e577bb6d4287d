// libFuzzer target: the GGUF reader on arbitrary bytes must either parse or throw
// concord::Error - never crash, over-read or hang. Parsed tensors are dequantised to
// prove their spans are in bounds.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/gguf.h"
#include "quant/quant.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto f = concord::gguf::File::parse_view({data, size}, "fuzz");
    for (const auto& [key, value] : f.metadata()) (void)f.find(key);
    for (const auto& t : f.tensors()) {
      if (!concord::type_info(t.type).supported) continue;
      const int64_t row = t.shape[0];
      if (row > (1 << 16)) continue;  // keep runs fast; bounds are validated regardless
      std::vector<float> out(static_cast<size_t>(row));
      concord::dequantize_row(t.type, t.data.data(), out.data(), row);
    }
  } catch (const concord::Error&) {
  }
  return 0;
}
