// GEMM, linear and matmul on the GPU (both builds: fer::cuda by nvcc, fer::cudasim on the
// simulator). Layouts and contracts: gemm.h; variant choice: gemm_cuda.h.
//
// Every product is C[M,N] = alpha op(A) op(B) + beta C (+ bias[j] on every row, linear's bias
// fused into the store), row-major with leading dimensions; beta == 0 never reads C.
//
// v1, the naive port (readable): one thread per element of C, a 16x16 block of them, the loop
//   over K reading A and B from global memory (B's reads coalesce across the warp, A's broadcast).
// v2, tiled (gemm_kernel_v2<BM, BN>): a block computes a BM x BN tile of C in steps of BK = 8
//   along K. Each step copies the A slice (BM x 8) and the B slice (8 x BN) into shared memory,
//   both stored k-major (tile[k][row]), whatever the transposes: the loader reads 16 bytes at a
//   time along whichever axis is contiguous in global memory (float4 when the operand is 16-byte
//   aligned with a leading dimension that is a multiple of 4, else 4 guarded scalars; elements
//   past the ragged edges read as 0). Each thread accumulates an 8x8 micro-tile in registers:
//   rows {4ty..4ty+3} and {BM/2+4ty..+3}, columns likewise. Splitting the micro-tile in two
//   halves BM/2 apart makes the shared-memory reads of a quarter-warp 8 consecutive float4
//   (no bank conflicts) and the global stores 16-byte runs. 64x64 tiles take 64 threads,
//   128x128 tiles 256 threads (8 KB of shared memory either way, so many blocks per SM).
//   Automatic choice: 128x128 when that still gives at least one tile per SM, else 64x64 (the
//   SM count is the device's, multiprocessor_count()).
//   Split-K: when the tiles are fewer than the SMs and K is long (linear layers at batch
//   32: M = 32), blockIdx.z takes a range of K of at least kMinSplitK, writes its partial tile to
//   a workspace, and a second kernel adds the partials in order of z (deterministic, no atomics)
//   and applies alpha, beta and the bias.
// vendor: cuBLAS SGEMM (gemm_vendor.cu), FP32 without TF32.
// Speed against cuBLAS, with its machine and command: docs/kernels.md "gemm".
//
// linear: y = x W^T + b is gemm(N, out, in, no-trans x, trans W) with the bias in the store.
//   Backward: dx = dy W, dW = dy^T x (two GEMMs), dbias = column sums of dy: one thread per
//   column adds its rows in order (coalesced across threads, deterministic); fusing it into the
//   dW GEMM would not pay, it is O(N*out) next to O(N*out*in).
// matmul: c = a b; da = dc b^T, db = a^T dc.
// Backward writes: every gradient is overwritten (beta = 0); a null gradient is skipped.
#include <algorithm>
#include <atomic>
#include <cstdint>

#include "kernels/runtime/cuda_api.h"
#include "kernels/common/cuda_reduce.h"
#include "kernels/gemm/gemm_cuda.h"
#include "kernels/runtime/kernel_choice.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {
namespace {

constexpr int kBK = 8;                // K per shared-memory step of v2
constexpr int kMicro = 8;             // each v2 thread computes kMicro x kMicro outputs
constexpr int kNaiveSide = 16;        // v1 blocks are 16 x 16 threads
constexpr int64_t kMinSplitK = 128;      // split-K ranges are at least this long (16 BK steps)
constexpr int kThreads = 256;

std::atomic<int> selected_variant{0};

// One product, as every variant sees it.
struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0;
  float alpha = 1;
  const float* A = nullptr;
  int64_t lda = 0;
  const float* B = nullptr;
  int64_t ldb = 0;
  float beta = 0;
  float* C = nullptr;
  int64_t ldc = 0;
  const float* bias = nullptr;  // [N], added to every row of C; nullptr for none
};

// The one epilogue: C[i, j] = alpha acc + beta C[i, j] + bias[j]; beta == 0 does not read C.
__device__ __forceinline__ float epilogue(const GemmArgs& g, int64_t i, int64_t j, float acc) {
  float c = g.alpha * acc;
  if (g.beta != 0.0f) c += g.beta * g.C[i * g.ldc + j];
  if (g.bias) c += g.bias[j];
  return c;
}

// ---- v1: one thread per output ---------------------------------------------------------------

__global__ void gemm_kernel_v1(GemmArgs g) {
  const int64_t i = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= g.M || j >= g.N) return;
  float acc = 0;
  for (int64_t k = 0; k < g.K; ++k) {
    const float a = g.trans_a ? g.A[k * g.lda + i] : g.A[i * g.lda + k];
    const float b = g.trans_b ? g.B[j * g.ldb + k] : g.B[k * g.ldb + j];
    acc += a * b;
  }
  g.C[i * g.ldc + j] = epilogue(g, i, j, acc);
}

// ---- v2: shared-memory tiles, 8x8 register micro-tiles, split-K ------------------------------

// Four consecutive floats from p into v; those at index >= valid, or all when !in_range, are 0.
__device__ __forceinline__ void load_quad(const float* p, bool in_range, int64_t valid, bool vec, float v[4]) {
  if (in_range && vec && valid >= 4) {
    const float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
    return;
  }
  for (int t = 0; t < 4; ++t) v[t] = in_range && t < valid ? p[t] : 0.0f;
}

// One operand's slice [r0, r0+ROWS) x [k0, k0+kBK) into tile[k * ROWS + r]. Element (r, k) is
// at p[r * ld + k] when k_contiguous, else at p[k * ld + r]; it is 0 outside rows x k_end.
template <int ROWS, int THREADS>
__device__ __forceinline__ void load_tile(const float* p, int64_t ld, bool k_contiguous, bool vec, int64_t r0,
                                          int64_t rows, int64_t k0, int64_t k_end, float* tile) {
  constexpr int kQuads = ROWS * kBK / 4;
  for (int q = threadIdx.x; q < kQuads; q += THREADS) {
    float v[4];
    if (k_contiguous) {  // 4 consecutive k of one row, written down a column of the tile
      const int r = q / (kBK / 4), k = q % (kBK / 4) * 4;
      const int64_t gr = r0 + r, gk = k0 + k;
      load_quad(p + gr * ld + gk, gr < rows, k_end - gk, vec, v);
      for (int t = 0; t < 4; ++t) tile[(k + t) * ROWS + r] = v[t];
    } else {  // 4 consecutive rows of one k: one float4 in the tile
      const int k = q / (ROWS / 4), r = q % (ROWS / 4) * 4;
      const int64_t gr = r0 + r, gk = k0 + k;
      load_quad(p + gk * ld + gr, gk < k_end, rows - gr, vec, v);
      *reinterpret_cast<float4*>(tile + k * ROWS + r) = make_float4(v[0], v[1], v[2], v[3]);
    }
  }
}

// Row (or column) of a thread's micro-tile element e (0..7): two runs of 4, `half` apart.
__device__ __forceinline__ int micro_index(int thread_coord, int e, int half) {
  return (e < 4 ? 0 : half) + thread_coord * 4 + (e & 3);
}

// Alignment facts the host checks once per call: which accesses may use float4.
struct VectorOk {
  bool a, b, c;
};

template <int BM, int BN>
__global__ void __launch_bounds__((BM / kMicro) * (BN / kMicro))
    gemm_kernel_v2(GemmArgs g, VectorOk vec, int64_t k_chunk, float* partials) {
  constexpr int kThreadsV2 = (BM / kMicro) * (BN / kMicro);
  struct alignas(16) Tiles {  // 16-byte aligned for the float4 accesses
    float a[kBK * BM];
    float b[kBK * BN];
  };
  FER_STATIC_SHARED(Tiles, tiles);
  float* a_tile = tiles.a;
  float* b_tile = tiles.b;
  const int tx = threadIdx.x % (BN / kMicro), ty = threadIdx.x / (BN / kMicro);
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * BM, n0 = static_cast<int64_t>(blockIdx.x) * BN;
  const int64_t k_begin = blockIdx.z * k_chunk, k_end = std::min(g.K, k_begin + k_chunk);

  float acc[kMicro][kMicro] = {};
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kBK) {
    load_tile<BM, kThreadsV2>(g.A, g.lda, !g.trans_a, vec.a, m0, g.M, k0, k_end, a_tile);
    load_tile<BN, kThreadsV2>(g.B, g.ldb, g.trans_b, vec.b, n0, g.N, k0, k_end, b_tile);
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kBK; ++k) {
      float a[kMicro], b[kMicro];
      const float4 a_lo = *reinterpret_cast<const float4*>(a_tile + k * BM + ty * 4);
      const float4 a_hi = *reinterpret_cast<const float4*>(a_tile + k * BM + BM / 2 + ty * 4);
      const float4 b_lo = *reinterpret_cast<const float4*>(b_tile + k * BN + tx * 4);
      const float4 b_hi = *reinterpret_cast<const float4*>(b_tile + k * BN + BN / 2 + tx * 4);
      a[0] = a_lo.x, a[1] = a_lo.y, a[2] = a_lo.z, a[3] = a_lo.w;
      a[4] = a_hi.x, a[5] = a_hi.y, a[6] = a_hi.z, a[7] = a_hi.w;
      b[0] = b_lo.x, b[1] = b_lo.y, b[2] = b_lo.z, b[3] = b_lo.w;
      b[4] = b_hi.x, b[5] = b_hi.y, b[6] = b_hi.z, b[7] = b_hi.w;
#pragma unroll
      for (int i = 0; i < kMicro; ++i)
#pragma unroll
        for (int j = 0; j < kMicro; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();  // the next step overwrites the tiles
  }

  for (int i = 0; i < kMicro; ++i) {
    const int64_t row = m0 + micro_index(ty, i, BM / 2);
    if (row >= g.M) continue;
    for (int half = 0; half < 2; ++half) {
      const int64_t col = n0 + micro_index(tx, half * 4, BN / 2);
      const float* quad = acc[i] + half * 4;
      if (partials) {  // split-K: the raw partial sums, [z][M][N]
        float* out = partials + (static_cast<int64_t>(blockIdx.z) * g.M + row) * g.N + col;
        for (int t = 0; t < 4 && col + t < g.N; ++t) out[t] = quad[t];
      } else if (vec.c && col + 3 < g.N) {
        float4 c = make_float4(epilogue(g, row, col, quad[0]), epilogue(g, row, col + 1, quad[1]),
                               epilogue(g, row, col + 2, quad[2]), epilogue(g, row, col + 3, quad[3]));
        *reinterpret_cast<float4*>(g.C + row * g.ldc + col) = c;
      } else {
        for (int t = 0; t < 4 && col + t < g.N; ++t) g.C[row * g.ldc + col + t] = epilogue(g, row, col + t, quad[t]);
      }
    }
  }
}

// Split-K's second pass: one thread per element adds the partials in order of z.
__global__ void gemm_split_k_sum_kernel(GemmArgs g, const float* partials, int splits) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= g.M * g.N) return;
  float acc = 0;
  for (int z = 0; z < splits; ++z) acc += partials[z * g.M * g.N + e];
  const int64_t i = e / g.N, j = e % g.N;
  g.C[i * g.ldc + j] = epilogue(g, i, j, acc);
}

// ---- host side ---------------------------------------------------------------------------------

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

void check_gemm_args(const GemmArgs& g) {
  FER_CHECK(g.M >= 0 && g.N >= 0 && g.K >= 0) << "gemm: negative size M=" << g.M << ", N=" << g.N << ", K=" << g.K;
  FER_CHECK(g.lda >= (g.trans_a ? g.M : g.K) && g.ldb >= (g.trans_b ? g.K : g.N) && g.ldc >= g.N)
      << "gemm: leading dimensions lda=" << g.lda << ", ldb=" << g.ldb << ", ldc=" << g.ldc
      << " too small for M=" << g.M << ", N=" << g.N << ", K=" << g.K << " (trans_a " << g.trans_a
      << ", trans_b " << g.trans_b << ")";
}

void run_naive(const GemmArgs& g) {
  FER_CHECK(ceil_div(g.M, kNaiveSide) <= 65535) << "gemm v1: M=" << g.M << " needs more than 65535 row blocks";
  const dim3 grid(static_cast<unsigned>(ceil_div(g.N, kNaiveSide)), static_cast<unsigned>(ceil_div(g.M, kNaiveSide)));
  launch_kernel(gemm_kernel_v1, grid, dim3(kNaiveSide, kNaiveSide), 0, g);
}

template <int BM, int BN>
void run_tiled(const GemmArgs& g) {
  const int64_t tiles_n = ceil_div(g.N, BN), tiles_m = ceil_div(g.M, BM);
  FER_CHECK(tiles_m <= 65535) << "gemm: M=" << g.M << " needs " << tiles_m << " row tiles, over the grid's 65535";
  // Split K only where it adds blocks to a GPU the tiles leave idle, in whole BK steps.
  const int64_t sms = multiprocessor_count();
  int64_t splits = 1;
  if (tiles_n * tiles_m < sms) splits = std::max<int64_t>(1, std::min(2 * sms / (tiles_n * tiles_m), g.K / kMinSplitK));
  const int64_t k_chunk = std::max<int64_t>(kBK, ceil_div(ceil_div(g.K, splits), kBK) * kBK);
  splits = std::max<int64_t>(1, ceil_div(g.K, k_chunk));
  const VectorOk vec{aligned16(g.A) && g.lda % 4 == 0, aligned16(g.B) && g.ldb % 4 == 0,
                     aligned16(g.C) && g.ldc % 4 == 0};
  const dim3 grid(static_cast<unsigned>(tiles_n), static_cast<unsigned>(tiles_m), static_cast<unsigned>(splits));
  constexpr int threads = (BM / kMicro) * (BN / kMicro);
  if (splits == 1) {
    launch_kernel(gemm_kernel_v2<BM, BN>, grid, threads, 0, g, vec, k_chunk, static_cast<float*>(nullptr));
    return;
  }
  DeviceBuffer<float> partials(splits * g.M * g.N);
  launch_kernel(gemm_kernel_v2<BM, BN>, grid, threads, 0, g, vec, k_chunk, partials.get());
  launch_kernel(gemm_split_k_sum_kernel, blocks_for(g.M * g.N, kThreads), kThreads, 0, g,
                static_cast<const float*>(partials.get()), static_cast<int>(splits));
}

#ifndef FER_CUDA_SIM
// Sets every row of C [M, N] to bias (the vendor path adds the product to it with beta = 1).
__global__ void broadcast_rows_kernel(const float* bias, int64_t M, int64_t N, float* C, int64_t ldc) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e < M * N) C[e / N * ldc + e % N] = bias[e % N];
}
#endif

void run_gemm(const GemmArgs& g) {
  check_gemm_args(g);
  if (g.M == 0 || g.N == 0) return;
#ifndef FER_CUDA_SIM
  if (kernel_choice("gemm") == KernelChoice::Vendor) {
    float beta = g.beta;
    if (g.bias) {  // cuBLAS has no bias: C starts as the bias rows (C's old values are unused here)
      FER_CHECK(g.beta == 0.0f) << "gemm: a fused bias with beta != 0 is not supported";
      launch_kernel(broadcast_rows_kernel, blocks_for(g.M * g.N, kThreads), kThreads, 0, g.bias, g.M, g.N, g.C, g.ldc);
      beta = 1.0f;
    }
    gemm_vendor(g.trans_a, g.trans_b, g.M, g.N, g.K, g.alpha, g.A, g.lda, g.B, g.ldb, beta, g.C, g.ldc);
    return;
  }
#endif
  switch (selected_variant.load()) {
    case 1: run_naive(g); break;
    case 2: run_tiled<64, 64>(g); break;
    case 3: run_tiled<128, 128>(g); break;
    default:
      if (ceil_div(g.M, 128) * ceil_div(g.N, 128) >= multiprocessor_count()) {
        run_tiled<128, 128>(g);
      } else {
        run_tiled<64, 64>(g);
      }
  }
}

GemmArgs product(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float* C, int64_t ldc, const float* bias = nullptr) {
  GemmArgs g;
  g.trans_a = trans_a, g.trans_b = trans_b, g.M = M, g.N = N, g.K = K;
  g.A = A, g.lda = lda, g.B = B, g.ldb = ldb, g.C = C, g.ldc = ldc, g.bias = bias;
  return g;
}

// dbias[o] = sum over rows i of dy[i, o], rows added in order.
__global__ void column_sums_kernel(const float* dy, int64_t rows, int64_t cols, float* sums) {
  const int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= cols) return;
  float sum = 0;
  for (int64_t i = 0; i < rows; ++i) sum += dy[i * cols + o];
  sums[o] = sum;
}

}  // namespace

void set_gemm_variant(int variant) {
  FER_CHECK(variant >= 0 && variant <= 3) << "set_gemm_variant: variant " << variant
                                          << " is not 0 (automatic), 1 (naive), 2 (64x64 tiles) or 3 (128x128 tiles)";
  selected_variant.store(variant);
}

int gemm_variant() { return selected_variant.load(); }

void gemm_cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  GemmArgs g = product(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
  g.alpha = alpha, g.beta = beta;
  run_gemm(g);
}

void linear_forward_cuda(const LinearShape& s, const float* x, const float* weight, const float* bias, float* y) {
  run_gemm(product(false, true, s.N, s.out, s.in, x, s.in, weight, s.in, y, s.out, bias));
}

void linear_backward_cuda(const LinearShape& s, const float* x, const float* weight, const float* dy, float* dx,
                          float* dweight, float* dbias) {
  if (dx) run_gemm(product(false, false, s.N, s.in, s.out, dy, s.out, weight, s.in, dx, s.in));
  if (dweight) run_gemm(product(true, false, s.out, s.in, s.N, dy, s.out, x, s.in, dweight, s.in));
  if (dbias) launch_kernel(column_sums_kernel, blocks_for(s.out, kThreads), kThreads, 0, dy, s.N, s.out, dbias);
}

void matmul_forward_cuda(const MatmulShape& s, const float* a, const float* b, float* c) {
  run_gemm(product(false, false, s.M, s.N, s.K, a, s.K, b, s.N, c, s.N));
}

void matmul_backward_cuda(const MatmulShape& s, const float* a, const float* b, const float* dc, float* da,
                          float* db) {
  if (da) run_gemm(product(false, true, s.M, s.K, s.N, dc, s.N, b, s.N, da, s.K));
  if (db) run_gemm(product(true, false, s.K, s.N, s.M, a, s.K, dc, s.N, db, s.N));
}

}  // namespace fer::FER_CUDA_NS
