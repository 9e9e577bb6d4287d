// SHA-256 (FIPS 180-4) of a byte range: model fingerprints in parity receipts.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace concord {

std::string sha256_hex(std::span<const uint8_t> data);

}  // namespace concord
