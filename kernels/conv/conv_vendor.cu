// cuDNN convolution: the vendor version of the conv family (`--kernels vendor`), nvcc build only
// (the simulator does not simulate cuDNN). Contracts: conv.h; chosen in conv.cu, which adds the
// bias and sums dbias with its own kernels (so only the convolutions themselves are compared).
//
// Descriptors: x NCHW [N, C, H, W], y [N, K, OH, OW], filter OIHW [K, C, R, S], cross-correlation,
// FP32 FMA math (use_fp32_math: no TF32). The algorithm of each (direction, shape) is chosen once
// by cudnnFind*Algorithm (it times every algorithm on the device) and cached: the fastest one that
// is deterministic and uses FMA math, so that results repeat bit for bit like ours. One workspace,
// grown to the largest request and kept for the process (ordered on the backend's one stream, so
// reusing it from call to call is safe).
#ifndef FER_CUDA_SIM
#include <array>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "kernels/runtime/cuda_api.h"
#include "kernels/conv/conv_cuda.h"
#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/vendor.h"

namespace fer::cuda {
namespace {

template <typename Handle, cudnnStatus_t (*Create)(Handle*), cudnnStatus_t (*Destroy)(Handle)>
class Descriptor {
 public:
  Descriptor() { FER_CUDA_CHECK(Create(&handle_)); }
  ~Descriptor() { Destroy(handle_); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  operator Handle() const { return handle_; }

 private:
  Handle handle_{};
};
using TensorDescriptor = Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDescriptor = Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvolutionDescriptor =
    Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;

std::string shape_text(const ConvShape& s) {
  return "x [" + std::to_string(s.N) + ", " + std::to_string(s.C) + ", " + std::to_string(s.H) + ", " +
         std::to_string(s.W) + "], weight [" + std::to_string(s.K) + ", " + std::to_string(s.C) + ", " +
         std::to_string(s.R) + ", " + std::to_string(s.S) + "], stride " + std::to_string(s.stride) + ", pad " +
         std::to_string(s.pad);
}

struct ConvDescriptors {
  TensorDescriptor x, y;
  FilterDescriptor w;
  ConvolutionDescriptor conv;
  explicit ConvDescriptors(const ConvShape& s) {
    const auto i = [](int64_t v) { return static_cast<int>(v); };  // conv.cu checked the sizes
    FER_CUDA_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(s.N), i(s.C), i(s.H), i(s.W)));
    FER_CUDA_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(s.N), i(s.K), i(s.OH), i(s.OW)));
    FER_CUDA_CHECK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, i(s.K), i(s.C), i(s.R), i(s.S)));
    FER_CUDA_CHECK(cudnnSetConvolution2dDescriptor(conv, i(s.pad), i(s.pad), i(s.stride), i(s.stride), 1, 1,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    use_fp32_math(conv);
  }
};

enum class Direction { Forward, BackwardData, BackwardFilter };
const char* direction_name(Direction d) {
  return d == Direction::Forward ? "forward" : d == Direction::BackwardData ? "backward-data" : "backward-filter";
}

struct Algorithm {
  int algo;
  size_t workspace_bytes;
};

// The first (fastest) result that ran, is deterministic and uses FP32 FMA math.
template <typename Perf>
Algorithm first_usable(const Perf* results, int count, Direction direction, const ConvShape& s) {
  for (int i = 0; i < count; ++i) {
    const Perf& r = results[i];
    if (r.status == CUDNN_STATUS_SUCCESS && r.determinism == CUDNN_DETERMINISTIC && r.mathType == CUDNN_FMA_MATH)
      return {static_cast<int>(r.algo), r.memory};
  }
  FER_THROW() << "conv2d " << direction_name(direction) << " (cuDNN): no deterministic FP32 algorithm among "
              << count << " for " << shape_text(s);
}

Algorithm find_algorithm(Direction direction, const ConvShape& s, const ConvDescriptors& d) {
  constexpr int kMaxResults = 16;
  int count = 0;
  switch (direction) {
    case Direction::Forward: {
      cudnnConvolutionFwdAlgoPerf_t results[kMaxResults];
      FER_CUDA_CHECK(cudnnFindConvolutionForwardAlgorithm(cudnn_handle(), d.x, d.w, d.conv, d.y, kMaxResults, &count,
                                                          results));
      return first_usable(results, count, direction, s);
    }
    case Direction::BackwardData: {
      cudnnConvolutionBwdDataAlgoPerf_t results[kMaxResults];
      FER_CUDA_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(cudnn_handle(), d.w, d.y, d.conv, d.x, kMaxResults,
                                                               &count, results));
      return first_usable(results, count, direction, s);
    }
    case Direction::BackwardFilter: {
      cudnnConvolutionBwdFilterAlgoPerf_t results[kMaxResults];
      FER_CUDA_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(cudnn_handle(), d.x, d.y, d.conv, d.w, kMaxResults,
                                                                 &count, results));
      return first_usable(results, count, direction, s);
    }
  }
  FER_THROW() << "conv2d (cuDNN): unknown direction";
}

// The cached algorithm of (direction, shape), and a workspace of at least its size.
struct Plan {
  Algorithm algorithm;
  void* workspace;
};

Plan plan_for(Direction direction, const ConvShape& s, const ConvDescriptors& d) {
  using Key = std::pair<Direction, std::array<int64_t, 9>>;
  static std::mutex mutex;
  static std::map<Key, Algorithm> algorithms;
  static void* workspace = nullptr;  // kept for the process: freeing it at exit could outlive the allocator
  static size_t workspace_bytes = 0;
  const std::lock_guard<std::mutex> lock(mutex);
  const Key key{direction, {s.N, s.C, s.H, s.W, s.K, s.R, s.S, s.stride, s.pad}};
  auto found = algorithms.find(key);
  if (found == algorithms.end()) found = algorithms.emplace(key, find_algorithm(direction, s, d)).first;
  const Algorithm algorithm = found->second;
  if (algorithm.workspace_bytes > workspace_bytes) {
    if (workspace) device_free(workspace);
    workspace = device_alloc(algorithm.workspace_bytes);
    workspace_bytes = algorithm.workspace_bytes;
  }
  return {algorithm, workspace};
}

constexpr float kOne = 1.0f, kZero = 0.0f;

}  // namespace

void conv2d_forward_vendor(const ConvShape& s, const float* x, const float* weight, float* y) {
  const ConvDescriptors d(s);
  const Plan p = plan_for(Direction::Forward, s, d);
  FER_CUDA_CHECK(cudnnConvolutionForward(cudnn_handle(), &kOne, d.x, x, d.w, weight, d.conv,
                                         static_cast<cudnnConvolutionFwdAlgo_t>(p.algorithm.algo), p.workspace,
                                         p.algorithm.workspace_bytes, &kZero, d.y, y));
}

void conv2d_backward_data_vendor(const ConvShape& s, const float* dy, const float* weight, float* dx) {
  const ConvDescriptors d(s);
  const Plan p = plan_for(Direction::BackwardData, s, d);
  FER_CUDA_CHECK(cudnnConvolutionBackwardData(cudnn_handle(), &kOne, d.w, weight, d.y, dy, d.conv,
                                              static_cast<cudnnConvolutionBwdDataAlgo_t>(p.algorithm.algo),
                                              p.workspace, p.algorithm.workspace_bytes, &kZero, d.x, dx));
}

void conv2d_backward_filter_vendor(const ConvShape& s, const float* x, const float* dy, float* dweight) {
  const ConvDescriptors d(s);
  const Plan p = plan_for(Direction::BackwardFilter, s, d);
  FER_CUDA_CHECK(cudnnConvolutionBackwardFilter(cudnn_handle(), &kOne, d.x, x, d.y, dy, d.conv,
                                                static_cast<cudnnConvolutionBwdFilterAlgo_t>(p.algorithm.algo),
                                                p.workspace, p.algorithm.workspace_bytes, &kZero, d.w, dweight));
}

}  // namespace fer::cuda
#endif  // FER_CUDA_SIM
