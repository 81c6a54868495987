// Loss kernels on the GPU (both builds: fer::cuda by nvcc, fer::cudasim on the simulator).
// Layouts, formulas and what the backward writes: loss.h; derivations: docs/kernels.md "loss".
//
// One variant each (v1): a loss reads its inputs once and is memory-bound already.
//   Forward (a mean): the deterministic two-pass device sum of kernels/common/cuda_reduce.h
//     (grid-stride partial sums in double, one block adds the partials in a fixed order), so
//     the loss is the same from run to run; terms in double, as the CPU reference.
//   cross_entropy: one thread per row computes its log-sum-exp (max subtracted first) into a
//     scratch [batch]; the forward sums lse - logit[label] over rows, the backward writes one
//     element per thread, dloss * (exp(logit - lse) - onehot) / batch.
//   Pointwise losses: the backward is one thread per element; dloss is read on the device.
// Speed against the copy bandwidth, with machine and command: docs/kernels.md "loss".
#include <cmath>
#include <cstdint>

#include "kernels/runtime/cuda_api.h"
#include "kernels/common/cuda_reduce.h"
#include "kernels/loss/loss.h"
#include "kernels/loss/loss_cuda.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {
namespace {

constexpr int kThreads = 256;

// ---- cross-entropy -------------------------------------------------------------------------------

__global__ void row_logsumexp_kernel_v1(const float* logits, double* lse, ClassLossShape s) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= s.batch) return;
  const float* row = logits + r * s.classes;
  double max = row[0];
  for (int64_t k = 1; k < s.classes; ++k) max = fmax(max, static_cast<double>(row[k]));
  double sum = 0;
  for (int64_t k = 0; k < s.classes; ++k) sum += exp(row[k] - max);
  lse[r] = max + log(sum);
}

struct CrossEntropyTerm {
  const float* logits;
  const float* labels;
  const double* lse;
  int64_t classes;
  __device__ double operator()(int64_t r) const {
    return lse[r] - logits[r * classes + static_cast<int64_t>(labels[r])];
  }
};

__global__ void cross_entropy_backward_kernel_v1(const float* logits, const float* labels, const double* lse,
                                                 const float* dloss, float* dlogits, ClassLossShape s) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= s.batch * s.classes) return;
  const int64_t r = i / s.classes, k = i % s.classes;
  const double target = k == static_cast<int64_t>(labels[r]) ? 1.0 : 0.0;
  dlogits[i] = static_cast<float>(*dloss / static_cast<double>(s.batch) * (exp(logits[i] - lse[r]) - target));
}

// ---- pointwise losses: value(a, b) and the pair (d/da, d/db) --------------------------------------

struct BceTerm {
  __device__ static double value(double x, double t) { return fmax(x, 0.0) - x * t + log1p(exp(-fabs(x))); }
  __device__ static void grad(double x, double t, double& gx, double& gt) {
    const double e = exp(-fabs(x));  // sigmoid without overflow on either side
    gx = (x >= 0 ? 1 / (1 + e) : e / (1 + e)) - t;
    gt = -x;
  }
};

struct L1Term {
  __device__ static double value(double a, double b) { return fabs(a - b); }
  __device__ static void grad(double a, double b, double& ga, double& gb) {
    ga = a > b ? 1.0 : (a < b ? -1.0 : 0.0);
    gb = -ga;
  }
};

struct MseTerm {
  __device__ static double value(double a, double b) { return (a - b) * (a - b); }
  __device__ static void grad(double a, double b, double& ga, double& gb) {
    ga = 2 * (a - b);
    gb = -ga;
  }
};

template <typename Term>
struct PointwiseValue {
  const float* a;
  const float* b;
  __device__ double operator()(int64_t i) const { return Term::value(a[i], b[i]); }
};

template <typename Term>
__global__ void pointwise_backward_kernel_v1(const float* a, const float* b, const float* dloss, float* da, float* db,
                                             int64_t count) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const double scale = *dloss / static_cast<double>(count);
  double ga, gb;
  Term::grad(a[i], b[i], ga, gb);
  if (da) da[i] = static_cast<float>(scale * ga);
  if (db) db[i] = static_cast<float>(scale * gb);
}

template <typename Term>
void pointwise_forward(const float* a, const float* b, float* loss, int64_t count) {
  sum_terms(PointwiseValue<Term>{a, b}, count, 1.0 / static_cast<double>(count), loss);
}

template <typename Term>
void pointwise_backward(const float* a, const float* b, const float* dloss, float* da, float* db, int64_t count) {
  launch_kernel(pointwise_backward_kernel_v1<Term>, blocks_for(count, kThreads), kThreads, 0, a, b, dloss, da, db,
                count);
}

}  // namespace

void cross_entropy_forward_cuda(const float* logits, const float* labels, float* loss, const ClassLossShape& shape) {
  DeviceBuffer<double> lse(shape.batch);
  launch_kernel(row_logsumexp_kernel_v1, blocks_for(shape.batch, kThreads), kThreads, 0, logits, lse.get(), shape);
  sum_terms(CrossEntropyTerm{logits, labels, lse.get(), shape.classes}, shape.batch,
            1.0 / static_cast<double>(shape.batch), loss);
}

void cross_entropy_backward_cuda(const float* logits, const float* labels, const float* dloss, float* dlogits,
                                 const ClassLossShape& shape) {
  DeviceBuffer<double> lse(shape.batch);
  launch_kernel(row_logsumexp_kernel_v1, blocks_for(shape.batch, kThreads), kThreads, 0, logits, lse.get(), shape);
  launch_kernel(cross_entropy_backward_kernel_v1, blocks_for(shape.batch * shape.classes, kThreads), kThreads, 0,
                logits, labels, lse.get(), dloss, dlogits, shape);
}

void bce_with_logits_forward_cuda(const float* logits, const float* targets, float* loss, int64_t count) {
  pointwise_forward<BceTerm>(logits, targets, loss, count);
}
void bce_with_logits_backward_cuda(const float* logits, const float* targets, const float* dloss, float* dlogits,
                                   float* dtargets, int64_t count) {
  pointwise_backward<BceTerm>(logits, targets, dloss, dlogits, dtargets, count);
}

void l1_loss_forward_cuda(const float* a, const float* b, float* loss, int64_t count) {
  pointwise_forward<L1Term>(a, b, loss, count);
}
void l1_loss_backward_cuda(const float* a, const float* b, const float* dloss, float* da, float* db, int64_t count) {
  pointwise_backward<L1Term>(a, b, dloss, da, db, count);
}

void mse_loss_forward_cuda(const float* a, const float* b, float* loss, int64_t count) {
  pointwise_forward<MseTerm>(a, b, loss, count);
}
void mse_loss_backward_cuda(const float* a, const float* b, const float* dloss, float* da, float* db, int64_t count) {
  pointwise_backward<MseTerm>(a, b, dloss, da, db, count);
}

}  // namespace fer::FER_CUDA_NS
