// Page-locked host memory through which the CUDA backend passes small copies: a decode step's
// token ids and positions up, its logits down.
//
// Why: a copy from or to pageable memory goes through the driver's own staging and waits for
// the stream. An upload of a step's few ints then cost a round trip to the device, and a
// download of 128,256 logits (501 KiB) a copy at pageable rates, both while the GPU sat idle
// between steps. From pinned memory the DMA engine copies directly, and an upload returns at
// once: work queued after it on the stream sees the data. 8B Q4_0 tg128 on an H100: 414.6 ->
// 420.9 t/s; 1B 1,456 -> 1,503 (docs/perf.md, session 16). Logits of decode steps skip the
// download altogether: they are written into mapped host memory (cuda_backend.cu).
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstddef>

namespace concord::cuda {

class PinnedStaging {
 public:
  PinnedStaging() = default;
  PinnedStaging(const PinnedStaging&) = delete;
  PinnedStaging& operator=(const PinnedStaging&) = delete;
  ~PinnedStaging();

  // Copies of at most this many bytes are staged; larger ones (weights) go direct.
  static constexpr size_t kMaxBytes = size_t{16} << 20;

  // device_dst <- host_src, queued on `stream`; returns at once (host_src may go away).
  // False, copying nothing, where the copy is not staged.
  bool upload(void* device_dst, const void* host_src, size_t bytes, cudaStream_t stream);
  // host_dst <- device_src once the work queued on `stream` is done; returns when it is in
  // host_dst. The copy goes in `chunks` pieces, each taken out of pinned memory while the
  // next is still in flight. False, copying nothing, where the copy is not staged.
  bool download(void* host_dst, const void* device_src, size_t bytes, cudaStream_t stream,
                int chunks);

 private:
  static constexpr int kMaxChunks = 8;
  struct Buffer {
    void* data = nullptr;
    size_t capacity = 0;
  };
  // `buffer`, grown to at least `bytes`; nullptr where pinned memory is not to be had.
  static void* reserve(Buffer& buffer, size_t bytes);
  cudaEvent_t event(int i);

  Buffer up_, down_;
  std::array<cudaEvent_t, kMaxChunks> events_{};  // a download's pieces, done
  cudaEvent_t upload_done_ = nullptr;  // the last upload's copy: up_ is free once it is done
  bool upload_pending_ = false;
};

}  // namespace concord::cuda
