// The CUDA backend: device memory, one stream, cuBLAS for batched matmuls and prompt
// attention (attention_gemm.cu), and the kernels of kernels.cu, attention.cu and matvec.cu
// for everything else. Weights stay resident in their GGUF format.
#include "backends/cuda/cuda_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "backends/cuda/kernels.cuh"
#include "backends/cuda/pinned_staging.h"
#include "backends/cuda/timeline.cuh"
#include "util/error.h"

namespace concord {
namespace {

using cuda::check;

class CudaBuffer : public DeviceBuffer {
 public:
  CudaBuffer(void* data, size_t bytes) : data_(data), bytes_(bytes) {}
  ~CudaBuffer() override { cudaFree(data_); }
  void* data() const override { return data_; }
  size_t bytes() const override { return bytes_; }

 private:
  void* data_;
  size_t bytes_;
};

// Page-locked host memory that kernels write through its device address (logits of a few
// rows: their bytes cross PCIe while the logits kernel runs, not in a copy after it).
class MappedBuffer : public DeviceBuffer {
 public:
  MappedBuffer(void* host, void* device, size_t bytes)
      : host_(host), device_(device), bytes_(bytes) {}
  ~MappedBuffer() override { cudaFreeHost(host_); }
  void* data() const override { return device_; }
  size_t bytes() const override { return bytes_; }
  const void* host_view() const override { return host_; }

 private:
  void* host_;
  void* device_;
  size_t bytes_;
};

// Staged downloads go in this many pieces, each copied out of pinned memory while the next
// crosses (8B Q4_0 tg128 on an H100, a 501 KiB download a step: 414.6 t/s direct, 420.2
// staged whole, 420.9 in 4 pieces; docs/perf.md, session 16).
constexpr int kDownloadPieces = 4;

// Read-back buffers up to this size are mapped host memory (4 MiB: 8 rows of a 128K vocab);
// larger ones (a prompt's logits for perplexity) stay on the device and are downloaded.
// tg128 on an H100, downloads in pieces -> mapped logits: 8B Q4_0 419.5 -> 428.6 t/s, 1B
// Q4_0 1,496 -> 1,556 (docs/perf.md, session 16).
constexpr size_t kMaxMappedReadback = size_t{4} << 20;

// Prefills of at least this many tokens attend on tensor cores (fewer: the tiled kernel).
constexpr int kMinTensorCoreAttentionTokens = 64;

// Dequantised weight rows staged for cuBLAS: at most this many halves at a time.
constexpr int64_t kStagingHalves = int64_t{64} << 20;  // 128 MiB

class CudaBackend : public Backend, public OpGraphs {
 public:
  explicit CudaBackend(int device) : device_(device) {
    check(cudaSetDevice(device), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cublasCreate(&cublas_), "cublasCreate");
    check(cublasSetStream(cublas_, stream_), "cublasSetStream");
    // Batched matmuls of float32 weights on tensor cores: data rounded to TF32 (10-bit
    // mantissa) inside the multiply, float32 accumulation; NMSE stays near 1e-7 (op harness).
    check(cublasSetMathMode(cublas_, CUBLAS_TF32_TENSOR_OP_MATH), "cublasSetMathMode");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    size_t free = 0, total = 0;
    check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
    caps_.weight_types = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
                          GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                          GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                          GgmlType::Q6_K};
    caps_.kv_types = {KvType::F32, KvType::F16};
    caps_.max_batch_tokens = 1 << 16;
    caps_.max_context = 1 << 20;
    caps_.flash_attention = false;
    caps_.graphs = true;
    caps_.devices.push_back(
        {prop.name, total, free, prop.multiProcessorCount,
         fmt::format("compute capability {}.{}, {}", prop.major, prop.minor, cuda_versions())});
    const int max_pairs = prop.multiProcessorCount;
    attention_partials_ = allocate(sizeof(float) * cuda::attention_partial_floats(max_pairs));
    attention_arrivals_ = allocate(sizeof(unsigned) * max_pairs);
    check(cudaMemset(attention_arrivals_->data(), 0, attention_arrivals_->bytes()), "cudaMemset");
    attention_scratch_ = {attention_partials_->as<float>(), attention_arrivals_->as<unsigned>(),
                          max_pairs};
    // 256-thread blocks: at most 8 per SM.
    const int max_blocks = 8 * prop.multiProcessorCount;
    matvec_partials_ = allocate(sizeof(float) * cuda::matvec_partial_floats(max_blocks));
    matvec_arrivals_ = allocate(sizeof(unsigned) * max_blocks);
    check(cudaMemset(matvec_arrivals_->data(), 0, matvec_arrivals_->bytes()), "cudaMemset");
    matvec_scratch_ = {matvec_partials_->as<float>(), matvec_arrivals_->as<unsigned>(), max_blocks};
    cuda::open_timeline();
  }
  ~CudaBackend() override {
    cuda::close_timeline();
    for (cudaGraphExec_t exec : graphs_) cudaGraphExecDestroy(exec);
    cublasDestroy(cublas_);
    cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "cuda"; }
  const Capabilities& capabilities() const override { return caps_; }

  std::unique_ptr<DeviceBuffer> allocate(size_t bytes) override {
    void* p = nullptr;
    if (cudaMalloc(&p, std::max<size_t>(bytes, 1)) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky allocation error
      size_t free = 0, total = 0;
      cudaMemGetInfo(&free, &total);
      fail("CUDA device {} is out of memory: {} bytes needed, {} free of {}", device_, bytes, free,
           total);
    }
    return std::make_unique<CudaBuffer>(p, bytes);
  }
  std::unique_ptr<DeviceBuffer> allocate_readback(size_t bytes) override {
    if (bytes <= kMaxMappedReadback) {
      void* host = nullptr;
      void* device = nullptr;
      if (cudaHostAlloc(&host, std::max<size_t>(bytes, 1), cudaHostAllocMapped) == cudaSuccess) {
        if (cudaHostGetDevicePointer(&device, host, 0) == cudaSuccess) {
          return std::make_unique<MappedBuffer>(host, device, bytes);
        }
        cudaFreeHost(host);
      }
      cudaGetLastError();  // mapped memory is an optimisation: fall back to device memory
    }
    return allocate(bytes);
  }
  void upload(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    if (staging_.upload(dst, src, bytes, stream_)) return;  // small: returns at once
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "upload");
    check(cudaStreamSynchronize(stream_), "upload sync");  // the host buffer may go away
  }
  void download(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    if (staging_.download(dst, src, bytes, stream_, kDownloadPieces)) return;
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), "download");
    check(cudaStreamSynchronize(stream_), "download sync");
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_), "copy");
  }
  void synchronize() override { check(cudaStreamSynchronize(stream_), "synchronize"); }

  OpGraphs* graphs() override { return this; }
  void begin() override {
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "begin capture");
  }
  int end() override {
    cudaGraph_t graph = nullptr;
    check(cudaStreamEndCapture(stream_, &graph), "end capture");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    check(status, "graph instantiate");
    graphs_.push_back(exec);
    return static_cast<int>(graphs_.size()) - 1;
  }
  void replay(int handle) override {
    check(cudaGraphLaunch(graphs_.at(static_cast<size_t>(handle)), stream_), "graph launch");
  }

  void embed(const Weight& table, const BatchView& batch, float* out) override {
    cuda::embed(table, batch, out, stream_);
  }
  void rms_norm(const float* x, const float* weight, float* out, int n, int dim,
                float eps) override {
    cuda::rms_norm(x, weight, out, n, dim, eps, stream_);
  }
  // Few tokens: the fused dequantise-dot kernel reads each weight byte once. More tokens:
  // cuBLAS on tensor cores, float32 weights in TF32, every other type in fp16 (F16 rows as
  // they are, the rest dequantised in row chunks), accumulating in float32.
  void matmul(const Weight& w, const float* x, float* out, int n) override {
    if (n <= cuda::kMaxMatvecTokens) {
      cuda::matvec(w, x, out, n, /*accumulate=*/false, matvec_scratch_, stream_);
      return;
    }
    const float alpha = 1.0f, beta = 0.0f;
    const int n_in = static_cast<int>(w.n_in), ldc = static_cast<int>(w.n_out);
    // Column-major view: out^T[first..first+count, n] = rows (n_in x count)^T · x^T (n_in x n).
    if (w.type == GgmlType::F32) {
      check(cublasSgemm(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, ldc, n, n_in, &alpha,
                        static_cast<const float*>(w.data), n_in, x, n_in, &beta, out, ldc),
            "cublasSgemm");
      return;
    }
    __half* x16 = staging_halves(x_staging_, static_cast<int64_t>(n) * n_in);
    cuda::to_half(x, x16, static_cast<int64_t>(n) * n_in, stream_);
    const int64_t rows_per_chunk =
        w.type == GgmlType::F16 ? w.n_out : std::max<int64_t>(1, kStagingHalves / w.n_in);
    for (int64_t first = 0; first < w.n_out; first += rows_per_chunk) {
      const int64_t count = std::min(rows_per_chunk, w.n_out - first);
      const __half* rows;
      if (w.type == GgmlType::F16) {
        rows = static_cast<const __half*>(w.data);
      } else {
        __half* staging = staging_halves(weight_staging_, count * w.n_in);
        cuda::dequantize_rows(w, first, count, staging, stream_);
        rows = staging;
      }
      check(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(count), n, n_in,
                         &alpha, rows, CUDA_R_16F, n_in, x16, CUDA_R_16F, n_in, &beta, out + first,
                         CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            "cublasGemmEx");
    }
  }
  // Decode steps fuse: the input RMS norm into the projections, Q, K and V in one launch (one
  // per weight type where they differ: a Q4_K_M layer may keep V in Q6_K), the residual add into
  // the output projection, the activation into the gate/up pair. Batches take the plain ops.
  void project(std::initializer_list<Projection> projections, const float* x, int n,
               const InputNorm& norm) override {
    if (n <= cuda::kMaxMatvecTokens && projections.size() <= 3) {
      bool launched = true;
      for (const Projection* lead = projections.begin(); lead != projections.end() && launched;
           ++lead) {
        const auto same_type = [&](const Projection& p) { return p.w.type == lead->w.type; };
        if (std::any_of(projections.begin(), lead, same_type)) continue;  // launched with it
        Weight ws[3];
        float* outs[3];
        int count = 0;
        for (const Projection& p : projections) {
          if (same_type(p)) ws[count] = p.w, outs[count++] = p.out;
        }
        launched = cuda::matvec_many(ws, outs, count, x, n, norm, stream_);
      }
      if (launched) return;
    }
    Backend::project(projections, x, n, norm);
  }
  void matmul_add(const Weight& w, const float* x, float* out, float* scratch, int n) override {
    if (n <= cuda::kMaxMatvecTokens) {
      cuda::matvec(w, x, out, n, /*accumulate=*/true, matvec_scratch_, stream_);
      return;
    }
    Backend::matmul_add(w, x, out, scratch, n);
  }
  void gated_matmul(const Weight& gate, const Weight& up, const float* x, float* out,
                    float* scratch, int n, GatedActivation act, const InputNorm& norm) override {
    if (n <= cuda::kMaxMatvecTokens &&
        cuda::matvec_gated(gate, up, x, out, n, act, norm, stream_)) {
      return;
    }
    Backend::gated_matmul(gate, up, x, out, scratch, n, act, norm);
  }
  void rope_store_kv(float* q, float* k, const float* v, const KvLayer& cache,
                     const BatchView& batch, const AttentionParams& a,
                     const RopeParams& rope) override {
    if (a.head_dim % 2 != 0) {
      Backend::rope_store_kv(q, k, v, cache, batch, a, rope);
      return;
    }
    cuda::rope_store_kv(q, k, v, cache, batch, a, rope, stream_);
  }
  // Single-token steps rope and store their own key inside the decode attention kernel.
  void rope_store_attention(float* q, float* k, const float* v, const KvLayer& cache,
                            const BatchView& batch, const AttentionParams& a,
                            const RopeParams& rope, float* out) override {
    if (batch.n != 1 || a.head_dim % 2 != 0) {
      Backend::rope_store_attention(q, k, v, cache, batch, a, rope, out);
      return;
    }
    const cuda::OwnToken own{k, v, rope};
    cuda::attention(cache, q, batch, a, attention_scratch_, out, stream_, &own);
  }
  void rope(float* x, const BatchView& batch, int n_heads, int head_dim,
            const RopeParams& params) override {
    cuda::rope(x, batch, n_heads, head_dim, params, stream_);
  }
  void store_kv(const KvLayer& cache, const float* k, const float* v,
                const BatchView& batch) override {
    cuda::store_kv(cache, k, v, batch, stream_);
  }
  // A prompt's prefill (one run of a slot's positions, long enough) in a global layer goes
  // to the tensor cores; everything else to the attention kernels.
  void attention(const KvLayer& cache, const float* q, const BatchView& batch,
                 const AttentionParams& params, float* out) override {
    const bool run = batch.run_slot >= 0 && batch.n >= kMinTensorCoreAttentionTokens &&
                     params.window == 0 && params.head_dim % 8 == 0 &&
                     batch.run_first + batch.n <= cache.n_ctx;
    if (run) {
      const size_t bytes =
          cuda::prefill_attention_bytes(batch.run_first, batch.n, params, cache.type);
      void* workspace = grown(attention_workspace_, bytes);
      cuda::attention_prefill_run(cublas_, cache, q, batch.run_slot, batch.run_first, batch.n,
                                  params, workspace, out, stream_);
      return;
    }
    cuda::attention(cache, q, batch, params, attention_scratch_, out, stream_);
  }
  void swiglu(const float* gate, const float* up, float* out, int64_t n) override {
    cuda::swiglu(gate, up, out, n, stream_);
  }
  void geglu(const float* gate, const float* up, float* out, int64_t n) override {
    cuda::geglu(gate, up, out, n, stream_);
  }
  void add(const float* a, const float* b, float* out, int64_t n) override {
    cuda::add(a, b, out, n, stream_);
  }
  void add_bias(float* x, const float* bias, int n, int dim) override {
    cuda::add_bias(x, bias, n, dim, stream_);
  }
  void scale(float* x, float factor, int64_t n) override { cuda::scale(x, factor, n, stream_); }
  void softcap(float* x, float cap, int64_t n) override { cuda::softcap(x, cap, n, stream_); }
  void gather_rows(const float* x, const int32_t* rows, int n_rows, int dim, float* out) override {
    cuda::gather_rows(x, rows, n_rows, dim, out, stream_);
  }

 private:
  // A buffer of at least `bytes` (grown, never shrunk).
  void* grown(std::unique_ptr<DeviceBuffer>& buffer, size_t bytes) {
    if (!buffer || buffer->bytes() < bytes) {
      synchronize();  // the old buffer may still be in use by queued work
      buffer = allocate(bytes);
    }
    return buffer->data();
  }
  __half* staging_halves(std::unique_ptr<DeviceBuffer>& buffer, int64_t n) {
    return static_cast<__half*>(grown(buffer, static_cast<size_t>(n) * sizeof(__half)));
  }

  int device_;
  cudaStream_t stream_ = nullptr;
  cuda::PinnedStaging staging_;
  cublasHandle_t cublas_ = nullptr;
  Capabilities caps_;
  std::unique_ptr<DeviceBuffer> weight_staging_, x_staging_;
  std::unique_ptr<DeviceBuffer> attention_partials_, attention_arrivals_, attention_workspace_;
  cuda::AttentionScratch attention_scratch_;
  std::unique_ptr<DeviceBuffer> matvec_partials_, matvec_arrivals_;
  cuda::MatvecScratch matvec_scratch_;
  std::vector<cudaGraphExec_t> graphs_;
};

}  // namespace

std::optional<std::string> cuda_unavailable_reason() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return fmt::format("no CUDA device ({})", cudaGetErrorString(status));
  }
  if (count == 0) return std::string("no CUDA device");
  return std::nullopt;
}

std::string cuda_versions() {
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  return fmt::format("runtime {}.{}, driver {}.{}", runtime / 1000, runtime % 1000 / 10,
                     driver / 1000, driver % 1000 / 10);
}

std::unique_ptr<Backend> make_cuda_backend(int device) {
  return std::make_unique<CudaBackend>(device);
}

}  // namespace concord
