#include "quant/quant.h"

#include <cstring>

#include "quant/codecs.h"
#include "quant/decode.h"
#include "util/error.h"
#include "util/half.h"

namespace concord {
namespace {

// Group by group: the group's (scale, offset) once, then scale * q + offset per element
// (the same arithmetic as decode::element, so results are identical). With the block
// size known at compile time and the loops unrolled, the bit positions of quant() fold
// into constants and the inner loop vectorises.
template <typename Block, int kBlockSize>
void dequantize_blocks(const void* src, float* dst, int64_t n_blocks, int) {
  constexpr int kGroup = decode::kGroup<Block>;
  const auto* blocks = static_cast<const Block*>(src);
  for (int64_t b = 0; b < n_blocks; ++b) {
#pragma GCC unroll 16
    for (int g = 0; g < kBlockSize / kGroup; ++g) {
      const decode::Affine a = decode::group_affine(blocks[b], g);
      float* out = dst + b * kBlockSize + g * kGroup;
      // Runs of kRun elements, whose bit positions are affine in k (see decode.h).
      constexpr int kRun = decode::kRun<Block>;
#pragma GCC unroll 2
      for (int run = 0; run < kGroup; run += kRun) {
        for (int k = run; k < run + kRun; ++k)
          out[k] =
              a.scale * static_cast<float>(decode::quant(blocks[b], g * kGroup + k)) + a.offset;
      }
    }
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

template <typename Block, int kBlockSize>
constexpr Codec block_codec(GgmlType type) {
  return {type, dequantize_blocks<Block, kBlockSize>, quantize_blocks<Block>};
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
    block_codec<BlockQ4_0, kQK>(GgmlType::Q4_0),
    block_codec<BlockQ4_1, kQK>(GgmlType::Q4_1),
    block_codec<BlockQ5_0, kQK>(GgmlType::Q5_0),
    block_codec<BlockQ5_1, kQK>(GgmlType::Q5_1),
    block_codec<BlockQ8_0, kQK>(GgmlType::Q8_0),
    block_codec<BlockQ2_K, kQKK>(GgmlType::Q2_K),
    block_codec<BlockQ3_K, kQKK>(GgmlType::Q3_K),
    block_codec<BlockQ4_K, kQKK>(GgmlType::Q4_K),
    block_codec<BlockQ5_K, kQKK>(GgmlType::Q5_K),
    block_codec<BlockQ6_K, kQKK>(GgmlType::Q6_K),
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
