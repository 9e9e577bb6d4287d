// Marks small functions shared by host code and CUDA device code (block decoding, f16).
#pragma once

#if defined(__CUDACC__)
#define CONCORD_HD __host__ __device__ __forceinline__
// Unrolls the next loop in device code (register arrays indexed by its counter stay in
// registers); nothing for host compilers.
#define CONCORD_UNROLL _Pragma("unroll")
#else
#define CONCORD_HD inline
#define CONCORD_UNROLL
#endif
