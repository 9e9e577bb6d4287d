// Marks small functions shared by host code and CUDA device code (block decoding, f16).
#pragma once

#if defined(__CUDACC__)
#define CONCORD_HD __host__ __device__ __forceinline__
#else
#define CONCORD_HD inline
#endif
