// Reference conversion between float32 and every supported weight format, a row at a
// time (rows are whole numbers of blocks). These are the oracles the backends are
// tested against; they favour clarity over speed.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "quant/types.h"

namespace concord {

// src holds row_bytes(type, n) bytes; dst receives n floats.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);
// src holds n floats; dst receives row_bytes(type, n) bytes.
void quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

std::vector<float> dequantize(GgmlType type, std::span<const uint8_t> data, int64_t n);
std::vector<uint8_t> quantize(GgmlType type, std::span<const float> values);

}  // namespace concord
