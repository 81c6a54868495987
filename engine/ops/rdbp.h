// The intra-class loss with real data-guided back-propagation (kernels: kernels/rdbp/; the math,
// both modes and the running-center rule are in kernels/rdbp/rdbp.h).
#pragma once
#include "engine/tensor.h"
#include "kernels/rdbp/rdbp.h"

namespace fer {

struct IntraClassOptions {
  RdbpMode mode = RdbpMode::Rdbp;
  double momentum = 0.1;        // running centers: (1 - momentum) old + momentum batch
  bool update_running = true;   // false for evaluation: the buffers stay as they are
};

// real [Nr, D] with real_labels [Nr]; synth [Ns, D] with synth_labels [Ns] (both may be undefined:
// no synthetic terms); labels float32 integer values in [0, K). running_centers [K, D] and
// seen [K] (same dtype/device as real) are updated in place from the real features only.
// Returns the scalar loss [1]; gradients flow to real and synth (never to the buffers).
Tensor intra_class_loss(const Tensor& real, const Tensor& real_labels, const Tensor& synth,
                        const Tensor& synth_labels, Tensor& running_centers, Tensor& seen,
                        const IntraClassOptions& options = {});

}  // namespace fer
