#include "backends/cpu/reference_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "quant/quant.h"
#include "util/half.h"

namespace concord::reference {

void embed(const Weight& table, const BatchView& batch, float* out) {
  const size_t stride = row_bytes(table.type, table.n_in);
  for (int t = 0; t < batch.n; ++t) {
    const auto* row = static_cast<const uint8_t*>(table.data) + stride * batch.tokens[t];
    dequantize_row(table.type, row, out + t * table.n_in, table.n_in);
  }
}

void rms_norm(const float* x, const float* weight, float* out, int n, int dim, float eps) {
  for (int t = 0; t < n; ++t) {
    const float* xt = x + static_cast<int64_t>(t) * dim;
    double sum_sq = 0.0;
    for (int i = 0; i < dim; ++i) sum_sq += static_cast<double>(xt[i]) * xt[i];
    const double inv_rms = 1.0 / std::sqrt(sum_sq / dim + eps);
    for (int i = 0; i < dim; ++i) {
      out[static_cast<int64_t>(t) * dim + i] = static_cast<float>(xt[i] * inv_rms * weight[i]);
    }
  }
}

void matmul(const Weight& w, const float* x, float* out, int n) {
  const size_t stride = row_bytes(w.type, w.n_in);
  std::vector<float> row(static_cast<size_t>(w.n_in));
  for (int64_t o = 0; o < w.n_out; ++o) {
    dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + stride * o, row.data(), w.n_in);
    for (int t = 0; t < n; ++t) {
      const float* xt = x + t * w.n_in;
      double sum = 0.0;
      for (int64_t i = 0; i < w.n_in; ++i) sum += static_cast<double>(row[i]) * xt[i];
      out[t * w.n_out + o] = static_cast<float>(sum);
    }
  }
}

double rope_theta(int pair, int32_t position, const RopeParams& p) {
  // theta_i = p * scale * base^(-2i / n_rot) / factor_i
  const double inv_freq = rope_inverse_frequency(pair, p);
  const double factor = p.freq_factors != nullptr ? p.freq_factors[pair] : 1.0;
  return position * static_cast<double>(p.freq_scale) * inv_freq / factor;
}

void rope(float* x, const BatchView& batch, int n_heads, int head_dim, const RopeParams& p) {
  const int half = p.n_rot / 2;
  for (int t = 0; t < batch.n; ++t) {
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (static_cast<int64_t>(t) * n_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const double theta = rope_theta(i, batch.positions[t], p);
        const double c = std::cos(theta), s = std::sin(theta);
        const int a = p.neox ? i : 2 * i;
        const int b = p.neox ? i + half : 2 * i + 1;
        const double x0 = v[a], x1 = v[b];
        v[a] = static_cast<float>(x0 * c - x1 * s);
        v[b] = static_cast<float>(x0 * s + x1 * c);
      }
    }
  }
}

float read_kv(const void* base, KvType type, int64_t index) {
  return type == KvType::F32 ? static_cast<const float*>(base)[index]
                             : f16_to_f32(static_cast<const uint16_t*>(base)[index]);
}

namespace {
void write_kv(void* base, KvType type, int64_t index, float value) {
  if (type == KvType::F32) {
    static_cast<float*>(base)[index] = value;
  } else {
    static_cast<uint16_t*>(base)[index] = f32_to_f16(value);
  }
}
int64_t kv_row(const KvLayer& c, int32_t slot, int32_t position) {
  return (static_cast<int64_t>(slot) * c.n_ctx + position % c.n_ctx) * c.kv_width;
}
}  // namespace

int first_visible_position(int32_t position, const AttentionParams& p) {
  return p.window > 0 ? std::max(0, position - p.window + 1) : 0;
}

void store_kv(const KvLayer& cache, const float* k, const float* v, const BatchView& batch) {
  for (int t = 0; t < batch.n; ++t) {
    const int64_t base = kv_row(cache, batch.slots[t], batch.positions[t]);
    for (int64_t i = 0; i < cache.kv_width; ++i) {
      write_kv(cache.k, cache.type, base + i, k[t * cache.kv_width + i]);
      write_kv(cache.v, cache.type, base + i, v[t * cache.kv_width + i]);
    }
  }
}

void attention(const KvLayer& cache, const float* q, const BatchView& batch,
               const AttentionParams& p, float* out) {
  const int group = p.n_head / p.n_head_kv;
  const int q_width = p.n_head * p.head_dim;
  for (int t = 0; t < batch.n; ++t) {
    const int first = first_visible_position(batch.positions[t], p);
    const int n_keys = batch.positions[t] + 1 - first;
    std::vector<double> score(static_cast<size_t>(n_keys));
    for (int h = 0; h < p.n_head; ++h) {
      const float* qh = q + static_cast<int64_t>(t) * q_width + h * p.head_dim;
      const int64_t head_offset = static_cast<int64_t>(h / group) * p.head_dim;
      double max_score = -INFINITY;
      for (int j = 0; j < n_keys; ++j) {
        const int64_t row = kv_row(cache, batch.slots[t], first + j) + head_offset;
        double dot = 0.0;
        for (int i = 0; i < p.head_dim; ++i)
          dot += qh[i] * static_cast<double>(read_kv(cache.k, cache.type, row + i));
        score[j] = dot * p.scale;
        if (p.softcap > 0.0f) score[j] = p.softcap * std::tanh(score[j] / p.softcap);
        max_score = std::max(max_score, score[j]);
      }
      double total = 0.0;
      for (double& s : score) total += (s = std::exp(s - max_score));
      float* oh = out + static_cast<int64_t>(t) * q_width + h * p.head_dim;
      for (int i = 0; i < p.head_dim; ++i) {
        double acc = 0.0;
        for (int j = 0; j < n_keys; ++j) {
          const int64_t row = kv_row(cache, batch.slots[t], first + j) + head_offset;
          acc += score[j] * read_kv(cache.v, cache.type, row + i);
        }
        oh[i] = static_cast<float>(acc / total);
      }
    }
  }
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    out[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

double gelu_tanh(double x) {
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  constexpr double kSqrt2OverPi = 0.79788456080286535588;
  return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
}

void geglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(gelu_tanh(gate[i]) * up[i]);
}

void add(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void add_bias(float* x, const float* bias, int n, int dim) {
  for (int t = 0; t < n; ++t) {
    for (int i = 0; i < dim; ++i) x[static_cast<int64_t>(t) * dim + i] += bias[i];
  }
}

void scale(float* x, float factor, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= factor;
}

void softcap(float* x, float cap, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(cap * std::tanh(x[i] / cap));
}

void gather_rows(const float* x, const int32_t* rows, int n_rows, int dim, float* out) {
  for (int r = 0; r < n_rows; ++r) {
    for (int i = 0; i < dim; ++i)
      out[static_cast<int64_t>(r) * dim + i] = x[static_cast<int64_t>(rows[r]) * dim + i];
  }
}

}  // namespace concord::reference
