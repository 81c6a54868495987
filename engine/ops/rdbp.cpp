// intra_class_loss: validation, dispatch to kernels/rdbp/, and the hand-written backward.
#include "engine/ops/rdbp.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "kernels/rdbp/rdbp_cuda.h"

namespace fer {

namespace {

// Labels are checked on the host, as cross_entropy's: a bad label must be named (on the device
// the kernels could only turn it into a NaN loss).
void check_labels(const Tensor& labels, int64_t rows, const Tensor& features, int64_t classes, const char* what) {
  FER_CHECK(labels.dtype() == DType::F32 && labels.dim() == 1 && labels.size(0) == rows)
      << "intra_class_loss: " << what << " labels " << labels.str() << " must be float32 [" << rows
      << "] for features " << shape_str(features.shape());
  check_same_device(labels, features, "intra_class_loss");
  check_class_labels(labels, classes, "intra_class_loss", std::string(what) + " label");
}

// Validates every argument and returns the kernel shape.
RdbpShape rdbp_shape(const Tensor& real, const Tensor& real_labels, const Tensor& synth,
                     const Tensor& synth_labels, const Tensor& running_centers, const Tensor& seen,
                     const IntraClassOptions& options) {
  check_dim(real, 2, "intra_class_loss", "real features");
  check_dim(running_centers, 2, "intra_class_loss", "running_centers");
  RdbpShape s;
  s.num_real = real.size(0);
  s.dim = real.size(1);
  s.num_classes = running_centers.size(0);
  s.mode = options.mode;
  s.momentum = options.momentum;
  s.update_running = options.update_running;
  FER_CHECK(options.momentum > 0 && options.momentum <= 1)
      << "intra_class_loss: momentum " << options.momentum << " must be in (0, 1]";
  check_shape(running_centers, {s.num_classes, s.dim}, "intra_class_loss", "running_centers");
  check_shape(seen, {s.num_classes}, "intra_class_loss", "seen");
  for (const Tensor* t : {&running_centers, &seen}) {
    check_same_device(*t, real, "intra_class_loss");
    check_same_dtype(*t, real, "intra_class_loss");
  }
  check_labels(real_labels, s.num_real, real, s.num_classes, "real");
  FER_CHECK(synth.defined() == synth_labels.defined())
      << "intra_class_loss: synthetic features and labels must be given together";
  if (synth.defined()) {
    check_dim(synth, 2, "intra_class_loss", "synthetic features");
    FER_CHECK(synth.size(1) == s.dim) << "intra_class_loss: synthetic features " << shape_str(synth.shape())
                                      << " and real features " << shape_str(real.shape())
                                      << " differ in feature size";
    check_same_device(synth, real, "intra_class_loss");
    check_same_dtype(synth, real, "intra_class_loss");
    s.num_synth = synth.size(0);
    check_labels(synth_labels, s.num_synth, synth, s.num_classes, "synthetic");
  }
  return s;
}

}  // namespace

Tensor intra_class_loss(const Tensor& real, const Tensor& real_labels, const Tensor& synth_in,
                        const Tensor& synth_labels_in, Tensor& running_centers, Tensor& seen,
                        const IntraClassOptions& options) {
  const RdbpShape s = rdbp_shape(real, real_labels, synth_in, synth_labels_in, running_centers, seen, options);
  // No synthetic terms is the same as zero synthetic rows: the kernels then never read them.
  const Tensor synth = synth_in.defined() ? synth_in : Tensor::empty({0, s.dim}, real.dtype(), real.device());
  const Tensor synth_labels =
      synth_labels_in.defined() ? synth_labels_in : Tensor::empty({0}, DType::F32, real.device());
  const Tensor centers = Tensor::empty({s.num_classes, s.dim}, real.dtype(), real.device());
  const Tensor has_center = Tensor::empty({s.num_classes}, real.dtype(), real.device());
  const Tensor term_count = Tensor::empty({1}, real.dtype(), real.device());
  Tensor loss = Tensor::empty({1}, real.dtype(), real.device());
  FER_DISPATCH(real.device(), real.dtype(), rdbp_forward, s, real.data<T>(), real_labels.data<float>(),
               synth.data<T>(), synth_labels.data<float>(), running_centers.data<T>(), seen.data<T>(),
               centers.data<T>(), has_center.data<T>(), loss.data<T>(), term_count.data<T>());
  const Tensor real_saved = real.detach(), synth_saved = synth.detach();
  record(loss, "intra_class_loss", {real, real_labels, synth_in, synth_labels_in},
         [=](const Tensor& grad_loss, const std::vector<bool>& needs) -> std::vector<Tensor> {
           Tensor grad_real, grad_synth;
           if (needs[0]) grad_real = Tensor::empty_like(real_saved);
           if (needs[2]) grad_synth = Tensor::empty_like(synth_saved);
           FER_DISPATCH(real_saved.device(), real_saved.dtype(), rdbp_backward, s, real_saved.data<T>(),
                        real_labels.data<float>(), synth_saved.data<T>(), synth_labels.data<float>(),
                        centers.data<T>(), has_center.data<T>(), term_count.data<T>(), grad_loss.data<T>(),
                        needs[0] ? grad_real.data<T>() : nullptr, needs[2] ? grad_synth.data<T>() : nullptr);
           return {grad_real, Tensor(), grad_synth, Tensor()};
         });
  return loss;
}

}  // namespace fer
