// The kernel micro-benchmark cases: every op family on the layer shapes of the default models
// (models::ModelConfig{}, docs/design.md "Models": S=64, C=1, K=7, d=50, w=1) at batch 32, plus a
// few larger shapes.
//
// A case names its buffers (inputs, then outputs: the kernel's arguments are p[0..] in that
// order), how to fill them, the work it does (FLOPs for the compute-bound families, bytes for
// the memory-bound ones), the equivalent GEMM (for the CPU comparison against cblas_sgemm), and
// the kernel itself once per implementation (Impls). The kernels called are the shipped ones:
// nothing is copied here (docs/design.md "Conventions", "Kernel versions and names").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "benchmarks/backend.h"

namespace fer::bench {

// Full: the benchmarked shape; Check: the same layer at batch 1, validated before timing (the
// plain-loop reference stays cheap); Tiny: a few elements per axis, odd sizes, for
// --validate-only (CI on cuda-sim).
enum class CaseSize { Full, Check, Tiny };

enum class Fill {
  Uniform,   // U(-1, 1)
  Positive,  // U(0.5, 2): variances, inverse deviations, second moments
  Zero,
  One,
  Labels,    // integers in [0, classes)
};

struct BufferSpec {
  std::string name;
  int64_t count = 0;
  Fill fill = Fill::Uniform;
  int64_t classes = 0;  // Labels only
};

struct GemmDims {
  int64_t M = 0, N = 0, K = 0;  // 0: no equivalent GEMM
};

struct KernelCase {
  std::string family, op, shape;
  std::vector<BufferSpec> inputs, outputs;
  double flops = 0;  // > 0: reported as GFLOP/s; otherwise GB/s of `bytes`
  double bytes = 0;  // every buffer read or written once
  GemmDims gemm;
  Impls impls;
  double tolerance = 1e-3;  // atol = tolerance * max|ref| of the output, rtol = tolerance
};

// Every case at `size`, in a fixed order (the same at every size: the i-th Check case validates the
// i-th Full case); `op` filters by family or op name (empty: all).
std::vector<KernelCase> kernel_cases(CaseSize size, const std::string& op);

}  // namespace fer::bench
