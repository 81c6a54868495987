// Placeholder until the elementwise CUDA kernels land: every entry point throws, so a elementwise op on
// cuda or cuda-sim fails with a clear error instead of falling back to the CPU.
#include "kernels/runtime/cuda_api.h"
#include "kernels/elementwise/elementwise_cuda.h"

namespace fer::FER_CUDA_NS {

void unary_forward_cuda(UnaryOp, UnaryParams, int64_t, const float*, float*) {
  FER_THROW() << "unary_forward: no CUDA kernel yet";
}

void unary_backward_cuda(UnaryOp, UnaryParams, int64_t, const float*, const float*, const float*, float*) {
  FER_THROW() << "unary_backward: no CUDA kernel yet";
}

void binary_forward_cuda(BinaryOp, const StridedShape<2>&, const float*, const float*, float*) {
  FER_THROW() << "binary_forward: no CUDA kernel yet";
}

void binary_backward_cuda(BinaryOp, const StridedShape<2>&, const float*, const float*, const float*, float*, float*) {
  FER_THROW() << "binary_backward: no CUDA kernel yet";
}

void dropout_forward_cuda(int64_t, double, uint64_t, uint64_t, const float*, float*) {
  FER_THROW() << "dropout_forward: no CUDA kernel yet";
}

void dropout_backward_cuda(int64_t, double, uint64_t, uint64_t, const float*, float*) {
  FER_THROW() << "dropout_backward: no CUDA kernel yet";
}

void slice_forward_cuda(const SliceShape&, const float*, float*) {
  FER_THROW() << "slice_forward: no CUDA kernel yet";
}

void slice_backward_cuda(const SliceShape&, const float*, float*) {
  FER_THROW() << "slice_backward: no CUDA kernel yet";
}

void index_select_forward_cuda(int64_t, const int64_t*, int64_t, const float*, float*) {
  FER_THROW() << "index_select_forward: no CUDA kernel yet";
}

void index_select_backward_cuda(int64_t, const int64_t*, int64_t, const float*, float*) {
  FER_THROW() << "index_select_backward: no CUDA kernel yet";
}

}  // namespace fer::FER_CUDA_NS
