// What the control plane sees of a loaded model: its shape and a batched forward pass.
// Every family runs on the shared decoder (model/decoder.cpp) and on any Backend.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "gguf/gguf.h"
#include "model/batch.h"

namespace concord {

struct ModelInfo {
  std::string architecture;  // general.architecture
  std::string name;          // general.name
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_layer = 0;
  int64_t n_embd = 0;
  int64_t kv_width = 0;  // per layer, for K and for V
  // Per layer: the sliding window (positions a token attends to), 0 for global layers.
  std::vector<int64_t> layer_window;
  uint64_t n_params = 0;
  // Parameters a prompt token multiplies through: all but the token-embedding table and the
  // output head (applied to the last token only). 2 x this is a prompt token's matrix FLOPs.
  uint64_t layer_params = 0;
  uint64_t weight_bytes = 0;           // all weights as stored on the backend
  uint64_t embedding_bytes = 0;        // the token-embedding table (a decode step reads one row)
  std::vector<GgmlType> weight_types;  // distinct types of the weights
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelInfo& info() const = 0;
  virtual Backend& backend() const = 0;

  // Runs one step. Cache positions [0, positions[t]] of each token's slot must hold the
  // sequence's earlier keys/values (written by earlier steps or earlier in this batch).
  // Returns [batch.n_logits(), n_vocab] floats, rows in batch order: a view into the model's
  // own buffer (on CUDA the mapped memory the logits kernel wrote), valid until the next step.
  virtual std::span<const float> forward(const Batch& batch, std::span<const KvLayer> cache) = 0;

  // As above, the logits copied into `logits`.
  void forward(const Batch& batch, std::span<const KvLayer> cache, std::vector<float>& logits) {
    const std::span<const float> view = forward(batch, cache);
    logits.assign(view.begin(), view.end());
  }
};

// Architectures concord can load, for error messages and `probe`.
const std::vector<std::string>& supported_architectures();

// Validates the file against the architecture's tensor list and uploads the weights to
// `backend`; throws concord::Error naming the architecture, tensor or type at fault.
std::unique_ptr<Model> load_model(const gguf::File& file, Backend& backend);

}  // namespace concord
