// Tensor element types as GGUF files number them (ggml's type ids), with their
// block geometry. A type may be *known* (so files holding it parse and report
// sizes) without being *supported* (dequantisation and quantisation exist).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace concord {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct TypeInfo {
  GgmlType type;
  std::string_view name;
  int64_t block_size;  // elements per block (1 for plain types)
  size_t block_bytes;  // bytes per block
  bool supported;      // concord can dequantise and quantise it
};

// nullopt for ids that no GGUF type uses.
std::optional<TypeInfo> find_type_info(uint32_t id);
// For a known type; throws concord::Error for an unknown one.
const TypeInfo& type_info(GgmlType type);
// Case-insensitive lookup by name ("q4_k", "F16"); throws with the supported list.
GgmlType parse_type_name(std::string_view name);
std::string_view type_name(GgmlType type);
// The weight formats concord reads and writes, in id order.
const std::vector<GgmlType>& supported_types();

// Bytes of a row of n elements; n must be a multiple of the block size.
size_t row_bytes(GgmlType type, int64_t n);

}  // namespace concord
