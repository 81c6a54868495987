// Tensor, Storage and the device memory hooks. See tensor.h for the layout rules.
#include "engine/tensor.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "engine/autograd.h"
#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/runtime.h"

namespace fer {

const char* dtype_name(DType dtype) { return dtype == DType::F32 ? "float32" : "float64"; }

size_t dtype_size(DType dtype) { return dtype == DType::F32 ? 4 : 8; }

const char* device_name(Device device) {
  switch (device) {
    case Device::CPU: return "cpu";
    case Device::CUDA: return "cuda";
    case Device::CUDASim: return "cuda-sim";
  }
  return "?";
}

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda") return Device::CUDA;
  if (name == "cuda-sim") return Device::CUDASim;
  FER_THROW() << "unknown device '" << name << "' (known: cpu, cuda, cuda-sim)";
}

std::string shape_str(const Shape& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    FER_CHECK(d >= 0) << "negative dimension in shape " << shape_str(shape);
    n *= d;
  }
  return n;
}

// ---- device memory hooks -------------------------------------------------------------------

namespace {

[[noreturn]] void missing_backend(Device device) {
  FER_THROW() << "this build of fer has no " << device_name(device)
              << " backend (configure with FER_WITH_CUDA / FER_WITH_CUDA_SIM)";
}

// Calls fer::cuda::fn or fer::cudasim::fn for a device tensor.
#ifdef FER_WITH_CUDA
#define FER_CUDA_MEM_(fn, ...) ::fer::cuda::fn(__VA_ARGS__)
#else
#define FER_CUDA_MEM_(fn, ...) missing_backend(Device::CUDA)
#endif
#ifdef FER_WITH_CUDA_SIM
#define FER_SIM_MEM_(fn, ...) ::fer::cudasim::fn(__VA_ARGS__)
#else
#define FER_SIM_MEM_(fn, ...) missing_backend(Device::CUDASim)
#endif
#define FER_DEVICE_MEM(device, fn, ...) \
  do {                                  \
    if ((device) == Device::CUDA) {     \
      FER_CUDA_MEM_(fn, __VA_ARGS__);   \
    } else {                            \
      FER_SIM_MEM_(fn, __VA_ARGS__);    \
    }                                   \
  } while (0)

void* alloc_bytes(size_t bytes, Device device) {
  if (device == Device::CPU) {
    // 64-byte alignment: cache lines and AVX-512 loads.
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    FER_CHECK(p != nullptr) << "out of host memory allocating " << bytes << " bytes";
    return p;
  }
#ifdef FER_WITH_CUDA
  if (device == Device::CUDA) return ::fer::cuda::device_alloc(bytes);
#endif
#ifdef FER_WITH_CUDA_SIM
  if (device == Device::CUDASim) return ::fer::cudasim::device_alloc(bytes);
#endif
  missing_backend(device);
}

void free_bytes(void* p, Device device) {
  if (device == Device::CPU) {
    std::free(p);
  } else {
    FER_DEVICE_MEM(device, device_free, p);
  }
}

// Copies between any two devices; cuda <-> cuda-sim is not a pair that exists in one process.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device == Device::CPU && src_device == Device::CPU) {
    std::memcpy(dst, src, bytes);
  } else if (src_device == Device::CPU) {
    FER_DEVICE_MEM(dst_device, copy_host_to_device, dst, src, bytes);
  } else if (dst_device == Device::CPU) {
    FER_DEVICE_MEM(src_device, copy_device_to_host, dst, src, bytes);
  } else {
    FER_CHECK(dst_device == src_device) << "cannot copy between " << device_name(src_device)
                                        << " and " << device_name(dst_device);
    FER_DEVICE_MEM(dst_device, copy_device_to_device, dst, src, bytes);
  }
}

}  // namespace

// Marks, on the backend's one stream, how far the copies from a pinned storage have come.
struct Storage::CopyFence {
  virtual ~CopyFence() = default;
  virtual void record() = 0;
  virtual void wait() const = 0;
};

namespace {

template <class Event>  // fer::cuda::DeviceEvent or fer::cudasim::DeviceEvent
struct EventFence final : Storage::CopyFence {
  Event event;
  void record() override { event.record(); }
  void wait() const override { event.synchronize(); }
};

std::unique_ptr<Storage::CopyFence> make_copy_fence(Device backend) {
#ifdef FER_WITH_CUDA
  if (backend == Device::CUDA) return std::make_unique<EventFence<::fer::cuda::DeviceEvent>>();
#endif
#ifdef FER_WITH_CUDA_SIM
  if (backend == Device::CUDASim) return std::make_unique<EventFence<::fer::cudasim::DeviceEvent>>();
#endif
  missing_backend(backend);
}

void* pinned_alloc_bytes([[maybe_unused]] size_t bytes, Device backend) {
#ifdef FER_WITH_CUDA
  if (backend == Device::CUDA) return ::fer::cuda::pinned_host_alloc(bytes);
#endif
#ifdef FER_WITH_CUDA_SIM
  if (backend == Device::CUDASim) return ::fer::cudasim::pinned_host_alloc(bytes);
#endif
  missing_backend(backend);
}

std::atomic<int64_t> g_live_storages{0};
std::atomic<int64_t> g_live_storage_bytes{0};
std::atomic<int64_t> g_peak_live_storage_bytes{0};
std::atomic<int64_t> g_pinned_storages_created{0};

// Counts a new storage's bytes as live and raises the peak if they set one.
void count_live(size_t bytes) {
  ++g_live_storages;
  const int64_t live = g_live_storage_bytes += static_cast<int64_t>(bytes);
  int64_t peak = g_peak_live_storage_bytes.load();
  while (live > peak && !g_peak_live_storage_bytes.compare_exchange_weak(peak, live)) {
  }
}

}  // namespace

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  data_ = alloc_bytes(bytes, device);
  count_live(bytes);
}

Storage::Storage(size_t bytes, Device backend, PinnedTag)
    : bytes_(bytes), device_(Device::CPU), pinned_for_(backend) {
  fence_ = make_copy_fence(backend);  // first: an event failing leaves no buffer behind
  data_ = pinned_alloc_bytes(bytes, backend);
  count_live(bytes);
  ++g_pinned_storages_created;
}

std::shared_ptr<Storage> Storage::pinned(size_t bytes, Device backend) {
  FER_CHECK(backend != Device::CPU) << "Storage::pinned: pinned memory belongs to a cuda or cuda-sim "
                                    << "backend, got cpu (" << bytes << " bytes)";
  return std::shared_ptr<Storage>(new Storage(bytes, backend, PinnedTag{}));
}

int64_t Storage::live_count() { return g_live_storages.load(); }
int64_t Storage::live_bytes() { return g_live_storage_bytes.load(); }
int64_t Storage::pinned_created() { return g_pinned_storages_created.load(); }
int64_t Storage::peak_live_bytes() { return g_peak_live_storage_bytes.load(); }
void Storage::reset_peak_live_bytes() { g_peak_live_storage_bytes = g_live_storage_bytes.load(); }

void Storage::keep_freed_host_memory() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
#endif
}

void Storage::wait_for_copies() const {
  if (fence_) fence_->wait();
}

Storage::~Storage() {
  --g_live_storages;
  g_live_storage_bytes -= static_cast<int64_t>(bytes_);
  // A destructor must not throw; a failing device free at teardown is not recoverable anyway.
  try {
    if (pinned_for_ == Device::CPU) {
      free_bytes(data_, device_);
    } else {
      wait_for_copies();  // the stream may still be reading this buffer
      FER_DEVICE_MEM(pinned_for_, pinned_host_free, data_);
    }
  } catch (...) {
  }
}

// ---- factories ----------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  FER_CHECK(dtype == DType::F32 || device == Device::CPU)
      << "float64 tensors exist on the cpu only, asked for " << shape_str(shape) << " on "
      << device_name(device);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape_numel(shape) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device == Device::CPU) {
    std::memset(t.raw_data(), 0, t.nbytes());
  } else {
    FER_DEVICE_MEM(device, device_memset_zero, t.raw_data(), t.nbytes());
  }
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill(value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Device device) {
  FER_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape))
      << values.size() << " values do not fill shape " << shape_str(shape);
  Tensor t = empty(shape, DType::F32, device);
  copy_bytes(t.raw_data(), device, values.data(), Device::CPU, t.nbytes());
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape) {
  FER_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape))
      << values.size() << " values do not fill shape " << shape_str(shape);
  Tensor t = empty(shape, DType::F64, Device::CPU);
  // Through copy_bytes, which skips empty copies: an empty vector's data() may be null, and
  // memcpy from null is undefined even for 0 bytes (UBSan's nonnull-attribute check).
  copy_bytes(t.raw_data(), Device::CPU, values.data(), Device::CPU, t.nbytes());
  return t;
}

Tensor Tensor::scalar(double value, DType dtype, Device device) {
  return full({1}, value, dtype, device);
}

Tensor Tensor::empty_like(const Tensor& like) { return empty(like.shape(), like.dtype(), like.device()); }

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype) {
  FER_CHECK(storage != nullptr) << "Tensor::from_storage: null storage for shape " << shape_str(shape);
  FER_CHECK(shape_numel(shape) * dtype_size(dtype) <= storage->bytes())
      << "Tensor::from_storage: " << dtype_name(dtype) << shape_str(shape) << " needs "
      << shape_numel(shape) * dtype_size(dtype) << " bytes, the storage has " << storage->bytes();
  FER_CHECK(dtype == DType::F32 || storage->device() == Device::CPU)
      << "Tensor::from_storage: float64 tensors exist on the cpu only, asked for " << shape_str(shape)
      << " on " << device_name(storage->device());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros_like(const Tensor& like) { return zeros(like.shape(), like.dtype(), like.device()); }

// ---- accessors ----------------------------------------------------------------------------

const Shape& Tensor::shape() const {
  FER_CHECK(defined()) << "use of an undefined tensor";
  return impl_->shape;
}

int64_t Tensor::size(int64_t axis) const {
  const int64_t d = dim();
  FER_CHECK(axis >= -d && axis < d) << "axis " << axis << " out of range for shape " << shape_str(shape());
  return shape()[static_cast<size_t>(axis < 0 ? axis + d : axis)];
}

int64_t Tensor::numel() const { return shape_numel(shape()); }
DType Tensor::dtype() const { return impl_->dtype; }
Device Tensor::device() const { return impl_->storage->device(); }

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " on " + device_name(device());
}

void* Tensor::raw_data() const {
  FER_CHECK(defined()) << "use of an undefined tensor";
  return impl_->storage->data();
}

template <>
float* Tensor::data<float>() const {
  FER_CHECK(dtype() == DType::F32) << "asked for float32 data of a " << str();
  return static_cast<float*>(raw_data());
}

template <>
double* Tensor::data<double>() const {
  FER_CHECK(dtype() == DType::F64) << "asked for float64 data of a " << str();
  return static_cast<double*>(raw_data());
}

// ---- copies -------------------------------------------------------------------------------

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor t = empty(shape(), dtype(), device);
  copy_bytes(t.raw_data(), device, raw_data(), this->device(), nbytes());
  return t;
}

Tensor Tensor::to_async(Device device) const {
  Storage& source = *impl_->storage;
  FER_CHECK(device != Device::CPU && source.pinned_for() == device)
      << "to_async: " << str() << " is not in pinned memory of " << device_name(device)
      << " (pinned for " << (source.pinned_for() == Device::CPU ? "no device" : device_name(source.pinned_for()))
      << "); use to()";
  Tensor t = empty(shape(), dtype(), device);
  if (nbytes() > 0) FER_DEVICE_MEM(device, copy_pinned_host_to_device_async, t.raw_data(), raw_data(), nbytes());
  source.fence_->record();
  return t;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  FER_CHECK(device() == Device::CPU) << "dtype conversion is done on the cpu, got " << str();
  Tensor t = empty(shape(), target, Device::CPU);
  const int64_t n = numel();
  if (target == DType::F64) {
    for (int64_t i = 0; i < n; ++i) t.data<double>()[i] = data<float>()[i];
  } else {
    for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = static_cast<float>(data<double>()[i]);
  }
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), dtype(), device());
  copy_bytes(t.raw_data(), device(), raw_data(), device(), nbytes());
  return t;
}

std::vector<float> Tensor::to_vector() const {
  Tensor host = to(Device::CPU).to(DType::F32);
  return std::vector<float>(host.data<float>(), host.data<float>() + numel());
}

std::vector<double> Tensor::to_vector_f64() const {
  Tensor host = to(Device::CPU).to(DType::F64);
  return std::vector<double>(host.data<double>(), host.data<double>() + numel());
}

double Tensor::item() const {
  FER_CHECK(numel() == 1) << "item() needs a single-element tensor, got " << str();
  return to_vector_f64()[0];
}

void Tensor::copy_from(const Tensor& src) {
  FER_CHECK(src.numel() == numel() && src.dtype() == dtype())
      << "copy_from: cannot copy a " << src.str() << " into a " << str();
  copy_bytes(raw_data(), device(), src.raw_data(), src.device(), nbytes());
}

void Tensor::fill(double value) {
  Tensor host = device() == Device::CPU ? *this : empty(shape(), dtype(), Device::CPU);
  const int64_t n = numel();
  if (dtype() == DType::F64) {
    for (int64_t i = 0; i < n; ++i) host.data<double>()[i] = value;
  } else {
    for (int64_t i = 0; i < n; ++i) host.data<float>()[i] = static_cast<float>(value);
  }
  if (device() != Device::CPU) copy_from(host);
}

bool Tensor::same_storage(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

// ---- autograd -----------------------------------------------------------------------------

bool Tensor::requires_grad() const { return defined() && (impl_->requires_grad || impl_->grad_fn); }

Tensor& Tensor::set_requires_grad(bool on) {
  FER_CHECK(!impl_->grad_fn) << "set_requires_grad on a non-leaf tensor " << str()
                             << " (produced by " << impl_->grad_fn->name << ")";
  impl_->requires_grad = on;
  return *this;
}

const Tensor& Tensor::grad() const { return impl_->grad; }
Tensor& Tensor::mutable_grad() { return impl_->grad; }
void Tensor::zero_grad() { impl_->grad = Tensor(); }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return impl_->grad_fn; }
void Tensor::set_grad_fn(std::shared_ptr<Node> node) { impl_->grad_fn = std::move(node); }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

void Tensor::backward() const {
  FER_CHECK(numel() == 1) << "backward() without a gradient needs a scalar, got " << str();
  run_backward(*this, full(shape(), 1.0, dtype(), device()));
}

void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

Tensor reshape_view(const Tensor& x, const Shape& shape) {
  FER_CHECK(shape_numel(shape) == x.numel())
      << "cannot reshape " << x.str() << " to " << shape_str(shape);
  Tensor t = x.detach();
  t.impl_->shape = shape;
  return t;
}

// ---- checks -------------------------------------------------------------------------------

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  FER_CHECK(a.device() == b.device()) << op << ": tensors on different devices: " << a.str()
                                      << " and " << b.str();
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  FER_CHECK(a.dtype() == b.dtype()) << op << ": tensors of different dtypes: " << a.str()
                                    << " and " << b.str();
}

void check_shape(const Tensor& t, const Shape& expected, const char* op, const char* what) {
  FER_CHECK(t.defined()) << op << ": " << what << " is undefined, expected shape " << shape_str(expected);
  FER_CHECK(t.shape() == expected) << op << ": " << what << " has shape " << shape_str(t.shape())
                                   << ", expected " << shape_str(expected);
}

void check_dim(const Tensor& t, int64_t dim, const char* op, const char* what) {
  FER_CHECK(t.defined()) << op << ": " << what << " is undefined";
  FER_CHECK(t.dim() == dim) << op << ": " << what << " must have " << dim << " dimensions, got "
                            << shape_str(t.shape());
}

void check_class_labels(const Tensor& labels, int64_t classes, const char* op, const std::string& name,
                        const std::string& context) {
  const std::vector<double> values = labels.to_vector_f64();
  for (size_t i = 0; i < values.size(); ++i) {
    const double label = values[i];
    FER_CHECK(std::isfinite(label) && label == std::floor(label) && label >= 0 && label < static_cast<double>(classes))
        << op << ": " << name << " " << label << " at position " << i << " is not a class index in [0, "
        << classes << ")" << context;
  }
}

}  // namespace fer
