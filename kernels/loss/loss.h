// Loss kernels, all mean-reduced to one value.
//
// cross_entropy: logits [batch, classes] row-major, labels [batch] as float32 holding integers
// in [0, classes) (the op validates them; the kernels trust them), for every T. Log-softmax and
// NLL are fused per row with the max subtracted first, so no exp overflows.
// Pointwise losses (bce_with_logits, l1_loss, mse_loss): two inputs of `count` elements, any
// layout, mean of a per-element term.
//
// Sums accumulate in double. Threads: the _cpu versions run the same code as _ref<float> with
// rows / elements split across OpenMP threads (a reduction for the forward, so its summation
// order, and only that, differs from the reference).
//
// Backward: dloss points to the one upstream gradient value; gradients are overwritten; a null
// gradient pointer means that input needs none.
#pragma once
#include <cstdint>

namespace fer {

struct ClassLossShape {
  int64_t batch;
  int64_t classes;
};

// loss = mean_i (logsumexp(logits_i) - logits_i[label_i]).
template <typename T>
void cross_entropy_forward_ref(const T* logits, const float* labels, T* loss, const ClassLossShape& shape);
void cross_entropy_forward_cpu(const float* logits, const float* labels, float* loss, const ClassLossShape& shape);
// dlogits = dloss * (softmax(logits) - onehot(labels)) / batch.
template <typename T>
void cross_entropy_backward_ref(const T* logits, const float* labels, const T* dloss, T* dlogits,
                                const ClassLossShape& shape);
void cross_entropy_backward_cpu(const float* logits, const float* labels, const float* dloss, float* dlogits,
                                const ClassLossShape& shape);

// Term max(x, 0) - x t + log1p(exp(-|x|)) (never overflows); d/dx = sigmoid(x) - t, d/dt = -x.
template <typename T>
void bce_with_logits_forward_ref(const T* logits, const T* targets, T* loss, int64_t count);
void bce_with_logits_forward_cpu(const float* logits, const float* targets, float* loss, int64_t count);
template <typename T>
void bce_with_logits_backward_ref(const T* logits, const T* targets, const T* dloss, T* dlogits, T* dtargets,
                                  int64_t count);
void bce_with_logits_backward_cpu(const float* logits, const float* targets, const float* dloss, float* dlogits,
                                  float* dtargets, int64_t count);

// Term |a - b|; d/da = sign(a - b) (0 where a == b), d/db = -d/da.
template <typename T>
void l1_loss_forward_ref(const T* a, const T* b, T* loss, int64_t count);
void l1_loss_forward_cpu(const float* a, const float* b, float* loss, int64_t count);
template <typename T>
void l1_loss_backward_ref(const T* a, const T* b, const T* dloss, T* da, T* db, int64_t count);
void l1_loss_backward_cpu(const float* a, const float* b, const float* dloss, float* da, float* db, int64_t count);

// Term (a - b)^2; d/da = 2 (a - b), d/db = -d/da.
template <typename T>
void mse_loss_forward_ref(const T* a, const T* b, T* loss, int64_t count);
void mse_loss_forward_cpu(const float* a, const float* b, float* loss, int64_t count);
template <typename T>
void mse_loss_backward_ref(const T* a, const T* b, const T* dloss, T* da, T* db, int64_t count);
void mse_loss_backward_cpu(const float* a, const float* b, const float* dloss, float* da, float* db, int64_t count);

}  // namespace fer
