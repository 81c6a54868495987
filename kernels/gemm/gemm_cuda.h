// The CUDA twins of the gemm kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
//
// Variant choice of the native kernels, for tests and benchmarks (per process; kernels/gemm/gemm.cu
// says what each one is): 0 automatic (the default: v2 with the tile size that fills the GPU),
// 1 the naive v1, 2 v2 with 64x64 tiles, 3 v2 with 128x128 tiles; anything else throws.
// Both v2 choices add split-K when the output has too few tiles to fill the GPU.
// cuBLAS is chosen with kernel_choice("gemm") == vendor instead (nvcc build only).
#pragma once

#include "kernels/gemm/gemm.h"

namespace fer::cuda {
#include "kernels/gemm/gemm_cuda.inc"
// cuBLAS SGEMM (FP32, no TF32), kernels/gemm/gemm_vendor.cu: gemm_cuda's contract, row-major.
void gemm_vendor(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
}
namespace fer::cudasim {
#include "kernels/gemm/gemm_cuda.inc"
}
