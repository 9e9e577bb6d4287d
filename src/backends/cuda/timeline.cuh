// The decode step's timeline inside the running graph: each block of the streaming matvec and
// decode attention kernels records when it started, passed its dependency wait, finished its
// first phase and ended (%globaltimer, ns), so that a step's launches can be laid end to end
// with their overlaps. Nsight Compute runs kernels one at a time and cannot show this, and
// Nsight Systems is not on the lent H100s.
//
// Off unless CONCORD_CUDA_TIMELINE names a file: the backend then records every launch of
// those kernels and writes the records there (binary TimelineRecord rows) when it is destroyed;
// scripts/timeline-summary.py reads them. Off, a kernel pays one branch per block.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace concord::cuda {

enum class TimelineKernel : uint32_t { StreamMatvec = 1, DecodeAttention = 2 };

// One block's times. `first_phase`: x staged (stream matvec) or the keys walked (attention);
// 0 where the block left before that (attention blocks without keys leave before the wait).
struct TimelineRecord {
  uint32_t launch;  // counts launch calls: one per launch of a recorded graph, fixed in it
  uint32_t block;   // blockIdx.x + gridDim.x * blockIdx.y
  uint32_t kernel;  // TimelineKernel
  uint32_t sm;
  uint64_t start, waited, first_phase, end;
};

// Where a launch's blocks record themselves (records null: off).
struct TimelineSink {
  TimelineRecord* records = nullptr;
  unsigned* count = nullptr;
  unsigned capacity = 0;
  uint32_t launch = 0;
};

// Allocates the records where CONCORD_CUDA_TIMELINE is set (not while a graph is recorded).
void open_timeline();
// The sink for the next launch; each call counts a launch.
TimelineSink next_timeline_sink();
// Writes the records so far to CONCORD_CUDA_TIMELINE's file and frees them.
void close_timeline();

// A block's times so far, kept by thread 0 in shared memory rather than in registers live
// across the kernel (where they cost the stream kernels spills).
struct BlockTimes {
  uint64_t start = 0, waited = 0, first_phase = 0;
};

// Whether this thread keeps its block's times: thread 0, where the timeline is on.
__device__ __forceinline__ bool keeps_times(const TimelineSink& sink) {
  return sink.records != nullptr && threadIdx.x == 0;
}

__device__ __forceinline__ uint64_t global_ns() {
  uint64_t now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  return now;
}

// times = {now, 0, 0}: shared memory starts undefined, and a block may leave before its
// later marks.
__device__ __forceinline__ void start_times(const TimelineSink& sink, BlockTimes& times) {
  if (keeps_times(sink)) times = {global_ns(), 0, 0};
}

// slot = now.
__device__ __forceinline__ void mark_time(const TimelineSink& sink, uint64_t& slot) {
  if (keeps_times(sink)) slot = global_ns();
}

// Records the block, ending now.
__device__ __forceinline__ void record_block(const TimelineSink& sink, TimelineKernel kernel,
                                             const BlockTimes& times) {
  if (!keeps_times(sink)) return;
  const uint64_t end = global_ns();
  const unsigned i = atomicAdd(sink.count, 1u);
  if (i >= sink.capacity) return;
  unsigned sm;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
  sink.records[i] = {sink.launch,
                     blockIdx.x + gridDim.x * blockIdx.y,
                     static_cast<uint32_t>(kernel),
                     sm,
                     times.start,
                     times.waited,
                     times.first_phase,
                     end};
}

}  // namespace concord::cuda
