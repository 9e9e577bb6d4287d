// Programmatic dependent launches (Hopper): a kernel launched with launch_dependent() may
// start while the kernel before it in the stream still runs, so its launch latency overlaps
// that kernel's tail. Decode steps are chains of short kernels (five per layer), where those
// gaps are a large share of the step.
//
// Every kernel launched this way calls await_previous_and_allow_next() before it writes
// anything or reads what a kernel writes: it returns once the previous kernel has finished
// and its writes are visible (and, by induction, those of every kernel before it), then lets
// the next kernel be scheduled. Allowing it earlier would let a chain of kernels, each
// allowing the next, sit waiting on the SMs. Before the wait a kernel reads only what no
// kernel writes: weights (the streaming matvec copies its first stages there; the
// register-fed kernels measured slower doing so, their live registers costing occupancy)
// and the positions and slots the host uploads before a step (the decode attention kernel
// prefetches its keys' cache rows there). In a kernel launched normally it does nothing.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

namespace concord::cuda {

__device__ __forceinline__ void await_previous_and_allow_next() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

// Blocks of `threads` threads covering n elements.
inline int blocks_for(int64_t n, int threads) {
  return static_cast<int>((n + threads - 1) / threads);
}

// Whether launches may overlap (on unless CONCORD_NO_PDL is set; read once).
bool dependent_launches_enabled();

// kernel<<<grid, block, smem, stream>>>(args...), allowed to overlap the kernel before it
// (its kernel opens with await_previous_and_allow_next()).
template <typename... Params, typename... Args>
cudaError_t launch_dependent(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                             cudaStream_t stream, Args&&... args) {
  cudaLaunchAttribute overlap{};
  overlap.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  overlap.val.programmaticStreamSerializationAllowed = dependent_launches_enabled() ? 1 : 0;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  config.attrs = &overlap;
  config.numAttrs = 1;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

}  // namespace concord::cuda
