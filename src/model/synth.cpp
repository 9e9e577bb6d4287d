#include "model/synth.h"

#include <algorithm>
#include <cmath>
#include <span>

#include "quant/quant.h"
#include "util/error.h"
#include "util/rng.h"
#include "util/thread_pool.h"

namespace concord {
namespace {

constexpr const char* kSpace = "\xe2\x96\x81";  // "▁", SentencePiece's word-boundary mark

enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kByte = 6 };

// Candidate pieces in preference order. Every multi-character piece is the concatenation
// of two earlier pieces, so score-based merging can reach it.
std::vector<std::string> candidate_pieces() {
  const std::string letters = "etaoinshrdlucmfwypvbgkjqxz";
  const std::string others = "ETAOINSHRDLUCMFWYPVBGKJQXZ0123456789.,!?'\"-:;()";
  std::vector<std::string> pieces = {kSpace};
  for (char c : letters) pieces.emplace_back(1, c);
  for (char c : others) pieces.emplace_back(1, c);
  for (char c : letters) pieces.push_back(kSpace + std::string(1, c));
  for (char a : letters) {
    for (char b : letters) pieces.push_back(std::string{a, b});
  }
  for (char a : letters) {
    for (char b : letters) pieces.push_back(kSpace + std::string{a, b});
  }
  return pieces;
}

// Weights ~ N(0, 1/fan_in) keep activations of any width in a sane range; norm weights
// ~ 1 + N(0, 0.1^2) so that they are not the identity; biases ~ N(0, 0.1^2).
void fill_random(const TensorSpec& spec, std::span<float> values, Rng& rng) {
  const bool bias = spec.name.ends_with(".bias");
  const float scale = spec.is_matrix ? 1.0f / std::sqrt(static_cast<float>(spec.shape[0])) : 0.1f;
  const float mean = spec.is_matrix || bias ? 0.0f : 1.0f;
  for (float& v : values) v = mean + scale * rng.normal();
}

// A share of one tensor's rows: the unit of parallel generation. Every chunk draws from its
// own stream seeded by (seed, tensor, first row), so the bytes do not depend on the thread count,
// and large tensors (an 8B model's 525M-element embedding table) spread over all cores.
struct Chunk {
  size_t tensor;
  int64_t first_row, rows;
};
constexpr int64_t kChunkElements = int64_t{1} << 20;

uint64_t chunk_seed(uint64_t seed, size_t tensor, int64_t first_row) {
  return (seed * 0x100000001b3ull + tensor) * 0x9e3779b97f4a7c15ull +
         static_cast<uint64_t>(first_row);
}

}  // namespace

SynthVocab make_synth_vocab(int64_t n_vocab) {
  if (n_vocab < kMinSynthVocab) {
    fail("a synthetic vocabulary needs at least {} tokens (3 specials + 256 bytes), asked for {}",
         kMinSynthVocab, n_vocab);
  }
  SynthVocab v;
  auto add = [&v](std::string piece, float score, int32_t type) {
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0.0f, kUnknown);
  add("<s>", 0.0f, kControl);
  add("</s>", 0.0f, kControl);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0.0f, kByte);
  const std::vector<std::string> pieces = candidate_pieces();
  for (size_t i = 0; static_cast<int64_t>(v.tokens.size()) < n_vocab; ++i) {
    // Beyond the candidate list, filler pieces keep every id valid and distinct.
    std::string piece = i < pieces.size() ? pieces[i] : fmt::format("<extra_{}>", i);
    const int32_t type = i < pieces.size() ? kNormal : kControl;
    add(std::move(piece), -static_cast<float>(i), type);
  }
  return v;
}

gguf::Writer synthesize(const SynthOptions& options) {
  const ModelHparams& hp = options.hparams;
  hp.validate();
  gguf::Writer w;
  write_hparams(w, hp);
  w.set("general.name", options.name);
  w.set("general.file_type", options.weights.file_type());

  const SynthVocab vocab = make_synth_vocab(hp.n_vocab);
  w.set("tokenizer.ggml.model", "llama");
  w.set("tokenizer.ggml.tokens", gguf::make_array(gguf::ValueType::String, vocab.tokens));
  w.set("tokenizer.ggml.scores", gguf::make_array(gguf::ValueType::F32, vocab.scores));
  w.set("tokenizer.ggml.token_type", gguf::make_array(gguf::ValueType::I32, vocab.types));
  w.set("tokenizer.ggml.unknown_token_id", uint32_t{0});
  w.set("tokenizer.ggml.bos_token_id", uint32_t{1});
  w.set("tokenizer.ggml.eos_token_id", uint32_t{2});
  w.set("tokenizer.ggml.add_bos_token", true);

  // Tensors are generated in parallel chunks (see Chunk) and added in file order.
  const std::vector<TensorSpec> specs = tensor_specs(hp);
  const auto type_of = [&](const TensorSpec& spec) {
    return spec.is_matrix ? options.weights.matrix_type(spec.name, hp.n_layer, hp.tied_embeddings)
                          : GgmlType::F32;
  };
  for (const TensorSpec& spec : specs) {
    const GgmlType type = type_of(spec);
    const int64_t block = type_info(type).block_size;
    if (spec.required && spec.shape[0] % block != 0) {
      fail(
          "tensor '{}' has rows of {} elements, not a multiple of the {} block size {}: "
          "pick dimensions divisible by {}",
          spec.name, spec.shape[0], type_name(type), block, block);
    }
  }
  // Rows are the tensor's contiguous dimension (shape[0]); chunks are whole rows.
  std::vector<std::vector<uint8_t>> data(specs.size());
  std::vector<Chunk> chunks;
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& spec = specs[i];
    if (!spec.required) continue;  // e.g. output.weight of a tied model
    const GgmlType type = type_of(spec);
    const int64_t row = spec.shape[0];
    int64_t rows = 1;
    for (size_t d = 1; d < spec.shape.size(); ++d) rows *= spec.shape[d];
    data[i].resize(row_bytes(type, row) * static_cast<size_t>(rows));
    const int64_t per_chunk = std::max<int64_t>(1, kChunkElements / row);
    for (int64_t first = 0; first < rows; first += per_chunk)
      chunks.push_back({i, first, std::min(per_chunk, rows - first)});
  }
  ThreadPool pool;
  pool.parallel_for(static_cast<int64_t>(chunks.size()), [&](int64_t begin, int64_t end) {
    std::vector<float> values;
    for (int64_t c = begin; c < end; ++c) {
      const Chunk& chunk = chunks[static_cast<size_t>(c)];
      const TensorSpec& spec = specs[chunk.tensor];
      const GgmlType type = type_of(spec);
      const int64_t row = spec.shape[0];
      values.resize(static_cast<size_t>(chunk.rows * row));
      Rng rng(chunk_seed(options.seed, chunk.tensor, chunk.first_row));
      fill_random(spec, values, rng);
      const size_t stride = row_bytes(type, row);
      for (int64_t r = 0; r < chunk.rows; ++r) {
        quantize_row(type, values.data() + r * row,
                     data[chunk.tensor].data() + static_cast<size_t>(chunk.first_row + r) * stride,
                     row);
      }
    }
  });
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!specs[i].required) continue;
    w.add_tensor(specs[i].name, type_of(specs[i]), specs[i].shape, std::move(data[i]));
  }
  return w;
}

}  // namespace concord
