// The backend interface: what the model layer needs from a compute device. A model runs
// wholly on one backend; the control plane never branches on which one.
//
// Conventions: every pointer passed to an op is device memory of that backend (host
// memory for the CPU backends). Activations are row-major float32 [n_tokens, width]. A
// Weight is a matrix of n_out rows, each n_in elements in its GGUF weight format, and
// matmul computes out[t] = W · x[t] for every token row t.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "quant/types.h"

namespace concord {

enum class KvType { F32, F16 };
std::string_view kv_type_name(KvType type);

struct DeviceInfo {
  std::string name;           // "x86_64 (AVX2)", "NVIDIA H100 80GB HBM3"
  uint64_t memory_total = 0;  // bytes
  uint64_t memory_free = 0;
  int compute_units = 0;  // cores or SMs
  std::string detail;     // SIMD level, compute capability, ...
};

// What a backend can do: the single declared source of truth, read by selection, by
// request preflight and by `probe`.
struct Capabilities {
  std::vector<GgmlType> weight_types;
  std::vector<KvType> kv_types;
  int64_t max_batch_tokens = 0;
  int64_t max_context = 0;
  bool logprobs = true;  // logits reach the shared sampler, so every backend has them
  bool flash_attention = false;
  bool graphs = false;
  std::vector<DeviceInfo> devices;

  bool supports(GgmlType type) const;
  bool supports(KvType type) const;
};

// Memory owned by a backend; released when destroyed.
class DeviceBuffer {
 public:
  virtual ~DeviceBuffer() = default;
  virtual void* data() const = 0;
  virtual size_t bytes() const = 0;
  // Where the host reads the buffer directly once synchronize() returns, with no download;
  // null for buffers the host cannot see (see Backend::allocate_readback).
  virtual const void* host_view() const { return nullptr; }

  template <typename T>
  T* as() const {
    return static_cast<T*>(data());
  }
};

struct Weight {
  GgmlType type = GgmlType::F32;
  int64_t n_in = 0, n_out = 0;
  const void* data = nullptr;  // n_out rows of row_bytes(type, n_in)
};

// Rotary position embedding of the first n_rot dimensions of every head.
struct RopeParams {
  int n_rot = 0;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;              // 1 / linear scaling factor
  bool neox = false;                    // pairs (i, i + n_rot/2) instead of (2i, 2i+1)
  const float* freq_factors = nullptr;  // [n_rot/2] divisors of the frequencies, or null
};

// base^(-2 pair / n_rot) in double: a rotated pair's frequency before scaling and factors.
// Every backend takes it from here, so that angles agree to the bit.
double rope_inverse_frequency(int pair, const RopeParams& p);

// One layer's key/value cache: [n_slots, n_ctx, kv_width] for K and for V. Position p of
// a slot lives in row p mod n_ctx, so a sliding-window layer can keep a ring of only
// window + (tokens per step) rows; a global layer has n_ctx above every position.
struct KvLayer {
  void* k = nullptr;
  void* v = nullptr;
  KvType type = KvType::F32;
  int64_t n_ctx = 0;
  int64_t kv_width = 0;
};

struct AttentionParams {
  int n_head = 0, n_head_kv = 0, head_dim = 0;
  float scale = 1.0f;    // applied to q·k
  int window = 0;        // > 0: a token at p sees positions p - window + 1 .. p only
  float softcap = 0.0f;  // > 0: scores become softcap * tanh(score / softcap) (Gemma 2)
};

// The activation of a gated feed-forward block: out = act(gate) * up.
enum class GatedActivation { Silu, GeluTanh };

// One of several projections of the same input (Q, K and V of one layer).
struct Projection {
  Weight w;
  float* out = nullptr;  // [n, w.n_out]
};

// An RMS normalisation of a fused projection's input, x / sqrt(mean(x^2) + eps) * weight
// (none without a weight). Backends that do not fuse it write the normalised rows to
// scratch [n, n_in].
struct InputNorm {
  const float* weight = nullptr;
  float eps = 0.0f;
  float* scratch = nullptr;
};

// A ragged batch on the device: token t belongs to cache slot slots[t] at positions[t].
struct BatchView {
  const int32_t* tokens = nullptr;
  const int32_t* positions = nullptr;
  const int32_t* slots = nullptr;
  int n = 0;
  // Known on the host where every token sits in one slot at consecutive positions (a
  // prompt's prefill): that slot and the first position, else -1. Backends may take faster
  // paths for such runs; graphs never record them (they replay single tokens only).
  int run_slot = -1, run_first = -1;
};

// Optional: recording a sequence of ops once and replaying it (CUDA graphs), for
// backends that declare Capabilities::graphs. Ops read their varying inputs (positions,
// token ids) from device memory, so one recording serves every step of the same shape.
class OpGraphs {
 public:
  virtual ~OpGraphs() = default;
  virtual void begin() = 0;  // ops issued from here on are recorded, not run
  virtual int end() = 0;     // stops recording; returns a handle for replay
  virtual void replay(int handle) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual const Capabilities& capabilities() const = 0;

  // --- memory and synchronisation -----------------------------------------------------
  // Throws concord::Error stating the bytes needed and free when out of memory.
  virtual std::unique_ptr<DeviceBuffer> allocate(size_t bytes) = 0;
  // A buffer that one op writes and the host then reads in full (logits). A backend whose
  // device can write host memory directly may hand out such a buffer (its host_view()), so
  // the bytes cross while the op that writes them runs, not after it; ops that read it back
  // would then read across the bus too.
  virtual std::unique_ptr<DeviceBuffer> allocate_readback(size_t bytes) { return allocate(bytes); }
  virtual void upload(void* device_dst, const void* host_src, size_t bytes) = 0;
  virtual void download(void* host_dst, const void* device_src, size_t bytes) = 0;
  // The first `bytes` of `buffer` as the host reads them once every queued op is done: its
  // host view where it has one (allocate_readback, host memory), else `staging`, grown and
  // downloaded into. Valid until the buffer or `staging` changes.
  const void* read_back(const DeviceBuffer& buffer, size_t bytes, std::vector<std::byte>& staging);
  // Device memory to device memory, in order with the ops.
  virtual void copy(void* device_dst, const void* device_src, size_t bytes) = 0;
  virtual void synchronize() = 0;
  // The backend's graph recorder, or null when it has none.
  virtual OpGraphs* graphs() { return nullptr; }

  // --- ops (shapes per token row) -----------------------------------------------------
  // out[t] = row tokens[t] of `table` (n_out rows of n_in), dequantised: [n, n_in].
  virtual void embed(const Weight& table, const BatchView& batch, float* out) = 0;
  // out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * weight: [n, dim].
  virtual void rms_norm(const float* x, const float* weight, float* out, int n, int dim,
                        float eps) = 0;
  // out[t] = W · x[t]: x [n, n_in], out [n, n_out].
  virtual void matmul(const Weight& w, const float* x, float* out, int n) = 0;
  // Fused forms of the ops above, for backends that save launches or memory traffic by
  // fusing; the defaults compose the plain ops and the op harness checks every override
  // against the scalar reference.
  // proj.out[t] = proj.w · norm(x[t]) for each projection.
  virtual void project(std::initializer_list<Projection> projections, const float* x, int n,
                       const InputNorm& norm);
  // out[t] += W · x[t] (a projection added into the residual stream); scratch [n, n_out]
  // is free for backends that do not fuse.
  virtual void matmul_add(const Weight& w, const float* x, float* out, float* scratch, int n);
  // out[t] = act(Wgate · norm(x[t])) * (Wup · norm(x[t])): [n, n_out]; scratch [n, n_out]
  // as above.
  virtual void gated_matmul(const Weight& gate, const Weight& up, const float* x, float* out,
                            float* scratch, int n, GatedActivation act, const InputNorm& norm);
  // rope(q), rope(k) with the heads of `a`, then store_kv(k, v): the three in one.
  virtual void rope_store_kv(float* q, float* k, const float* v, const KvLayer& cache,
                             const BatchView& batch, const AttentionParams& a,
                             const RopeParams& rope);
  // rope_store_kv(q, k, v, ...) then attention(cache, q, ...): a layer's attention in one op,
  // which a backend may fuse (CUDA: single-token steps). q and k are scratch: afterwards they
  // hold the roped vectors or still the unroped ones.
  virtual void rope_store_attention(float* q, float* k, const float* v, const KvLayer& cache,
                                    const BatchView& batch, const AttentionParams& a,
                                    const RopeParams& rope, float* out);
  // Rotates x [n, n_heads * head_dim] in place by each token's position.
  virtual void rope(float* x, const BatchView& batch, int n_heads, int head_dim,
                    const RopeParams& params) = 0;
  // Writes k, v [n, kv_width] into the cache at (slots[t], positions[t] mod n_ctx).
  virtual void store_kv(const KvLayer& cache, const float* k, const float* v,
                        const BatchView& batch) = 0;
  // Causal attention of q [n, n_head * head_dim] over each token's slot, positions
  // 0..positions[t] or the last `window` of them (grouped-query: head h reads kv head
  // h / (n_head / n_head_kv)). The caller keeps those positions resident in the ring.
  virtual void attention(const KvLayer& cache, const float* q, const BatchView& batch,
                         const AttentionParams& params, float* out) = 0;
  // out = silu(gate) * up, elementwise over n values.
  virtual void swiglu(const float* gate, const float* up, float* out, int64_t n) = 0;
  // out = gelu_tanh(gate) * up, elementwise over n values (Gemma's GeGLU).
  virtual void geglu(const float* gate, const float* up, float* out, int64_t n) = 0;
  // out = a + b, elementwise over n values.
  virtual void add(const float* a, const float* b, float* out, int64_t n) = 0;
  // x[t] += bias for every row t: x [n, dim], bias [dim].
  virtual void add_bias(float* x, const float* bias, int n, int dim) = 0;
  // x = factor * x, elementwise over n values, in place.
  virtual void scale(float* x, float factor, int64_t n) = 0;
  // x = cap * tanh(x / cap), elementwise over n values, in place (logit soft-capping).
  virtual void softcap(float* x, float cap, int64_t n) = 0;
  // out[i] = x[rows[i]]: picks the token rows that need logits; rows [n_rows], x [*, dim].
  virtual void gather_rows(const float* x, const int32_t* rows, int n_rows, int dim,
                           float* out) = 0;
};

}  // namespace concord
