#include "backends/cuda/pinned_staging.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "backends/cuda/kernels.cuh"

namespace concord::cuda {

PinnedStaging::~PinnedStaging() {
  if (upload_pending_) cudaEventSynchronize(upload_done_);
  if (upload_done_ != nullptr) cudaEventDestroy(upload_done_);
  for (cudaEvent_t e : events_) {
    if (e != nullptr) cudaEventDestroy(e);
  }
  for (Buffer* b : {&up_, &down_}) {
    if (b->data != nullptr) cudaFreeHost(b->data);
  }
}

void* PinnedStaging::reserve(Buffer& buffer, size_t bytes) {
  if (bytes > kMaxBytes) return nullptr;
  if (bytes <= buffer.capacity) return buffer.data;
  // Grown by doubling from 64 KiB, so a step's sizes settle after a few allocations.
  const size_t want = std::min(kMaxBytes, std::max({bytes, 2 * buffer.capacity, size_t{64} << 10}));
  if (buffer.data != nullptr) cudaFreeHost(buffer.data);
  buffer = {};
  if (cudaMallocHost(&buffer.data, want) != cudaSuccess) {
    cudaGetLastError();  // pinned memory is an optimisation: copy directly instead
    buffer.data = nullptr;
    return nullptr;
  }
  buffer.capacity = want;
  return buffer.data;
}

cudaEvent_t PinnedStaging::event(int i) {
  cudaEvent_t& e = events_[static_cast<size_t>(i)];
  if (e == nullptr) check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "staging event");
  return e;
}

bool PinnedStaging::upload(void* device_dst, const void* host_src, size_t bytes,
                           cudaStream_t stream) {
  if (upload_pending_) {  // the buffer is read by the last upload's copy until it is done
    check(cudaEventSynchronize(upload_done_), "staged upload wait");
    upload_pending_ = false;
  }
  void* staged = reserve(up_, bytes);
  if (staged == nullptr) return false;
  std::memcpy(staged, host_src, bytes);
  check(cudaMemcpyAsync(device_dst, staged, bytes, cudaMemcpyHostToDevice, stream), "upload");
  if (upload_done_ == nullptr) {
    check(cudaEventCreateWithFlags(&upload_done_, cudaEventDisableTiming), "staging event");
  }
  check(cudaEventRecord(upload_done_, stream), "staged upload record");
  upload_pending_ = true;
  return true;
}

bool PinnedStaging::download(void* host_dst, const void* device_src, size_t bytes,
                             cudaStream_t stream, int chunks) {
  auto* staged = static_cast<uint8_t*>(reserve(down_, bytes));
  if (staged == nullptr) return false;
  chunks = std::clamp(chunks, 1, kMaxChunks);
  // Pieces of whole 4 KiB pages, the last one shorter.
  const size_t piece = (bytes / chunks + 4095) / 4096 * 4096;
  const auto* src = static_cast<const uint8_t*>(device_src);
  int queued = 0;
  for (size_t at = 0; at < bytes; at += piece, ++queued) {
    check(cudaMemcpyAsync(staged + at, src + at, std::min(piece, bytes - at),
                          cudaMemcpyDeviceToHost, stream),
          "download");
    check(cudaEventRecord(event(queued), stream), "staged download record");
  }
  auto* dst = static_cast<uint8_t*>(host_dst);
  for (int i = 0; i < queued; ++i) {
    const size_t at = static_cast<size_t>(i) * piece;
    check(cudaEventSynchronize(event(i)), "download sync");
    std::memcpy(dst + at, staged + at, std::min(piece, bytes - at));
  }
  return true;
}

}  // namespace concord::cuda
