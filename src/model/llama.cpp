// Llama forward pass, written against the backend interface:
//   x = embed(tokens)
//   per layer:  x += Wo · attention(rope(Wq·n), rope(Wk·n), Wv·n)   with n = rmsnorm(x)
//               x += Wdown · (silu(Wgate·n) * Wup·n)                with n = rmsnorm(x)
//   logits = Wout · rmsnorm(x)   (for the rows that asked for logits)
#include "model/llama.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "model/weights.h"
#include "util/error.h"

namespace concord {
namespace {

// Per-step device scratch, grown (never shrunk) to the largest batch seen.
struct Workspace {
  int capacity = 0, logit_capacity = 0;
  std::unique_ptr<DeviceBuffer> x, norm, q, k, v, attn, proj, gate, up;  // [n, width]
  std::unique_ptr<DeviceBuffer> ints;    // tokens, positions, slots, logit rows: [4n] int32
  std::unique_ptr<DeviceBuffer> picked;  // [m, d] rows that need logits
  std::unique_ptr<DeviceBuffer> logits;  // [m, n_vocab]
};

class LlamaModel : public Model {
 public:
  LlamaModel(const gguf::File& file, Backend& backend)
      : backend_(backend),
        hp_(read_llama_hparams(file)),
        specs_(llama_tensor_specs(hp_)),
        weights_(file, backend, specs_, "llama") {
    info_.architecture = "llama";
    info_.name = file.get_string("general.name").value_or("");
    info_.n_vocab = hp_.n_vocab;
    info_.n_ctx_train = hp_.n_ctx;
    info_.n_layer = hp_.n_layer;
    info_.n_embd = hp_.n_embd;
    info_.kv_width = hp_.kv_width();
    info_.n_params = weights_.n_params();
    info_.weight_bytes = weights_.bytes();
    // Tied models read the table in full for the logits, so it counts as read per token.
    info_.embedding_bytes =
        weights_.has("output.weight") ? file.tensor("token_embd.weight").n_bytes : 0;
    info_.weight_types = weights_.types();
    rope_.n_rot = static_cast<int>(hp_.n_rot);
    rope_.freq_base = hp_.rope_base;
    rope_.freq_scale = hp_.rope_freq_scale;
    rope_.neox = false;  // GGUF Llama weights are laid out for adjacent-pair rotation
    rope_.freq_factors = weights_.vector("rope_freqs.weight");
    attention_.n_head = static_cast<int>(hp_.n_head);
    attention_.n_head_kv = static_cast<int>(hp_.n_head_kv);
    attention_.head_dim = static_cast<int>(hp_.head_dim());
    attention_.scale = 1.0f / std::sqrt(static_cast<float>(hp_.head_dim()));
  }

  const ModelInfo& info() const override { return info_; }
  Backend& backend() const override { return backend_; }

  void forward(const Batch& batch, std::span<const KvLayer> cache,
               std::vector<float>& logits) override {
    const int n = batch.size();
    if (n == 0) {
      logits.clear();
      return;
    }
    if (cache.size() != static_cast<size_t>(hp_.n_layer)) {
      fail("KV cache has {} layers, the model {}", cache.size(), hp_.n_layer);
    }
    for (TokenId t : batch.tokens) {
      if (t < 0 || t >= hp_.n_vocab)
        fail("token id {} is outside the vocabulary (0..{})", t, hp_.n_vocab - 1);
    }
    std::vector<int32_t> logit_rows;
    for (int i = 0; i < n; ++i) {
      if (batch.logits[static_cast<size_t>(i)]) logit_rows.push_back(i);
    }
    const int m = static_cast<int>(logit_rows.size());
    reserve(n, m);
    const BatchView view = upload_batch(batch, logit_rows);
    logits.resize(static_cast<size_t>(m) * hp_.n_vocab);
    // Single-token decode steps have one shape: record the ops once, replay them after.
    OpGraphs* graphs = backend_.graphs();
    if (graphs != nullptr && n == 1 && m == 1) {
      const GraphKey key{cache[0].k, ws_.capacity, ws_.logit_capacity};
      auto it = graph_cache_.find(key);
      if (it == graph_cache_.end()) {
        graphs->begin();
        run_ops(view, n, m, cache);
        it = graph_cache_.emplace(key, graphs->end()).first;
      }
      graphs->replay(it->second);
    } else {
      run_ops(view, n, m, cache);
    }
    if (m == 0) return;
    backend_.download(logits.data(), ws_.logits->data(), logits.size() * sizeof(float));
    backend_.synchronize();
  }

 private:
  // Every op of one forward step, from embedding to logits (device side only).
  void run_ops(const BatchView& view, int n, int m, std::span<const KvLayer> cache) {
    Backend& b = backend_;
    const int d = static_cast<int>(hp_.n_embd);
    const int ff = static_cast<int>(hp_.n_ff);
    float* x = ws_.x->as<float>();
    float* norm = ws_.norm->as<float>();
    b.embed(weights_.matrix("token_embd.weight"), view, x);
    for (int64_t l = 0; l < hp_.n_layer; ++l) {
      auto name = [l](const char* suffix) { return layer_tensor_name(l, suffix); };
      // Attention block.
      b.rms_norm(x, weights_.vector(name("attn_norm.weight")), norm, n, d, hp_.rms_eps);
      b.matmul(weights_.matrix(name("attn_q.weight")), norm, ws_.q->as<float>(), n);
      b.matmul(weights_.matrix(name("attn_k.weight")), norm, ws_.k->as<float>(), n);
      b.matmul(weights_.matrix(name("attn_v.weight")), norm, ws_.v->as<float>(), n);
      b.rope(ws_.q->as<float>(), view, attention_.n_head, attention_.head_dim, rope_);
      b.rope(ws_.k->as<float>(), view, attention_.n_head_kv, attention_.head_dim, rope_);
      const KvLayer& layer_cache = cache[static_cast<size_t>(l)];
      b.store_kv(layer_cache, ws_.k->as<float>(), ws_.v->as<float>(), view);
      b.attention(layer_cache, ws_.q->as<float>(), view, attention_, ws_.attn->as<float>());
      b.matmul(weights_.matrix(name("attn_output.weight")), ws_.attn->as<float>(),
               ws_.proj->as<float>(), n);
      b.add(x, ws_.proj->as<float>(), x, static_cast<int64_t>(n) * d);
      // Feed-forward block (SwiGLU).
      b.rms_norm(x, weights_.vector(name("ffn_norm.weight")), norm, n, d, hp_.rms_eps);
      b.matmul(weights_.matrix(name("ffn_gate.weight")), norm, ws_.gate->as<float>(), n);
      b.matmul(weights_.matrix(name("ffn_up.weight")), norm, ws_.up->as<float>(), n);
      b.swiglu(ws_.gate->as<float>(), ws_.up->as<float>(), ws_.gate->as<float>(),
               static_cast<int64_t>(n) * ff);
      b.matmul(weights_.matrix(name("ffn_down.weight")), ws_.gate->as<float>(),
               ws_.proj->as<float>(), n);
      b.add(x, ws_.proj->as<float>(), x, static_cast<int64_t>(n) * d);
    }
    if (m == 0) return;
    const int32_t* rows = ws_.ints->as<int32_t>() + 3 * ws_.capacity;
    b.gather_rows(x, rows, m, d, ws_.picked->as<float>());
    b.rms_norm(ws_.picked->as<float>(), weights_.vector("output_norm.weight"),
               ws_.picked->as<float>(), m, d, hp_.rms_eps);
    const Weight output = weights_.has("output.weight") ? weights_.matrix("output.weight")
                                                        : weights_.matrix("token_embd.weight");
    b.matmul(output, ws_.picked->as<float>(), ws_.logits->as<float>(), m);
  }

  void reserve(int n, int m) {
    Backend& b = backend_;
    auto floats = [&b](int64_t count) {
      return b.allocate(static_cast<size_t>(count) * sizeof(float));
    };
    if (n > ws_.capacity) {
      const int c = std::max(n, 2 * ws_.capacity);
      const int64_t d = hp_.n_embd, kv = hp_.kv_width(), ff = hp_.n_ff;
      ws_.x = floats(c * d);
      ws_.norm = floats(c * d);
      ws_.q = floats(c * d);
      ws_.k = floats(c * kv);
      ws_.v = floats(c * kv);
      ws_.attn = floats(c * d);
      ws_.proj = floats(c * d);
      ws_.gate = floats(c * ff);
      ws_.up = floats(c * ff);
      ws_.ints = b.allocate(static_cast<size_t>(4 * c) * sizeof(int32_t));
      ws_.capacity = c;
      graph_cache_.clear();  // recorded pointers are stale
    }
    if (m > ws_.logit_capacity) {
      const int c = std::max(m, 2 * ws_.logit_capacity);
      ws_.picked = floats(static_cast<int64_t>(c) * hp_.n_embd);
      ws_.logits = floats(static_cast<int64_t>(c) * hp_.n_vocab);
      ws_.logit_capacity = c;
      graph_cache_.clear();
    }
  }

  // Copies the batch's ids, positions, slots and logit rows to the device in one transfer.
  BatchView upload_batch(const Batch& batch, const std::vector<int32_t>& logit_rows) {
    const int n = batch.size(), c = ws_.capacity;
    std::vector<int32_t>& host = host_ints_;
    host.resize(static_cast<size_t>(4 * c));
    std::copy(batch.tokens.begin(), batch.tokens.end(), host.begin());
    std::copy(batch.positions.begin(), batch.positions.end(), host.begin() + c);
    std::copy(batch.slots.begin(), batch.slots.end(), host.begin() + 2 * c);
    std::copy(logit_rows.begin(), logit_rows.end(), host.begin() + 3 * c);
    int32_t* ints = ws_.ints->as<int32_t>();
    const size_t used = 3 * static_cast<size_t>(c) + logit_rows.size();
    backend_.upload(ints, host.data(), used * sizeof(int32_t));
    return {ints, ints + c, ints + 2 * c, n};
  }

  Backend& backend_;
  LlamaHparams hp_;
  std::vector<TensorSpec> specs_;
  WeightStore weights_;
  ModelInfo info_;
  RopeParams rope_;
  AttentionParams attention_;
  Workspace ws_;
  std::vector<int32_t> host_ints_;
  // Recorded decode steps, per KV cache and workspace layout.
  using GraphKey = std::tuple<const void*, int, int>;
  std::map<GraphKey, int> graph_cache_;
};

}  // namespace

std::unique_ptr<Model> load_llama(const gguf::File& file, Backend& backend) {
  return std::make_unique<LlamaModel>(file, backend);
}

}  // namespace concord
