#include "quant/types.h"

#include <algorithm>
#include <array>
#include <string>

#include "util/ascii.h"
#include "util/error.h"

namespace concord {
namespace {

constexpr int64_t kQK = 32;    // elements per block of the legacy formats
constexpr int64_t kQKK = 256;  // elements per super-block of the k-quants

// Block sizes and byte counts follow the GGUF block layouts (see quant/blocks.h for the
// supported ones). Unsupported types are listed so that files holding them still parse.
constexpr std::array kTypes = {
    TypeInfo{GgmlType::F32, "F32", 1, 4, true},
    TypeInfo{GgmlType::F16, "F16", 1, 2, true},
    TypeInfo{GgmlType::Q4_0, "Q4_0", kQK, 2 + kQK / 2, true},
    TypeInfo{GgmlType::Q4_1, "Q4_1", kQK, 4 + kQK / 2, true},
    TypeInfo{GgmlType::Q5_0, "Q5_0", kQK, 2 + 4 + kQK / 2, true},
    TypeInfo{GgmlType::Q5_1, "Q5_1", kQK, 4 + 4 + kQK / 2, true},
    TypeInfo{GgmlType::Q8_0, "Q8_0", kQK, 2 + kQK, true},
    TypeInfo{GgmlType::Q8_1, "Q8_1", kQK, 4 + kQK, false},
    TypeInfo{GgmlType::Q2_K, "Q2_K", kQKK, kQKK / 16 + kQKK / 4 + 4, true},
    TypeInfo{GgmlType::Q3_K, "Q3_K", kQKK, kQKK / 8 + kQKK / 4 + 12 + 2, true},
    TypeInfo{GgmlType::Q4_K, "Q4_K", kQKK, 4 + 12 + kQKK / 2, true},
    TypeInfo{GgmlType::Q5_K, "Q5_K", kQKK, 4 + 12 + kQKK / 8 + kQKK / 2, true},
    TypeInfo{GgmlType::Q6_K, "Q6_K", kQKK, kQKK / 2 + kQKK / 4 + kQKK / 16 + 2, true},
    TypeInfo{GgmlType::Q8_K, "Q8_K", kQKK, 4 + kQKK + kQKK / 16 * 2, false},
    TypeInfo{GgmlType::IQ2_XXS, "IQ2_XXS", kQKK, 2 + kQKK / 4, false},
    TypeInfo{GgmlType::IQ2_XS, "IQ2_XS", kQKK, 2 + kQKK / 4 + kQKK / 32, false},
    TypeInfo{GgmlType::IQ3_XXS, "IQ3_XXS", kQKK, 2 + 3 * kQKK / 8, false},
    TypeInfo{GgmlType::IQ1_S, "IQ1_S", kQKK, 2 + kQKK / 8 + kQKK / 16, false},
    TypeInfo{GgmlType::IQ4_NL, "IQ4_NL", kQK, 2 + kQK / 2, false},
    TypeInfo{GgmlType::IQ3_S, "IQ3_S", kQKK, 2 + kQKK / 4 + kQKK / 32 + kQKK / 8 + kQKK / 64,
             false},
    TypeInfo{GgmlType::IQ2_S, "IQ2_S", kQKK, 2 + kQKK / 4 + kQKK / 32 + kQKK / 32, false},
    TypeInfo{GgmlType::IQ4_XS, "IQ4_XS", kQKK, 2 + 2 + kQKK / 64 + kQKK / 2, false},
    TypeInfo{GgmlType::I8, "I8", 1, 1, false},
    TypeInfo{GgmlType::I16, "I16", 1, 2, false},
    TypeInfo{GgmlType::I32, "I32", 1, 4, false},
    TypeInfo{GgmlType::I64, "I64", 1, 8, false},
    TypeInfo{GgmlType::F64, "F64", 1, 8, false},
    TypeInfo{GgmlType::IQ1_M, "IQ1_M", kQKK, kQKK / 8 + kQKK / 16 + kQKK / 32, false},
    TypeInfo{GgmlType::BF16, "BF16", 1, 2, true},
    TypeInfo{GgmlType::TQ1_0, "TQ1_0", kQKK, 2 + kQKK / 64 + (kQKK - 4 * kQKK / 64) / 5, false},
    TypeInfo{GgmlType::TQ2_0, "TQ2_0", kQKK, 2 + kQKK / 4, false},
    TypeInfo{GgmlType::MXFP4, "MXFP4", kQK, 1 + kQK / 2, false},
};

}  // namespace

std::optional<TypeInfo> find_type_info(uint32_t id) {
  for (const TypeInfo& info : kTypes) {
    if (static_cast<uint32_t>(info.type) == id) return info;
  }
  return std::nullopt;
}

const TypeInfo& type_info(GgmlType type) {
  for (const TypeInfo& info : kTypes) {
    if (info.type == type) return info;
  }
  fail("unknown tensor type id {}", static_cast<uint32_t>(type));
}

std::string_view type_name(GgmlType type) {
  return type_info(type).name;
}

const std::vector<GgmlType>& supported_types() {
  static const std::vector<GgmlType> types = [] {
    std::vector<GgmlType> out;
    for (const TypeInfo& info : kTypes) {
      if (info.supported) out.push_back(info.type);
    }
    return out;
  }();
  return types;
}

GgmlType parse_type_name(std::string_view name) {
  const std::string wanted = ascii_upper(name);
  for (const TypeInfo& info : kTypes) {
    if (info.supported && info.name == wanted) return info.type;
  }
  std::string list;
  for (GgmlType t : supported_types())
    list += (list.empty() ? "" : ", ") + std::string(type_name(t));
  fail("unknown weight type '{}' (supported: {})", name, list);
}

size_t row_bytes(GgmlType type, int64_t n) {
  const TypeInfo& info = type_info(type);
  if (n < 0 || n % info.block_size != 0) {
    fail("a row of {} elements is not a multiple of the {} block size {}", n, info.name,
         info.block_size);
  }
  return static_cast<size_t>(n / info.block_size) * info.block_bytes;
}

}  // namespace concord
