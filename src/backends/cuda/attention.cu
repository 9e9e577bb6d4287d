// Attention over the device KV cache: the decode kernel (single tokens, windowed layers),
// split over key ranges where there are few heads, and the tiled kernel of batched prefills.
// Both mirror reference::attention and are checked against it by the op harness.
#include "backends/cuda/kernels.cuh"

#include <algorithm>

#include "backends/cuda/dependent_launch.cuh"
#include "backends/cuda/kv_access.cuh"
#include "backends/cuda/rope.cuh"
#include "backends/cuda/timeline.cuh"
#include "backends/cuda/warp.cuh"
#include "util/error.h"

namespace concord::cuda {
namespace {

// Attention of single tokens (decode) and of windowed layers: one block of kAttnWarps warps
// per (token, head) and range of its keys. Each warp takes kStepKeys consecutive keys at a
// time, issuing all their K and V loads before using any (one memory latency per step, not
// per key), and keeps an online softmax (running max, sum and weighted values in
// registers); the warps' partial results are merged at the end. Lane l owns head dims
// (c * 32 + l) * kVec + e for chunk c < kChunks and e < kVec: 4-value loads where the head
// size allows.
//
// Too few (token, head) pairs leave most SMs idle (a decode step of 32 heads: 32 blocks on
// 132 SMs), so their keys are split over up to kMaxAttnSplits blocks (flash-decoding), at
// least kMinKeysPerSplit keys each. Each block writes its (max, sum, weighted values) to
// scratch; the last to arrive merges them in split order (deterministic) and writes out.
//
// A single-token step may hand the kernel its own key and value unroped (OwnKey; the fused
// rope_store_kv + attention, one launch fewer per layer): every block ropes its query head
// and the key in shared memory and takes that key (as the cache will hold it) from there, so
// no block reads the cache row being written; the block of split 0 and the group's first
// head writes it.
//
// Heads up to 128 wide keep to 64 registers, so that the 4 blocks per SM that the split
// count aims at fit (71 -> 64 registers: +19% decode at 4K context on the 8B shape); wider
// heads would spill there and get 2 blocks per SM. (One block per KV head serving its
// whole group, so that K/V rows are loaded once per SM, ran slower: 8B @ d4096 256 -> 200
// t/s, fewer blocks at every context; docs/perf.md.)
constexpr int kAttnWarps = 8;
constexpr int kStepKeys = 4;
constexpr int kMaxAttnHeadDim = 256;
constexpr int kMaxDimsPerLane = kMaxAttnHeadDim / kWarp;
constexpr int kMaxAttnSplits = 16;
// 128 against 64: a decode step below 129 keys takes one block per pair and no merge (1B Q4_0
// tg128 +1.4%, 8B +0.5%; at depth 512 level).
constexpr int kMinKeysPerSplit = 128;
constexpr int kSplitBlocksPerSm = 4;                 // aim of the split count: blocks per SM in all
constexpr int kPartialFloats = 2 + kMaxAttnHeadDim;  // m, l, weighted values

// kVec consecutive values [i, i + kVec) of a KV cache row (i a multiple of kVec).
template <KvType kType, int kVec>
__device__ __forceinline__ void load_kv_values(const void* base, int64_t i, float* out) {
  if constexpr (kVec == 4) {
    const float4 v = load_kv4(base, kType, i);
    out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
  } else {
    out[0] = load_kv(base, kType, i);
  }
}

// The launch's OwnToken with its rope's frequencies; k null where the token is not fused.
struct OwnKey {
  const float* k = nullptr;
  const float* v = nullptr;
  RopeParams rope;
  InverseFrequencies f;
};

// Weight of a partial softmax (max m_part, sum l_part) rescaled to the overall max m_all;
// parts without keys weigh nothing.
__device__ __forceinline__ float merge_weight(float m_part, float l_part, float m_all) {
  return l_part > 0.0f ? __expf(m_part - m_all) : 0.0f;
}

// Pair threadIdx.x's rotation of the fused token's query and key (a thread per pair: n_rot / 2
// <= kMaxRopePairs <= the block's threads), where the token is fused. It needs only the
// position, which the host wrote, so it is computed before the dependency wait, off the path
// from the previous kernel's q, k and v to the keys' scores. With one barrier where there
// were three (rope_store_own_key), the 1B layer's wait-to-keys-walked went 3.8 -> 3.0 us and
// tg128 1B Q4_0 +2%, 8B level (-0.6% to +0.4% over two A/B calls).
static_assert(kMaxRopePairs <= kAttnWarps * kWarp);
__device__ PairRotation own_rotation(const OwnKey& own, int position) {
  PairRotation r{};
  if (own.k != nullptr && static_cast<int>(threadIdx.x) < own.rope.n_rot / 2)
    r = pair_rotation(static_cast<int>(threadIdx.x), position, own.rope, own.f);
  return r;
}

// The token's query head (from qh) and its KV head `kv_head`'s key, roped by the rotations r
// (own_rotation), and value, into own_q, own_k, own_v (head_dim each; key and value as the
// cache holds them); `writes` stores the key and value in the cache at (slot, position). Each
// thread reads, rotates and writes its own pair's dims, so one barrier follows the reads.
__device__ void rope_store_own_key(const KvLayer& c, const float* qh, const OwnKey& own,
                                   const PairRotation& r, int slot, int position, int kv_head,
                                   bool writes, int head_dim, float* own_q, float* own_k,
                                   float* own_v) {
  const int64_t src = static_cast<int64_t>(kv_head) * head_dim;
  const int64_t row =
      (static_cast<int64_t>(slot) * c.n_ctx + position % c.n_ctx) * c.kv_width + src;
  const auto keep = [&](int d, float q, float k, float v) {
    if (writes) {
      store_kv_value(c.k, c.type, row + d, k);
      store_kv_value(c.v, c.type, row + d, v);
    }
    own_q[d] = q, own_k[d] = round_to_kv(c.type, k), own_v[d] = round_to_kv(c.type, v);
  };
  if (static_cast<int>(threadIdx.x) < own.rope.n_rot / 2) {
    const float2 q = rotated(r, qh[r.a], qh[r.b]);
    const float2 k = rotated(r, own.k[src + r.a], own.k[src + r.b]);
    const float v_a = own.v[src + r.a], v_b = own.v[src + r.b];
    keep(r.a, q.x, k.x, v_a);
    keep(r.b, q.y, k.y, v_b);
  }
  for (int d = own.rope.n_rot + static_cast<int>(threadIdx.x); d < head_dim; d += blockDim.x)
    keep(d, qh[d], own.k[src + d], own.v[src + d]);  // past the rotated dims
  __syncthreads();
}

// Asks L2 for the K and V rows (head_dim values from row_of(j)) of keys [begin, end), one
// 128-byte line per thread at a time. A prefetch is only a hint, and L2 is where every write
// lands: rows the previous kernel may still be writing are safe to ask for.
template <typename RowOf>
__device__ void prefetch_rows_to_l2(const KvLayer& c, int head_dim, int begin, int end,
                                    RowOf row_of) {
  const int value_bytes = c.type == KvType::F32 ? 4 : 2;
  const int lines = (head_dim * value_bytes + 127) / 128;  // per row
  for (int i = threadIdx.x; i < (end - begin) * lines; i += blockDim.x) {
    const int64_t at = row_of(begin + i / lines) * value_bytes + 128 * (i % lines);
    asm volatile("prefetch.global.L2 [%0];" ::"l"(static_cast<const char*>(c.k) + at));
    asm volatile("prefetch.global.L2 [%0];" ::"l"(static_cast<const char*>(c.v) + at));
  }
}

template <KvType kType, int kVec, int kChunks>
__global__ void __launch_bounds__(kAttnWarps* kWarp, kChunks == 1 ? 4 : 2)
    attention_kernel(KvLayer c, const float* __restrict__ q, const int32_t* __restrict__ slots,
                     const int32_t* __restrict__ positions, AttentionParams p, int splits,
                     AttentionScratch scratch, float* __restrict__ out, OwnKey own,
                     TimelineSink timeline) {
  constexpr int kDims = kVec * kChunks;  // head dims per lane
  __shared__ BlockTimes times;           // recorded at whichever exit the block takes
  struct RecordAtExit {
    const TimelineSink& sink;
    const BlockTimes& times;
    __device__ ~RecordAtExit() { record_block(sink, TimelineKernel::DecodeAttention, times); }
  } record_at_exit{timeline, times};
  start_times(timeline, times);
  // Positions and slots come from the host, uploaded before the step's first kernel, so
  // they are read before the dependency wait: blocks without keys leave at once, and the
  // others prefetch their keys' rows into L2 first, ahead of the weights the next kernel
  // starts streaming once this one passes the wait (8B Q4_0 tg128 +2%, 1B +3.5%).
  const int pair = blockIdx.x, t = pair / p.n_head, h = pair % p.n_head;
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int first = p.window > 0 ? max(0, positions[t] - p.window + 1) : 0;
  const int n_keys = positions[t] + 1 - first;
  // This block's keys: range blockIdx.y of `active` near-equal ranges.
  const int active = min(splits, (n_keys + kMinKeysPerSplit - 1) / kMinKeysPerSplit);
  if (static_cast<int>(blockIdx.y) >= active) return;
  const int per_split = (n_keys + active - 1) / active;
  const int key_begin = blockIdx.y * per_split, key_end = min(n_keys, key_begin + per_split);
  const int first_row = static_cast<int>(first % c.n_ctx);
  const int group = p.n_head / p.n_head_kv;
  const int64_t base = static_cast<int64_t>(slots[t]) * c.n_ctx * c.kv_width +
                       static_cast<int64_t>(h / group) * p.head_dim;
  // Ring row of key j: (first + j) mod n_ctx, with j < n_keys <= n_ctx (one wrap at most).
  const auto row_of = [&](int j) {
    int ring = first_row + j;
    if (ring >= c.n_ctx) ring -= static_cast<int>(c.n_ctx);
    return base + static_cast<int64_t>(ring) * c.kv_width;
  };
  prefetch_rows_to_l2(c, p.head_dim, key_begin, key_end, row_of);
  auto dim_of = [lane](int chunk) { return (chunk * kWarp + lane) * kVec; };
  // The token's own key (last of its keys) and query, roped here where it is fused.
  __shared__ float own_q[kMaxAttnHeadDim], own_k[kMaxAttnHeadDim], own_v[kMaxAttnHeadDim];
  const bool fused = own.k != nullptr;
  const int own_key = fused ? n_keys - 1 : -1;
  // ks, vs <- the values of keys j0 .. j0 + kStepKeys - 1: zeros past the range, and the own
  // key's from shared memory once roped (zeros before: own_ready false).
  float ks[kStepKeys][kDims], vs[kStepKeys][kDims];
  const auto load_step = [&](int j0, bool own_ready) {
#pragma unroll
    for (int u = 0; u < kStepKeys; ++u) {
      const int64_t row = row_of(j0 + u);
      const bool in = j0 + u < key_end;
#pragma unroll
      for (int ch = 0; ch < kChunks; ++ch) {
        if (in && j0 + u == own_key && dim_of(ch) < p.head_dim) {
#pragma unroll
          for (int e = 0; e < kVec; ++e) {
            ks[u][ch * kVec + e] = own_ready ? own_k[dim_of(ch) + e] : 0.0f;
            vs[u][ch * kVec + e] = own_ready ? own_v[dim_of(ch) + e] : 0.0f;
          }
        } else if (in && dim_of(ch) < p.head_dim) {
          load_kv_values<kType, kVec>(c.k, row + dim_of(ch), &ks[u][ch * kVec]);
          load_kv_values<kType, kVec>(c.v, row + dim_of(ch), &vs[u][ch * kVec]);
        } else {
#pragma unroll
          for (int e = 0; e < kVec; ++e) ks[u][ch * kVec + e] = vs[u][ch * kVec + e] = 0.0f;
        }
      }
    }
  };
  const int first_j0 = key_begin + warp * kStepKeys;
  // Fused steps load their first keys before the wait (8B Q4_0 tg128 +1.3%, 1B +2.5%): the
  // kernels before this one in the step write no cache rows (the step's own key is roped and
  // stored here), and every earlier step's writes are complete once the previous kernel runs
  // (it triggered this launch after its own wait). The own key's values are patched in after
  // rope_store_own_key.
  const bool early = fused;
  if (early) load_step(first_j0, false);
  const PairRotation rotation = own_rotation(own, positions[t]);
  await_previous_and_allow_next();
  mark_time(timeline, times.waited);
  const int q_width = p.n_head * p.head_dim;
  const float* qh = q + static_cast<int64_t>(t) * q_width + h * p.head_dim;
  if (fused)
    rope_store_own_key(c, qh, own, rotation, slots[t], positions[t], h / group,
                       h % group == 0 && blockIdx.y == 0, p.head_dim, own_q, own_k, own_v);
  if (early) {
#pragma unroll
    for (int u = 0; u < kStepKeys; ++u) {
      if (first_j0 + u != own_key || first_j0 + u >= key_end) continue;
#pragma unroll
      for (int ch = 0; ch < kChunks; ++ch) {
        if (dim_of(ch) >= p.head_dim) continue;
#pragma unroll
        for (int e = 0; e < kVec; ++e) {
          ks[u][ch * kVec + e] = own_k[dim_of(ch) + e];
          vs[u][ch * kVec + e] = own_v[dim_of(ch) + e];
        }
      }
    }
  }

  float qv[kDims], acc[kDims];
#pragma unroll
  for (int ch = 0; ch < kChunks; ++ch) {
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      const int d = dim_of(ch) + e;
      qv[ch * kVec + e] = d < p.head_dim ? (fused ? own_q[d] : qh[d]) : 0.0f;
      acc[ch * kVec + e] = 0.0f;
    }
  }
  float m = -INFINITY, l = 0.0f;
  for (int j0 = first_j0; j0 < key_end; j0 += kAttnWarps * kStepKeys) {
    if (!early || j0 != first_j0) load_step(j0, true);
    float s[kStepKeys];
    float m_new = m;
#pragma unroll
    for (int u = 0; u < kStepKeys; ++u) {
      float dot = 0.0f;
#pragma unroll
      for (int i = 0; i < kDims; ++i) dot += qv[i] * ks[u][i];
      s[u] = warp_sum(dot) * p.scale;
      if (p.softcap > 0.0f) s[u] = p.softcap * tanhf(s[u] / p.softcap);
      if (j0 + u >= key_end) s[u] = -INFINITY;  // past the range: weight 0
      m_new = fmaxf(m_new, s[u]);
    }
    // m_new is finite: key j0 is in range.
    const float rescale = __expf(m - m_new);
    l *= rescale;
#pragma unroll
    for (int i = 0; i < kDims; ++i) acc[i] *= rescale;
#pragma unroll
    for (int u = 0; u < kStepKeys; ++u) {
      const float w = __expf(s[u] - m_new);
      l += w;
#pragma unroll
      for (int i = 0; i < kDims; ++i) acc[i] += w * vs[u][i];
    }
    m = m_new;
  }
  __shared__ float warp_m[kAttnWarps], warp_l[kAttnWarps];
  __shared__ float warp_acc[kAttnWarps][kMaxAttnHeadDim];
  mark_time(timeline, times.first_phase);  // keys walked
  if (lane == 0) warp_m[warp] = m, warp_l[warp] = l;
#pragma unroll
  for (int ch = 0; ch < kChunks; ++ch) {
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      if (dim_of(ch) + e < kMaxAttnHeadDim) warp_acc[warp][dim_of(ch) + e] = acc[ch * kVec + e];
    }
  }
  __syncthreads();
  float m_block = -INFINITY, l_block = 0.0f;
  for (int w = 0; w < kAttnWarps; ++w) m_block = fmaxf(m_block, warp_m[w]);
  for (int w = 0; w < kAttnWarps; ++w)
    l_block += warp_l[w] * merge_weight(warp_m[w], warp_l[w], m_block);
  float* oh = out + static_cast<int64_t>(t) * q_width + h * p.head_dim;
  float* partial = scratch.partials +
                   (static_cast<int64_t>(pair) * kMaxAttnSplits + blockIdx.y) * kPartialFloats;
  for (int d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
    float v = 0.0f;
    for (int w = 0; w < kAttnWarps; ++w)
      v += warp_acc[w][d] * merge_weight(warp_m[w], warp_l[w], m_block);
    if (active <= 1) {
      oh[d] = v / l_block;
    } else {
      partial[2 + d] = v;
    }
  }
  if (active <= 1) return;

  // Split: publish this range's result; the last block of the pair to arrive merges.
  if (threadIdx.x == 0) partial[0] = m_block, partial[1] = l_block;
  if (!last_to_arrive(&scratch.arrivals[pair], active)) return;
  const float* parts =
      scratch.partials + static_cast<int64_t>(pair) * kMaxAttnSplits * kPartialFloats;
  float m_all = -INFINITY, l_all = 0.0f;
  for (int s = 0; s < active; ++s) m_all = fmaxf(m_all, __ldcg(parts + s * kPartialFloats));
  for (int s = 0; s < active; ++s) {
    const float m_s = __ldcg(parts + s * kPartialFloats),
                l_s = __ldcg(parts + s * kPartialFloats + 1);
    l_all += l_s * merge_weight(m_s, l_s, m_all);
  }
  for (int d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
    float v = 0.0f;
    for (int s = 0; s < active; ++s) {
      const float* part = parts + s * kPartialFloats;
      v += __ldcg(part + 2 + d) * merge_weight(__ldcg(part), __ldcg(part + 1), m_all);
    }
    oh[d] = v / l_all;
  }
}

// Batched attention (prefill) of global layers: one block per (KV head, tile of batch
// tokens) with up to kTileWarps warps; warp w takes query head w % group of that KV head's group
// and kTokensPerWarp consecutive tokens of the tile. K and V rows are staged in shared memory
// kChunkKeys at a time (4 values per load) and serve every query of the block, so each is
// read once per tile of tokens instead of once per (token, head). A lane owns a key
// of the chunk for the scores (K rows padded by 4 floats: conflict-free 16-byte reads) and
// head dims lane, lane + 32, ... for the values; softmax online per chunk. Tokens of a tile
// may sit in different slots: the block passes once per distinct slot.
constexpr int kChunkKeys = 32;
constexpr int kTileWarps = 16;
// Tokens per warp, and tokens per tile at most, measured on 512-token prefills of the 8B
// shape (F16, longest tiles first): 1 and 4 -> 17.5k t/s, 2 and 8 -> 17.7k; before the
// longest-first order, 4 and 16 ran at 14.4k against 16.0k for 1 and 4 (fewer, longer
// blocks, the causal tiles at the end of the batch running alone).
constexpr int kTokensPerWarp = 2;
constexpr int kMaxTileTokens = 8;

__global__ void __launch_bounds__(kTileWarps* kWarp)
    attention_tiled_kernel(KvLayer c, const float* __restrict__ q,
                           const int32_t* __restrict__ slots, const int32_t* __restrict__ positions,
                           int n, int tile, AttentionParams p, float* __restrict__ out) {
  await_previous_and_allow_next();
  extern __shared__ float smem[];
  const int hd = p.head_dim, k_stride = hd + 4, group = p.n_head / p.n_head_kv;
  float* ks = smem;                        // [kChunkKeys][hd + 4]
  float* vs = ks + kChunkKeys * k_stride;  // [kChunkKeys][hd]
  float* qs = vs + kChunkKeys * hd;        // [warps][kTokensPerWarp][hd]
  // Blocks start in index order, KV heads fastest and the batch's last tiles (the longest key
  // ranges of a causal prefill) first: short tiles fill in behind the long ones.
  const int kv_head = blockIdx.x, t0 = (gridDim.y - 1 - blockIdx.y) * tile;
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int h = kv_head * group + warp % group;
  const int first = t0 + warp / group * kTokensPerWarp;  // this warp's tokens: first + j
  const int q_width = p.n_head * hd;
  float* qw = qs + warp * kTokensPerWarp * hd;
  int my_slot[kTokensPerWarp], my_last[kTokensPerWarp];  // -1: no token
#pragma unroll
  for (int j = 0; j < kTokensPerWarp; ++j) {
    const int t = first + j;
    my_slot[j] = t < n ? slots[t] : -1;
    my_last[j] = t < n ? positions[t] : -1;
    if (t < n) {
      for (int d = lane; d < hd; d += kWarp)
        qw[j * hd + d] = q[static_cast<int64_t>(t) * q_width + h * hd + d];
    }
  }
  float acc[kTokensPerWarp][kMaxDimsPerLane], m[kTokensPerWarp], l[kTokensPerWarp];
#pragma unroll
  for (int j = 0; j < kTokensPerWarp; ++j) {
    m[j] = -INFINITY, l[j] = 0.0f;
#pragma unroll
    for (int k = 0; k < kMaxDimsPerLane; ++k) acc[j][k] = 0.0f;
  }
  const int tile_end = min(t0 + tile, n);
  const int quads = hd / 4;
  for (int i = t0; i < tile_end; ++i) {
    const int slot = slots[i];
    bool seen = false;  // an earlier token of the tile had this slot: already done
    int last_key = 0;   // the latest position of this slot's tokens in the tile
    for (int u = t0; u < tile_end; ++u) {
      if (u < i && slots[u] == slot) seen = true;
      if (slots[u] == slot) last_key = max(last_key, positions[u]);
    }
    if (seen) continue;  // uniform across the block
    int warp_last = -1;  // this warp's latest key in this slot
#pragma unroll
    for (int j = 0; j < kTokensPerWarp; ++j)
      if (my_slot[j] == slot) warp_last = max(warp_last, my_last[j]);
    const int64_t base =
        static_cast<int64_t>(slot) * c.n_ctx * c.kv_width + static_cast<int64_t>(kv_head) * hd;
    for (int c0 = 0; c0 <= last_key; c0 += kChunkKeys) {
      __syncthreads();  // the previous chunk is consumed (and q is staged)
      for (int e = threadIdx.x; e < kChunkKeys * quads; e += blockDim.x) {
        const int key = e / quads, d = 4 * (e % quads);
        const bool in = c0 + key <= last_key;
        const int64_t row = base + static_cast<int64_t>(c0 + key) * c.kv_width + d;
        const float4 zero = {0.0f, 0.0f, 0.0f, 0.0f};
        *reinterpret_cast<float4*>(ks + key * k_stride + d) =
            in ? load_kv4(c.k, c.type, row) : zero;
        *reinterpret_cast<float4*>(vs + key * hd + d) = in ? load_kv4(c.v, c.type, row) : zero;
      }
      __syncthreads();
      if (c0 > warp_last) continue;
      const float* kr = ks + lane * k_stride;
#pragma unroll
      for (int j = 0; j < kTokensPerWarp; ++j) {
        if (my_slot[j] != slot || c0 > my_last[j]) continue;  // uniform across the warp
        // Scores: lane x takes key c0 + x.
        const float* qj = qw + j * hd;
        float s = 0.0f;
        for (int d = 0; d < hd; d += 4) {
          const float4 kv4 = *reinterpret_cast<const float4*>(kr + d);
          const float4 q4 = *reinterpret_cast<const float4*>(qj + d);
          s = fmaf(q4.x, kv4.x, fmaf(q4.y, kv4.y, fmaf(q4.z, kv4.z, fmaf(q4.w, kv4.w, s))));
        }
        s *= p.scale;
        if (p.softcap > 0.0f) s = p.softcap * tanhf(s / p.softcap);
        const bool valid = c0 + lane <= my_last[j];
        float chunk_max = valid ? s : -INFINITY;
#pragma unroll
        for (int offset = kWarp / 2; offset > 0; offset /= 2)
          chunk_max = fmaxf(chunk_max, __shfl_xor_sync(0xffffffffu, chunk_max, offset));
        const float m_new = fmaxf(m[j], chunk_max);  // finite: key c0 <= my_last is valid
        const float rescale = __expf(m[j] - m_new);
        const float w = valid ? __expf(s - m_new) : 0.0f;
        l[j] = l[j] * rescale + warp_sum(w);
#pragma unroll
        for (int k = 0; k < kMaxDimsPerLane; ++k) acc[j][k] *= rescale;
        for (int x = 0; x < kChunkKeys; ++x) {
          const float wx = __shfl_sync(0xffffffffu, w, x);
#pragma unroll
          for (int k = 0; k < kMaxDimsPerLane; ++k) {
            const int d = lane + k * kWarp;
            if (d < hd) acc[j][k] = fmaf(wx, vs[x * hd + d], acc[j][k]);
          }
        }
        m[j] = m_new;
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kTokensPerWarp; ++j) {
    const int t = first + j;
    if (t >= n) continue;
    float* oh = out + static_cast<int64_t>(t) * q_width + h * hd;
#pragma unroll
    for (int k = 0; k < kMaxDimsPerLane; ++k) {
      const int d = lane + k * kWarp;
      if (d < hd) oh[d] = acc[j][k] / l[j];
    }
  }
}

// The decode attention kernel for a cache type and head size: 4-value loads where the head
// size is a multiple of 4, one or two chunks of 128 dims.
using AttentionKernel = decltype(&attention_kernel<KvType::F32, 1, kMaxDimsPerLane>);
AttentionKernel attention_kernel_for(KvType type, int head_dim) {
  const bool f16 = type == KvType::F16;
  if (head_dim % 4 != 0) {
    return f16 ? attention_kernel<KvType::F16, 1, kMaxDimsPerLane>
               : attention_kernel<KvType::F32, 1, kMaxDimsPerLane>;
  }
  if (head_dim <= 4 * kWarp) {
    return f16 ? attention_kernel<KvType::F16, 4, 1> : attention_kernel<KvType::F32, 4, 1>;
  }
  return f16 ? attention_kernel<KvType::F16, 4, 2> : attention_kernel<KvType::F32, 4, 2>;
}

// Batches of global layers share K/V loads across a tile of tokens and a head group, on a
// grid of (KV heads, tiles); false, launching nothing, where the tiled kernel does not apply
// or would not fill the SMs with a ragged batch (tokens of several sequences, as batched
// decode steps). Those take the split kernel, as single tokens (decode) do: 8B Q4_0 with 4
// sequences, 8 tiled blocks against 128 pairs of 1+ blocks, tg128 742 -> 1,084 t/s, and
// 44.5 -> 526 t/s at depth 4096.
bool attend_tiled(const KvLayer& cache, const float* q, const BatchView& batch,
                  const AttentionParams& p, const AttentionScratch& scratch, float* out,
                  cudaStream_t stream) {
  const int group = p.n_head / p.n_head_kv;
  if (batch.n < 2 || p.window != 0 || p.head_dim % 4 != 0 || group > kTileWarps) return false;
  const int warps = std::min(kMaxTileTokens / kTokensPerWarp, kTileWarps / group) * group;
  const int tile = kTokensPerWarp * (warps / group);
  const int tiles = (batch.n + tile - 1) / tile;
  if (batch.run_slot < 0 && static_cast<int64_t>(p.n_head_kv) * tiles < scratch.max_pairs) {
    return false;
  }
  const size_t smem =
      sizeof(float) * (kChunkKeys * (2 * p.head_dim + 4) + warps * kTokensPerWarp * p.head_dim);
  static const bool configured = [] {
    // Up to 256-wide heads: 4 * (32 * 516 + 16 warps * 2 tokens * 256) = 99 KB, beyond the
    // default 48 KB.
    check(cudaFuncSetAttribute(attention_tiled_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               100 * 1024),
          "cudaFuncSetAttribute");
    return true;
  }();
  (void)configured;
  check(launch_dependent(attention_tiled_kernel, dim3(p.n_head_kv, tiles), warps * kWarp, smem,
                         stream, cache, q, batch.slots, batch.positions, batch.n, tile, p, out),
        "attention");
  return true;
}

}  // namespace

int64_t attention_partial_floats(int max_pairs) {
  return static_cast<int64_t>(max_pairs) * kMaxAttnSplits * kPartialFloats;
}

void attention(const KvLayer& cache, const float* q, const BatchView& batch,
               const AttentionParams& p, const AttentionScratch& scratch, float* out,
               cudaStream_t stream, const OwnToken* own) {
  if (p.head_dim > kMaxAttnHeadDim) {
    fail("the CUDA attention kernel supports head sizes up to {}, got {}", kMaxAttnHeadDim,
         p.head_dim);
  }
  if (batch.n == 0) return;
  if (own != nullptr && (batch.n != 1 || p.head_dim % 2 != 0)) {
    fail("the fused rope, store and attention takes one token of an even head size, got {} of {}",
         batch.n, p.head_dim);
  }
  if (attend_tiled(cache, q, batch, p, scratch, out, stream)) return;
  // Fewer (token, head) pairs than SMs: split each pair's keys, about kSplitBlocksPerSm
  // blocks per SM in all (the kernel uses fewer splits where there are few keys).
  const int pairs = batch.n * p.n_head;
  const int splits =
      pairs < scratch.max_pairs
          ? std::min(kMaxAttnSplits, (kSplitBlocksPerSm * scratch.max_pairs + pairs - 1) / pairs)
          : 1;
  OwnKey own_key;
  if (own != nullptr) own_key = {own->k, own->v, own->rope, inverse_frequencies(own->rope)};
  check(launch_dependent(attention_kernel_for(cache.type, p.head_dim), dim3(pairs, splits),
                         kAttnWarps * kWarp, 0, stream, cache, q, batch.slots, batch.positions, p,
                         splits, scratch, out, own_key, next_timeline_sink()),
        "attention");
}

}  // namespace concord::cuda
