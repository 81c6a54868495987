// Tensor: an n-dimensional array with autograd support.
//
// Layout: always contiguous, row-major (NCHW for images, OIHW for conv weights, [out, in] for
// linear weights), no strides and no storage offset; reshape shares storage, slicing copies.
// A Tensor is a cheap handle (shared_ptr) to a TensorImpl; copies of the handle alias the data.
// dtype: float32 everywhere; float64 on the CPU only (gradient checks run the reference kernels).
// Threading: a Tensor may be read from several threads; writes need external synchronization.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "kernels/common/error.h"

namespace fer {

using Shape = std::vector<int64_t>;

enum class DType { F32, F64 };
enum class Device { CPU, CUDA, CUDASim };

const char* dtype_name(DType dtype);
const char* device_name(Device device);  // "cpu", "cuda", "cuda-sim"
Device parse_device(const std::string& name);
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& shape);
size_t dtype_size(DType dtype);

// Raw memory on one device. Freed through the device's allocator when the last owner goes.
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  // Storages alive in the process and their bytes (all devices): tests use them to prove that
  // training loops do not leak.
  static int64_t live_count();
  static int64_t live_bytes();
  // The most bytes live at once since the last reset_peak_live_bytes() (all devices): what the
  // tensors of a training step hold at their peak, apart from kernels' scratch and the allocator.
  static int64_t peak_live_bytes();
  static void reset_peak_live_bytes();
  // The host-memory policy of a training process, which the `fer` command sets at start: glibc's
  // mmap threshold fixed at its maximum (32 MiB) and the heap's top never trimmed, so that freed
  // tensors and scratch buffers are reused, not returned to the system and faulted in again at
  // the next step. By default glibc trims and maps anew: a stage-1 step (batch 32) took about
  // 56k page faults, 3-4% of its time in perf; with this policy only the first step's do. The
  // process keeps its peak heap until it exits (the peak itself is unchanged). No-op off glibc.
  static void keep_freed_host_memory();

  // Page-locked host memory from the runtime of `backend` (cuda or cuda-sim): device() is cpu,
  // and Tensor::to_async copies from it to `backend` without waiting. The data loader stages its
  // batches in a few of these and reuses them.
  static std::shared_ptr<Storage> pinned(size_t bytes, Device backend);
  // The backend whose pinned memory this is; Device::CPU for ordinary memory.
  Device pinned_for() const { return pinned_for_; }
  // Blocks until the asynchronous copies started from this storage have run, so that it may be
  // written again; returns at once for ordinary memory. The destructor waits too.
  void wait_for_copies() const;
  // Pinned storages created in the process so far (tests prove that buffers are reused).
  static int64_t pinned_created();
  struct CopyFence;  // tensor.cpp: an event recorded on the backend's stream after each copy

 private:
  struct PinnedTag {};
  Storage(size_t bytes, Device backend, PinnedTag);

  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  Device pinned_for_ = Device::CPU;
  std::unique_ptr<CopyFence> fence_;  // pinned storages only
  friend class Tensor;
};

struct Node;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // undefined tensor: defined() is false

  // Factories. Values are uninitialized for empty().
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
                     Device device = Device::CPU);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                            Device device = Device::CPU);
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape);  // F64, CPU
  static Tensor scalar(double value, DType dtype = DType::F32, Device device = Device::CPU);
  // Same shape/dtype/device as `like`.
  static Tensor empty_like(const Tensor& like);
  static Tensor zeros_like(const Tensor& like);
  // A tensor over the first bytes of an existing storage (shape's bytes <= storage's bytes), e.g.
  // a smaller last batch in a reused pinned buffer.
  static Tensor from_storage(std::shared_ptr<Storage> storage, const Shape& shape,
                             DType dtype = DType::F32);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t axis) const;  // negative axes count from the end
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  std::string str() const;  // "float32[2, 3] on cpu"

  // Typed access to the data; throws when T does not match dtype(). On device tensors the pointer
  // is a device pointer.
  template <typename T>
  T* data() const;
  void* raw_data() const;

  // Copies. to() returns *this when nothing changes.
  Tensor to(Device device) const;
  // Copies a tensor in pinned memory of `device` (Storage::pinned) to `device` and returns at
  // once: the copy is ordered on the backend's stream before any later work, but the source
  // must not be written until its storage's wait_for_copies() returns.
  Tensor to_async(Device device) const;
  Tensor to(DType dtype) const;
  Tensor clone() const;                   // deep copy, no autograd history
  std::vector<float> to_vector() const;   // host copy, converted to float
  std::vector<double> to_vector_f64() const;
  double item() const;                    // single-element tensors only
  void copy_from(const Tensor& src);      // same numel and dtype, any devices; no autograd
  void fill(double value);                // no autograd

  // Autograd.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on = true);  // leaves only
  const Tensor& grad() const;                        // undefined until a backward reaches it
  Tensor& mutable_grad();
  void zero_grad();                                  // drops the gradient
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> node);
  Tensor detach() const;                             // shares storage, no history
  void backward() const;                             // scalar loss; d(self)/d(self) = 1
  void backward(const Tensor& grad_output) const;

  bool same_storage(const Tensor& other) const;
  const TensorImpl* impl() const { return impl_.get(); }

 private:
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<TensorImpl> impl_;
  friend Tensor reshape_view(const Tensor&, const Shape&);
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  DType dtype = DType::F32;
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
};

template <>
float* Tensor::data<float>() const;
template <>
double* Tensor::data<double>() const;

// A tensor with a new shape sharing x's storage, without autograd (ops::reshape adds it).
Tensor reshape_view(const Tensor& x, const Shape& shape);

// Argument checks that name the shapes involved.
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op);
void check_shape(const Tensor& t, const Shape& expected, const char* op, const char* what);
void check_dim(const Tensor& t, int64_t dim, const char* op, const char* what);
// Every entry of labels (any device; copied to the host, labels are few) is an integer class
// index in [0, classes); otherwise names op, the first bad label (called `name`: "label", "real
// label"), its position and `context` (appended as is).
void check_class_labels(const Tensor& labels, int64_t classes, const char* op, const std::string& name = "label",
                        const std::string& context = "");

}  // namespace fer
