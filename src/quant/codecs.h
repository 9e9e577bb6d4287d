// Per-block reference codecs (scalar, round-to-nearest). quantize(x, block) reads one
// block's worth of floats; dequantize(block, y) writes them back.
#pragma once

#include "quant/blocks.h"

namespace concord::codecs {

void dequantize(const BlockQ4_0& b, float* y);
void dequantize(const BlockQ4_1& b, float* y);
void dequantize(const BlockQ5_0& b, float* y);
void dequantize(const BlockQ5_1& b, float* y);
void dequantize(const BlockQ8_0& b, float* y);
void dequantize(const BlockQ2_K& b, float* y);
void dequantize(const BlockQ3_K& b, float* y);
void dequantize(const BlockQ4_K& b, float* y);
void dequantize(const BlockQ5_K& b, float* y);
void dequantize(const BlockQ6_K& b, float* y);

void quantize(const float* x, BlockQ4_0& b);
void quantize(const float* x, BlockQ4_1& b);
void quantize(const float* x, BlockQ5_0& b);
void quantize(const float* x, BlockQ5_1& b);
void quantize(const float* x, BlockQ8_0& b);
void quantize(const float* x, BlockQ2_K& b);
void quantize(const float* x, BlockQ3_K& b);
void quantize(const float* x, BlockQ4_K& b);
void quantize(const float* x, BlockQ5_K& b);
void quantize(const float* x, BlockQ6_K& b);

}  // namespace concord::codecs
