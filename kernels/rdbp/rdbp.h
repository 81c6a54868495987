// The intra-class loss with real data-guided back-propagation (RDBP), docs/design.md "Intra-class
// loss with RDBP".
//
// Inputs: real features f [Nr, D] with labels y [Nr], synthetic features s [Ns, D] with labels
// yhat [Ns] (labels are float arrays of integer class indices in [0, K), on every device), and
// two persistent buffers: running centers [K, D] and a per-class count of real samples seen [K].
//
// Centers c_k (written to `centers` [K, D]; `has_center` [K] is 1 where c_k exists, else 0):
//   rdbp:  the batch mean of the REAL features of class k; where class k has no real sample in the
//          batch, the running center if the class was ever seen; otherwise class k has no center.
//   naive: the batch mean of the real and synthetic features of class k together.
// Terms whose class has no center are skipped. With N the number of remaining terms,
//   loss = 1/(2N) [ sum_i ||f_i - c_{y_i}||^2 + sum_j ||s_j - c_{yhat_j}||^2 ]   (0 when N = 0).
//
// Backward (both modes): grad_f_i = g (f_i - c_{y_i}) / N, grad_s_j = g (s_j - c_{yhat_j}) / N,
// 0 for skipped terms. In rdbp mode this is the RDBP rule: no synthetic term's gradient reaches
// the real features through the centers. In naive mode it is the exact gradient: the path through
// a batch-mean center contributes -(1/N) sum_{x in k} (x - c_k) / n_k = 0 to every member.
// The backward OVERWRITES grad_real and grad_synth (either may be null when not wanted).
//
// Running statistics (forward, when update_running): for each class k with n_k > 0 real samples
// in the batch, running_k = batch real mean if seen_k == 0, else (1 - momentum) running_k +
// momentum * (batch real mean); seen_k += n_k. Synthetic features never touch them.
//
// Memory: every pointer is a device pointer for the device of the call (host for the CPU
// versions); loss and term_count are 1-element buffers, so the CUDA version needs no host sync.
#pragma once
#include <cstdint>

namespace fer {

enum class RdbpMode { Rdbp, Naive };

struct RdbpShape {
  int64_t num_real = 0;     // Nr
  int64_t num_synth = 0;    // Ns
  int64_t dim = 0;          // D
  int64_t num_classes = 0;  // K
  RdbpMode mode = RdbpMode::Rdbp;
  double momentum = 0.1;
  bool update_running = true;
};

// Reference: plain loops, one pass per quantity.
template <typename T>
void rdbp_forward_ref(const RdbpShape& shape, const T* real, const float* real_labels, const T* synth,
                      const float* synth_labels, T* running_centers, T* seen, T* centers,
                      T* has_center, T* loss, T* term_count);
template <typename T>
void rdbp_backward_ref(const RdbpShape& shape, const T* real, const float* real_labels, const T* synth,
                       const float* synth_labels, const T* centers, const T* has_center,
                       const T* term_count, const T* grad_loss, T* grad_real, T* grad_synth);

// Optimized CPU path (float). Forward: the feature columns are split across OpenMP threads; each
// thread owns its columns of the sums, centers and running centers (no atomics) and the loss is a
// reduction. Backward: rows split across threads. Below ~64K elements it runs on one thread.
void rdbp_forward_cpu(const RdbpShape& shape, const float* real, const float* real_labels,
                      const float* synth, const float* synth_labels, float* running_centers,
                      float* seen, float* centers, float* has_center, float* loss, float* term_count);
void rdbp_backward_cpu(const RdbpShape& shape, const float* real, const float* real_labels,
                       const float* synth, const float* synth_labels, const float* centers,
                       const float* has_center, const float* term_count, const float* grad_loss,
                       float* grad_real, float* grad_synth);

}  // namespace fer
