// The decoder forward pass, written against the backend interface. Per layer, with
// n = rmsnorm(x) and the family's optional steps in brackets:
//   q, k, v = Wq·n [+ bq], Wk·n [+ bk], Wv·n [+ bv]
//   [q, k = rmsnorm per head]; q, k = rope(q), rope(k)
//   x += [rmsnorm] Wo · attention(q, k, v)        (windowed on sliding-window layers)
//   x += [rmsnorm] Wdown · (act(Wgate·n) * Wup·n)  (act: SiLU or tanh-GELU)
// with x = embed(tokens) [* sqrt(width)] at the start and
// logits = [softcap] Wout · rmsnorm(x) for the rows that asked for logits.
#include "model/decoder.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "model/hparams.h"
#include "model/weights.h"
#include "util/error.h"

namespace concord {
namespace {

// Per-step device scratch, grown (never shrunk) to the largest batch seen.
struct Workspace {
  int capacity = 0, logit_capacity = 0;
  std::unique_ptr<DeviceBuffer> x, norm, proj;  // [n, width]
  std::unique_ptr<DeviceBuffer> q, attn;        // [n, q_width]
  std::unique_ptr<DeviceBuffer> k, v;           // [n, kv_width]
  std::unique_ptr<DeviceBuffer> gate, up;       // [n, ff]
  std::unique_ptr<DeviceBuffer> ints;           // tokens, positions, slots, logit rows: [4n] int32
  std::unique_ptr<DeviceBuffer> picked;         // [m, d] rows that need logits
  std::unique_ptr<DeviceBuffer> logits;         // [m, n_vocab]
};

// One layer's weights and settings, resolved once at load.
struct Layer {
  const float *attn_norm = nullptr, *ffn_norm = nullptr;
  Weight wq, wk, wv, wo, gate, up, down;
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr;          // qkv_bias
  const float *q_norm = nullptr, *k_norm = nullptr;                 // qk_norm
  const float *post_attn_norm = nullptr, *post_ffn_norm = nullptr;  // post_norms
  RopeParams rope;
  AttentionParams attention;
};

class DecoderModel : public Model {
 public:
  DecoderModel(const gguf::File& file, Backend& backend)
      : backend_(backend),
        hp_(read_hparams(file)),
        specs_(tensor_specs(hp_)),
        weights_(file, backend, specs_, hp_.arch) {
    info_.architecture = hp_.arch;
    info_.name = file.get_string("general.name").value_or("");
    info_.n_vocab = hp_.n_vocab;
    info_.n_ctx_train = hp_.n_ctx;
    info_.n_layer = hp_.n_layer;
    info_.n_embd = hp_.n_embd;
    info_.kv_width = hp_.kv_width();
    info_.n_params = weights_.n_params();
    const auto elements = [&](const char* name) {
      const gguf::TensorInfo* t = file.find_tensor(name);
      return t != nullptr ? static_cast<uint64_t>(t->n_elements()) : uint64_t{0};
    };
    info_.layer_params = info_.n_params - elements("token_embd.weight") - elements("output.weight");
    info_.weight_bytes = weights_.bytes();
    // Tied models read the table in full for the logits, so it counts as read per token.
    info_.embedding_bytes =
        weights_.has("output.weight") ? file.tensor("token_embd.weight").n_bytes : 0;
    info_.weight_types = weights_.types();
    for (int64_t l = 0; l < hp_.n_layer; ++l) {
      layers_.push_back(resolve_layer(l));
      info_.layer_window.push_back(hp_.layer_window(l));
    }
  }

  const ModelInfo& info() const override { return info_; }
  Backend& backend() const override { return backend_; }

  std::span<const float> forward(const Batch& batch, std::span<const KvLayer> cache) override {
    const int n = batch.size();
    if (n == 0) return {};
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
    if (m == 0) return {};
    // Read where the op wrote them when the host can see that (mapped or host memory).
    const size_t n_logits = static_cast<size_t>(m) * static_cast<size_t>(hp_.n_vocab);
    const void* host = backend_.read_back(*ws_.logits, n_logits * sizeof(float), host_logits_);
    return {static_cast<const float*>(host), n_logits};
  }

 private:
  Layer resolve_layer(int64_t l) const {
    auto name = [l](const char* suffix) { return layer_tensor_name(l, suffix); };
    auto vec = [&](const char* suffix) { return weights_.vector(name(suffix)); };
    auto mat = [&](const char* suffix) { return weights_.matrix(name(suffix)); };
    Layer layer;
    layer.attn_norm = vec("attn_norm.weight");
    layer.ffn_norm = vec("ffn_norm.weight");
    layer.wq = mat("attn_q.weight");
    layer.wk = mat("attn_k.weight");
    layer.wv = mat("attn_v.weight");
    layer.wo = mat("attn_output.weight");
    layer.gate = mat("ffn_gate.weight");
    layer.up = mat("ffn_up.weight");
    layer.down = mat("ffn_down.weight");
    if (hp_.qkv_bias) {
      layer.bq = vec("attn_q.bias");
      layer.bk = vec("attn_k.bias");
      layer.bv = vec("attn_v.bias");
    }
    if (hp_.qk_norm) {
      layer.q_norm = vec("attn_q_norm.weight");
      layer.k_norm = vec("attn_k_norm.weight");
    }
    if (hp_.post_norms) {
      layer.post_attn_norm = vec("post_attention_norm.weight");
      layer.post_ffn_norm = vec("post_ffw_norm.weight");
    }
    layer.rope.n_rot = static_cast<int>(hp_.n_rot);
    layer.rope.freq_base = hp_.layer_rope_base(l);
    layer.rope.freq_scale = hp_.layer_rope_freq_scale(l);
    layer.rope.neox = hp_.neox_rope;
    layer.rope.freq_factors = weights_.vector("rope_freqs.weight");
    AttentionParams& a = layer.attention;
    a.n_head = static_cast<int>(hp_.n_head);
    a.n_head_kv = static_cast<int>(hp_.n_head_kv);
    a.head_dim = static_cast<int>(hp_.head_dim());
    a.scale = hp_.attn_scale > 0.0f ? hp_.attn_scale
                                    : 1.0f / std::sqrt(static_cast<float>(hp_.head_dim()));
    a.window = static_cast<int>(hp_.layer_window(l));
    a.softcap = hp_.attn_softcap;
    return layer;
  }

  // Every op of one forward step, from embedding to logits (device side only).
  void run_ops(const BatchView& view, int n, int m, std::span<const KvLayer> cache) {
    Backend& b = backend_;
    const int d = static_cast<int>(hp_.n_embd);
    const int64_t nd = static_cast<int64_t>(n) * d;
    float* x = ws_.x->as<float>();
    float* norm = ws_.norm->as<float>();
    b.embed(weights_.matrix("token_embd.weight"), view, x);
    if (hp_.scale_embeddings) b.scale(x, std::sqrt(static_cast<float>(d)), nd);
    const GatedActivation act =
        hp_.activation == Activation::GeluTanh ? GatedActivation::GeluTanh : GatedActivation::Silu;
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& layer = layers_[l];
      attention_block(layer, cache[l], view, n);
      add_to_residual(layer.wo, ws_.attn->as<float>(), layer.post_attn_norm, n);
      float* hidden = ws_.gate->as<float>();
      b.gated_matmul(layer.gate, layer.up, x, hidden, ws_.up->as<float>(), n, act,
                     {layer.ffn_norm, hp_.rms_eps, norm});
      add_to_residual(layer.down, hidden, layer.post_ffn_norm, n);
    }
    if (m == 0) return;
    // The rows that need logits. Where every row does (a decode step, a perplexity batch) they
    // are x itself, in order (logit_rows ascends): no gather, one launch fewer.
    float* picked = ws_.picked->as<float>();
    const float* wanted = x;
    if (m < n) {
      const int32_t* rows = ws_.ints->as<int32_t>() + 3 * ws_.capacity;
      b.gather_rows(x, rows, m, d, picked);
      wanted = picked;
    }
    const Weight output = weights_.has("output.weight") ? weights_.matrix("output.weight")
                                                        : weights_.matrix("token_embd.weight");
    float* out = ws_.logits->as<float>();
    b.project({{output, out}}, wanted, m,
              {weights_.vector("output_norm.weight"), hp_.rms_eps, picked});
    if (hp_.final_softcap > 0.0f) b.softcap(out, hp_.final_softcap, m * hp_.n_vocab);
  }

  // attn = attention(q, k, v) of rmsnorm(x), the keys and values stored in the KV cache.
  void attention_block(const Layer& layer, const KvLayer& cache, const BatchView& view, int n) {
    Backend& b = backend_;
    const AttentionParams& a = layer.attention;
    float *q = ws_.q->as<float>(), *k = ws_.k->as<float>(), *v = ws_.v->as<float>();
    b.project({{layer.wq, q}, {layer.wk, k}, {layer.wv, v}}, ws_.x->as<float>(), n,
              {layer.attn_norm, hp_.rms_eps, ws_.norm->as<float>()});
    if (layer.bq) {
      b.add_bias(q, layer.bq, n, static_cast<int>(layer.wq.n_out));
      b.add_bias(k, layer.bk, n, static_cast<int>(layer.wk.n_out));
      b.add_bias(v, layer.bv, n, static_cast<int>(layer.wv.n_out));
    }
    if (layer.q_norm) {  // each head's vector is a row of head_dim values
      b.rms_norm(q, layer.q_norm, q, n * a.n_head, a.head_dim, hp_.rms_eps);
      b.rms_norm(k, layer.k_norm, k, n * a.n_head_kv, a.head_dim, hp_.rms_eps);
    }
    b.rope_store_attention(q, k, v, cache, view, a, layer.rope, ws_.attn->as<float>());
  }

  // x += [rmsnorm] W · h: one fused op where the family has no post-norm.
  void add_to_residual(const Weight& w, const float* h, const float* post_norm, int n) {
    Backend& b = backend_;
    float *x = ws_.x->as<float>(), *proj = ws_.proj->as<float>();
    const int d = static_cast<int>(hp_.n_embd);
    if (post_norm == nullptr) {
      b.matmul_add(w, h, x, proj, n);
      return;
    }
    b.matmul(w, h, proj, n);
    b.rms_norm(proj, post_norm, proj, n, d, hp_.rms_eps);
    b.add(x, proj, x, static_cast<int64_t>(n) * d);
  }

  void reserve(int n, int m) {
    Backend& b = backend_;
    auto floats = [&b](int64_t count) {
      return b.allocate(static_cast<size_t>(count) * sizeof(float));
    };
    if (n > ws_.capacity) {
      const int c = std::max(n, 2 * ws_.capacity);
      const int64_t d = hp_.n_embd, q = hp_.q_width(), kv = hp_.kv_width(), ff = hp_.n_ff;
      ws_.x = floats(c * d);
      ws_.norm = floats(c * d);
      ws_.proj = floats(c * d);
      ws_.q = floats(c * q);
      ws_.attn = floats(c * q);
      ws_.k = floats(c * kv);
      ws_.v = floats(c * kv);
      ws_.gate = floats(c * ff);
      ws_.up = floats(c * ff);
      ws_.ints = b.allocate(static_cast<size_t>(4 * c) * sizeof(int32_t));
      ws_.capacity = c;
      graph_cache_.clear();  // recorded pointers are stale
    }
    if (m > ws_.logit_capacity) {
      const int c = std::max(m, 2 * ws_.logit_capacity);
      ws_.picked = floats(static_cast<int64_t>(c) * hp_.n_embd);
      // A final softcap reads the logits back on the device: keep them there for it.
      const int64_t n_logits = static_cast<int64_t>(c) * hp_.n_vocab;
      ws_.logits = hp_.final_softcap > 0.0f
                       ? floats(n_logits)
                       : b.allocate_readback(static_cast<size_t>(n_logits) * sizeof(float));
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
    BatchView view{ints, ints + c, ints + 2 * c, n};
    const auto& pos = batch.positions;
    bool run = n > 0;
    for (int i = 1; run && i < n; ++i) {
      run = batch.slots[i] == batch.slots[0] && pos[i] == pos[0] + i;
    }
    if (run) view.run_slot = batch.slots[0], view.run_first = pos[0];
    return view;
  }

  Backend& backend_;
  ModelHparams hp_;
  std::vector<TensorSpec> specs_;
  WeightStore weights_;
  ModelInfo info_;
  std::vector<Layer> layers_;
  Workspace ws_;
  std::vector<int32_t> host_ints_;
  std::vector<std::byte> host_logits_;  // downloaded logits, where ws_.logits has no host view
  // Recorded decode steps, per KV cache and workspace layout.
  using GraphKey = std::tuple<const void*, int, int>;
  std::map<GraphKey, int> graph_cache_;
};

}  // namespace

std::unique_ptr<Model> load_decoder(const gguf::File& file, Backend& backend) {
  return std::make_unique<DecoderModel>(file, backend);
}

}  // namespace concord
