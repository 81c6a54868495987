// cuDNN batch norm: the vendor version of the norm family (`--kernels vendor`), nvcc build only
// (the simulator does not simulate cuDNN). Contracts: norm.h; chosen in norm.cu.
//
// x is described as NCHW [batch, channels, spatial, 1] in CUDNN_BATCHNORM_SPATIAL mode (per-channel
// statistics over batch and spatial, the same for [N, C] inputs with spatial = 1). cuDNN's
// running variance is the unbiased one and its saved inverse variance is 1/sqrt(var + eps), as
// ours. It needs a scale and a bias, and buffers for both parameter gradients: where ours are
// null, ones / zeros / scratch stand in. eps must be at least CUDNN_BN_MIN_EPSILON (1e-5).
// The backward is cuDNN's training backward; eval-mode backward runs the native kernels
// (norm.cu), since cuDNN has none.
#ifndef FER_CUDA_SIM
#include <vector>

#include "kernels/runtime/cuda_api.h"
#include "kernels/common/cuda_reduce.h"
#include "kernels/norm/norm_variants.h"
#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/vendor.h"

namespace fer::cuda {
namespace {

class TensorDescriptor {
 public:
  TensorDescriptor() { FER_CUDA_CHECK(cudnnCreateTensorDescriptor(&descriptor_)); }
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(descriptor_); }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  operator cudnnTensorDescriptor_t() const { return descriptor_; }

 private:
  cudnnTensorDescriptor_t descriptor_{};
};

constexpr cudnnBatchNormMode_t kMode = CUDNN_BATCHNORM_SPATIAL;

// x's descriptor and the derived per-channel descriptor of scale, bias and statistics.
struct BatchNormDescriptors {
  TensorDescriptor x, channel;
  explicit BatchNormDescriptors(const NormShape& s) {
    FER_CHECK(s.batch <= INT32_MAX && s.channels <= INT32_MAX && s.spatial <= INT32_MAX)
        << "batch_norm (cuDNN): shape [" << s.batch << ", " << s.channels << ", " << s.spatial
        << "] exceeds cuDNN's int dimensions";
    FER_CUDA_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(s.batch),
                                              static_cast<int>(s.channels), static_cast<int>(s.spatial), 1));
    FER_CUDA_CHECK(cudnnDeriveBNTensorDescriptor(channel, x, kMode));
  }
};

// A device buffer of `count` floats equal to `value` (scale or bias where ours is null).
class FilledBuffer : public DeviceBuffer<float> {
 public:
  FilledBuffer(int64_t count, float value) : DeviceBuffer<float>(count) {
    const std::vector<float> host(static_cast<size_t>(count), value);
    copy_host_to_device(get(), host.data(), sizeof(float) * host.size());
  }
};

}  // namespace

void batch_norm_forward_vendor(const float* x, const float* weight, const float* bias, float* running_mean,
                               float* running_var, float* y, float* save_mean, float* save_invstd,
                               const NormShape& shape, const BatchNormConfig& config) {
  FER_CHECK(config.eps >= CUDNN_BN_MIN_EPSILON)
      << "batch_norm (cuDNN): eps " << config.eps << " is below cuDNN's minimum " << CUDNN_BN_MIN_EPSILON
      << " (x [" << shape.batch << ", " << shape.channels << ", " << shape.spatial << "])";
  const BatchNormDescriptors d(shape);
  const FilledBuffer ones(weight ? 0 : shape.channels, 1.0f);
  const FilledBuffer zeros(bias ? 0 : shape.channels, 0.0f);
  const float* scale = weight ? weight : ones.get();
  const float* shift = bias ? bias : zeros.get();
  const float one = 1.0f, zero = 0.0f;
  if (config.training) {
    FER_CUDA_CHECK(cudnnBatchNormalizationForwardTraining(cudnn_handle(), kMode, &one, &zero, d.x, x, d.x, y,
                                                          d.channel, scale, shift, config.momentum, running_mean,
                                                          running_var, config.eps, save_mean, save_invstd));
  } else {
    batch_norm_eval_statistics_cuda(running_mean, running_var, save_mean, save_invstd, shape.channels, config.eps);
    FER_CUDA_CHECK(cudnnBatchNormalizationForwardInference(cudnn_handle(), kMode, &one, &zero, d.x, x, d.x, y,
                                                           d.channel, scale, shift, running_mean, running_var,
                                                           config.eps));
  }
}

void batch_norm_backward_vendor(const float* x, const float* dy, const float* weight, const float* save_mean,
                                const float* save_invstd, float* dx, float* dweight, float* dbias,
                                const NormShape& shape) {
  const BatchNormDescriptors d(shape);
  const FilledBuffer ones(weight ? 0 : shape.channels, 1.0f);
  const DeviceBuffer<float> dweight_scratch(dweight ? 0 : shape.channels);
  const DeviceBuffer<float> dbias_scratch(dbias ? 0 : shape.channels);
  const float one = 1.0f, zero = 0.0f;
  // eps is not used: cuDNN takes the saved mean and inverse standard deviation as they are.
  FER_CUDA_CHECK(cudnnBatchNormalizationBackward(
      cudnn_handle(), kMode, &one, &zero, &one, &zero, d.x, x, d.x, dy, d.x, dx, d.channel,
      weight ? weight : ones.get(), dweight ? dweight : dweight_scratch.get(), dbias ? dbias : dbias_scratch.get(),
      CUDNN_BN_MIN_EPSILON, save_mean, save_invstd));
}

}  // namespace fer::cuda
#endif  // FER_CUDA_SIM
