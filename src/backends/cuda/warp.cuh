// Warp- and block-level helpers shared by the CUDA kernels.
#pragma once

namespace concord::cuda {

inline constexpr int kWarp = 32;

// The sum of v over the 32 lanes of a warp, returned to every lane.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// The block's maximum (kMax) or sum of v, returned to every thread: warp_sum's butterfly
// within each warp, then the warps' results in warp order. `shared` holds one float per
// warp; blockDim.x is a multiple of 32.
template <bool kMax>
__device__ float block_reduce(float v, float* shared) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    const float other = __shfl_xor_sync(0xffffffffu, v, offset);
    v = kMax ? fmaxf(v, other) : v + other;
  }
  const int warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  __syncthreads();  // `shared` may still be read from the previous reduction
  if (threadIdx.x % kWarp == 0) shared[warp] = v;
  __syncthreads();
  v = shared[0];
  for (int w = 1; w < warps; ++w) v = kMax ? fmaxf(v, shared[w]) : v + shared[w];
  return v;
}

// Whether this block is the last of `expected` blocks to arrive at `*arrivals`, a counter
// that is zero between launches (the last block zeroes it again). Call it once the block
// has written what the last one reads; the last block reads others' writes through L2
// (__ldcg). The first barrier orders the block's writes before thread 0's arrival, a release
// at GPU scope that publishes them all; its acquire, before the second barrier, orders the
// last block's reads behind every arrival (cooperative groups' grid-sync pattern). One
// atomic a block instead of a fence in every thread: 1B Q4_0 tg128 +2%, Q8_0 +1%
// (docs/perf.md, session 30). Every thread of the block gets the answer.
__device__ inline bool last_to_arrive(unsigned* arrivals, int expected) {
  __shared__ bool last;
  __syncthreads();
  if (threadIdx.x == 0) {
    // PTX, not cuda::atomic_ref, whose fetch_add compiles to a generic-address ATOM here.
    unsigned before;
    asm volatile("atom.add.acq_rel.gpu.global.u32 %0, [%1], 1;"
                 : "=r"(before)
                 : "l"(arrivals)
                 : "memory");
    last = before == static_cast<unsigned>(expected - 1);
    if (last) *arrivals = 0;  // ready for the next launch
  }
  __syncthreads();
  return last;
}

}  // namespace concord::cuda
