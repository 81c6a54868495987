// cross_entropy, bce_with_logits, l1_loss, mse_loss: argument checks, dispatch to kernels/loss/,
// and the backward recorded next to each forward. Every loss returns a [1] tensor (the mean).
#include "engine/ops/loss.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "kernels/loss/loss.h"
#include "kernels/loss/loss_cuda.h"

namespace fer {

namespace {

template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Labels are checked on the host: a bad label must be named, and the batch is small.
void check_labels(const Tensor& labels, const Tensor& logits) {
  const char* op = "cross_entropy";
  check_dim(labels, 1, op, "labels");
  FER_CHECK(labels.size(0) == logits.size(0))
      << op << ": labels " << shape_str(labels.shape()) << " do not match logits " << shape_str(logits.shape());
  FER_CHECK(labels.dtype() == DType::F32) << op << ": labels must be float32, got " << labels.str();
  check_same_device(labels, logits, op);
  check_class_labels(labels, logits.size(1), op, "label", " (logits " + shape_str(logits.shape()) + ")");
}

void check_pair(const Tensor& a, const Tensor& b, const char* op) {
  FER_CHECK(a.defined() && b.defined()) << op << ": undefined input: " << a.str() << " and " << b.str();
  FER_CHECK(a.shape() == b.shape()) << op << ": inputs of different shapes " << shape_str(a.shape()) << " and "
                                    << shape_str(b.shape());
  FER_CHECK(a.numel() > 0) << op << ": empty inputs " << shape_str(a.shape());
  check_same_device(a, b, op);
  check_same_dtype(a, b, op);
}

Tensor scalar_like(const Tensor& x) { return Tensor::empty({1}, x.dtype(), x.device()); }

// The kernels of a pointwise loss, as FER_DISPATCH needs names, not values.
#define FER_POINTWISE_LOSS_OP(op)                                                                      \
  Tensor op##_op(const Tensor& a, const Tensor& b) {                                                   \
    check_pair(a, b, #op);                                                                             \
    Tensor loss = scalar_like(a);                                                                      \
    FER_DISPATCH(a.device(), a.dtype(), op##_forward, a.data<T>(), b.data<T>(), loss.data<T>(), a.numel()); \
    record(loss, #op, {a, b}, [a, b](const Tensor& dloss, const std::vector<bool>& needs) {           \
      Tensor da = needs[0] ? Tensor::empty_like(a) : Tensor();                                         \
      Tensor db = needs[1] ? Tensor::empty_like(b) : Tensor();                                         \
      FER_DISPATCH(a.device(), a.dtype(), op##_backward, a.data<T>(), b.data<T>(), dloss.data<T>(),    \
                   data_or_null<T>(da), data_or_null<T>(db), a.numel());                               \
      return std::vector<Tensor>{da, db};                                                              \
    });                                                                                                \
    return loss;                                                                                       \
  }
FER_POINTWISE_LOSS_OP(bce_with_logits)
FER_POINTWISE_LOSS_OP(l1_loss)
FER_POINTWISE_LOSS_OP(mse_loss)
#undef FER_POINTWISE_LOSS_OP

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  check_dim(logits, 2, "cross_entropy", "logits");
  FER_CHECK(logits.size(0) > 0 && logits.size(1) > 0)
      << "cross_entropy: empty logits " << shape_str(logits.shape());
  check_labels(labels, logits);
  const ClassLossShape shape{logits.size(0), logits.size(1)};
  Tensor loss = scalar_like(logits);
  FER_DISPATCH(logits.device(), logits.dtype(), cross_entropy_forward, logits.data<T>(), labels.data<float>(),
               loss.data<T>(), shape);
  record(loss, "cross_entropy", {logits}, [logits, labels, shape](const Tensor& dloss, const std::vector<bool>&) {
    Tensor dlogits = Tensor::empty_like(logits);
    FER_DISPATCH(logits.device(), logits.dtype(), cross_entropy_backward, logits.data<T>(), labels.data<float>(),
                 dloss.data<T>(), dlogits.data<T>(), shape);
    return std::vector<Tensor>{dlogits};
  });
  return loss;
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& targets) { return bce_with_logits_op(logits, targets); }
Tensor l1_loss(const Tensor& a, const Tensor& b) { return l1_loss_op(a, b); }
Tensor mse_loss(const Tensor& a, const Tensor& b) { return mse_loss_op(a, b); }

}  // namespace fer
