// Per-block reference quantisers (scalar, round-to-nearest): quantize(x, block) reads one
// block's worth of floats. Decoding is decode::element (quant/decode.h).
#pragma once

#include "quant/blocks.h"

namespace concord::codecs {

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
