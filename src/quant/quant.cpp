#include "quant/quant.h"

#include <cstring>

#include "quant/codecs.h"
#include "quant/decode.h"
#include "util/error.h"
#include "util/half.h"

namespace concord {
namespace {

template <typename Block>
void dequantize_blocks(const void* src, float* dst, int64_t n_blocks, int block_size) {
  const auto* blocks = static_cast<const Block*>(src);
  for (int64_t b = 0; b < n_blocks; ++b) {
    for (int i = 0; i < block_size; ++i) dst[b * block_size + i] = decode::element(blocks[b], i);
  }
}

template <typename Block>
void quantize_blocks(const float* src, void* dst, int64_t n_blocks, int block_size) {
  auto* blocks = static_cast<Block*>(dst);
  for (int64_t b = 0; b < n_blocks; ++b) codecs::quantize(src + b * block_size, blocks[b]);
}

// One table row per supported type: the single place that maps a type to its codec.
struct Codec {
  GgmlType type;
  void (*dequantize)(const void*, float*, int64_t n_blocks, int block_size);
  void (*quantize)(const float*, void*, int64_t n_blocks, int block_size);
};

template <typename Block>
constexpr Codec block_codec(GgmlType type) {
  return {type, dequantize_blocks<Block>, quantize_blocks<Block>};
}

void dequantize_f32(const void* src, float* dst, int64_t n, int) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
void quantize_f32(const float* src, void* dst, int64_t n, int) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
template <float (*Decode)(uint16_t)>
void dequantize_16bit(const void* src, float* dst, int64_t n, int) {
  const auto* in = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = Decode(in[i]);
}
template <uint16_t (*Encode)(float)>
void quantize_16bit(const float* src, void* dst, int64_t n, int) {
  auto* out = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) out[i] = Encode(src[i]);
}

constexpr Codec kCodecs[] = {
    {GgmlType::F32, dequantize_f32, quantize_f32},
    {GgmlType::F16, dequantize_16bit<f16_to_f32>, quantize_16bit<f32_to_f16>},
    {GgmlType::BF16, dequantize_16bit<bf16_to_f32>, quantize_16bit<f32_to_bf16>},
    block_codec<BlockQ4_0>(GgmlType::Q4_0),
    block_codec<BlockQ4_1>(GgmlType::Q4_1),
    block_codec<BlockQ5_0>(GgmlType::Q5_0),
    block_codec<BlockQ5_1>(GgmlType::Q5_1),
    block_codec<BlockQ8_0>(GgmlType::Q8_0),
    block_codec<BlockQ2_K>(GgmlType::Q2_K),
    block_codec<BlockQ3_K>(GgmlType::Q3_K),
    block_codec<BlockQ4_K>(GgmlType::Q4_K),
    block_codec<BlockQ5_K>(GgmlType::Q5_K),
    block_codec<BlockQ6_K>(GgmlType::Q6_K),
};

struct Plan {
  const Codec* codec;
  int64_t n_blocks;
  int block_size;
};
Plan plan(GgmlType type, int64_t n) {
  const TypeInfo& info = type_info(type);
  if (!info.supported) fail("weight type {} is not supported (no codec)", info.name);
  row_bytes(type, n);  // validates n against the block size
  for (const Codec& codec : kCodecs) {
    if (codec.type == type) {
      return {&codec, n / info.block_size, static_cast<int>(info.block_size)};
    }
  }
  fail("weight type {} has no codec", info.name);
}

}  // namespace

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  const Plan p = plan(type, n);
  p.codec->dequantize(src, dst, p.block_size == 1 ? n : p.n_blocks, p.block_size);
}

void quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
  const Plan p = plan(type, n);
  p.codec->quantize(src, dst, p.block_size == 1 ? n : p.n_blocks, p.block_size);
}

std::vector<float> dequantize(GgmlType type, std::span<const uint8_t> data, int64_t n) {
  if (data.size() != row_bytes(type, n)) {
    fail("{} data of {} bytes does not hold {} elements ({} bytes expected)", type_name(type),
         data.size(), n, row_bytes(type, n));
  }
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(type, data.data(), out.data(), n);
  return out;
}

std::vector<uint8_t> quantize(GgmlType type, std::span<const float> values) {
  const auto n = static_cast<int64_t>(values.size());
  std::vector<uint8_t> out(row_bytes(type, n));
  quantize_row(type, values.data(), out.data(), n);
  return out;
}

}  // namespace concord
