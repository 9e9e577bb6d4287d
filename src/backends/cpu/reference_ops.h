// Scalar reference implementations of every backend op: plain loops, float64
// accumulation, no threads. These are the oracle every backend (the optimised CPU one
// included) is tested against; see backend/backend.h for the op contracts.
#pragma once

#include "backend/backend.h"

namespace concord::reference {

void embed(const Weight& table, const BatchView& batch, float* out);
void rms_norm(const float* x, const float* weight, float* out, int n, int dim, float eps);
void matmul(const Weight& w, const float* x, float* out, int n);
void rope(float* x, const BatchView& batch, int n_heads, int head_dim, const RopeParams& params);
void store_kv(const KvLayer& cache, const float* k, const float* v, const BatchView& batch);
void attention(const KvLayer& cache, const float* q, const BatchView& batch,
               const AttentionParams& params, float* out);
void swiglu(const float* gate, const float* up, float* out, int64_t n);
void geglu(const float* gate, const float* up, float* out, int64_t n);
void add(const float* a, const float* b, float* out, int64_t n);
void add_bias(float* x, const float* bias, int n, int dim);
void scale(float* x, float factor, int64_t n);
void softcap(float* x, float cap, int64_t n);
void gather_rows(const float* x, const int32_t* rows, int n_rows, int dim, float* out);

// Helpers shared with the optimised CPU kernels.
double rope_theta(int pair, int32_t position, const RopeParams& params);      // angle of pair i
float read_kv(const void* base, KvType type, int64_t index);                  // one cached value
int first_visible_position(int32_t position, const AttentionParams& params);  // window start
double gelu_tanh(double x);

}  // namespace concord::reference
