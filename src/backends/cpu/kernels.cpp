#include "backends/cpu/kernels.h"

#include <cmath>
#include <vector>

#include "backends/cpu/reference_ops.h"
#include "quant/quant.h"

namespace concord::cpu {

// Compiled twice: for AVX2+FMA machines and for the baseline; the loader picks one.
#if defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("arch=haswell", "default")))
#endif
float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void embed(ThreadPool& pool, const Weight& table, const BatchView& batch, float* out) {
  const size_t stride = row_bytes(table.type, table.n_in);
  pool.parallel_for(batch.n, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const auto* row = static_cast<const uint8_t*>(table.data) + stride * batch.tokens[t];
      dequantize_row(table.type, row, out + t * table.n_in, table.n_in);
    }
  });
}

// Each weight row is dequantised once into a thread-local buffer and dotted with every
// token row, so the weight bytes are read once per call whatever the batch size.
void matmul(ThreadPool& pool, const Weight& w, const float* x, float* out, int n) {
  const size_t stride = row_bytes(w.type, w.n_in);
  const auto* base = static_cast<const uint8_t*>(w.data);
  pool.parallel_for(w.n_out, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> row;
    row.resize(static_cast<size_t>(w.n_in));
    for (int64_t o = begin; o < end; ++o) {
      const float* r = row.data();
      if (w.type == GgmlType::F32) {
        r = reinterpret_cast<const float*>(base + stride * o);
      } else {
        dequantize_row(w.type, base + stride * o, row.data(), w.n_in);
      }
      for (int t = 0; t < n; ++t) out[t * w.n_out + o] = dot(r, x + t * w.n_in, w.n_in);
    }
  });
}

void attention(ThreadPool& pool, const KvLayer& cache, const float* q, const BatchView& batch,
               const AttentionParams& p, float* out) {
  const int group = p.n_head / p.n_head_kv;
  const int q_width = p.n_head * p.head_dim;
  pool.parallel_for(static_cast<int64_t>(batch.n) * p.n_head, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> score, key, acc;
    key.resize(static_cast<size_t>(p.head_dim));
    acc.resize(static_cast<size_t>(p.head_dim));
    for (int64_t job = begin; job < end; ++job) {
      const int t = static_cast<int>(job / p.n_head), h = static_cast<int>(job % p.n_head);
      const int first = reference::first_visible_position(batch.positions[t], p);
      const int n_keys = batch.positions[t] + 1 - first;
      score.resize(static_cast<size_t>(n_keys));
      const float* qh = q + static_cast<int64_t>(t) * q_width + h * p.head_dim;
      const int64_t slot_base =
          static_cast<int64_t>(batch.slots[t]) * cache.n_ctx * cache.kv_width +
          static_cast<int64_t>(h / group) * p.head_dim;
      // Key j of the window lives in ring row (first + j) mod n_ctx.
      auto row_of = [&](int j) {
        return slot_base + static_cast<int64_t>((first + j) % cache.n_ctx) * cache.kv_width;
      };
      float max_score = -INFINITY;
      for (int j = 0; j < n_keys; ++j) {
        const int64_t row = row_of(j);
        const float* k;
        if (cache.type == KvType::F32) {
          k = static_cast<const float*>(cache.k) + row;
        } else {
          for (int i = 0; i < p.head_dim; ++i)
            key[i] = reference::read_kv(cache.k, cache.type, row + i);
          k = key.data();
        }
        score[j] = dot(qh, k, p.head_dim) * p.scale;
        if (p.softcap > 0.0f) score[j] = p.softcap * std::tanh(score[j] / p.softcap);
        max_score = std::max(max_score, score[j]);
      }
      float total = 0.0f;
      for (float& s : score) total += (s = std::exp(s - max_score));
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int j = 0; j < n_keys; ++j) {
        const int64_t row = row_of(j);
        const float weight = score[j];
        for (int i = 0; i < p.head_dim; ++i)
          acc[i] += weight * reference::read_kv(cache.v, cache.type, row + i);
      }
      float* oh = out + static_cast<int64_t>(t) * q_width + h * p.head_dim;
      for (int i = 0; i < p.head_dim; ++i) oh[i] = acc[i] / total;
    }
  });
}

}  // namespace concord::cpu
