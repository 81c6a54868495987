// Optimizer updates: one call updates every parameter of a model (llm.c's fused AdamW, tinygrad's
// multi-tensor step). The engine passes a list of slices, one per parameter with a gradient:
// pointers to the parameter, its gradient and its state buffers, all `size` elements long and
// on the same device. The CUDA version turns the list into one multi-tensor launch.
//
// Everything is updated in place (param, state); the gradient is only read. The arithmetic
// follows torch.optim's single-tensor implementations operation by operation, in float for
// float (scalars derived from the hyper-parameters are computed in double, as Python does).
//
// Threads: the _cpu versions split each slice's elements across OpenMP threads; elements are
// independent, so the result does not depend on the thread count.
#pragma once
#include <cstdint>

namespace fer {

// ---- SGD: momentum (dampening 0), optional Nesterov, weight decay as L2 --------------------
//   g = grad + weight_decay * param
//   buf = momentum * buf + g                        (buf starts at 0, i.e. buf = g on step 1)
//   d = nesterov ? g + momentum * buf : buf          (d = g when momentum == 0; buf unused)
//   param -= lr * d
template <typename T>
struct SgdSlice {
  T* param;
  const T* grad;
  T* momentum_buffer;  // may be null when momentum == 0
  int64_t size;
};

struct SgdHyper {
  double lr = 0;
  double momentum = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

template <typename T>
void sgd_update_ref(const SgdSlice<T>* slices, int64_t count, const SgdHyper& h);
void sgd_update_cpu(const SgdSlice<float>* slices, int64_t count, const SgdHyper& h);

// ---- Adam: weight decay as L2 (torch.optim.Adam, not AdamW), bias correction ---------------
//   g = grad + weight_decay * param
//   m += (1 - beta1) * (g - m);   v = beta2 * v + (1 - beta2) * g * g
//   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with t the slice's step count after this update (1 on the first step).
template <typename T>
struct AdamSlice {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  int64_t size;
  int64_t step;  // t, already incremented for this update
};

struct AdamHyper {
  double lr = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
};

template <typename T>
void adam_update_ref(const AdamSlice<T>* slices, int64_t count, const AdamHyper& h);
void adam_update_cpu(const AdamSlice<float>* slices, int64_t count, const AdamHyper& h);

}  // namespace fer
