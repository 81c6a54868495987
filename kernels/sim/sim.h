// fersim: CUDA's execution model emulated on the CPU, so that the project's .cu sources compile as
// C++ (with FER_CUDA_SIM defined) and run in CI without a GPU. See docs/simulator.md.
//
// This is the simulator's one public header. Everything lives in namespace ::fersim, never in the
// global namespace: the real libcudart may be linked into the same program. The CUDA backend
// reaches these names through `namespace fer::cudasim { using namespace ::fersim; }`.
//
// What it provides, under CUDA's names and signatures:
//   - runtime API: errors (last-error state), device memory (host memory tracked in a table, with
//     a capacity), copies, memsets, streams, events with timings, device properties, function
//     attributes;
//   - device code: the qualifiers as macros, threadIdx/blockIdx/blockDim/gridDim (thread-local
//     variables the scheduler sets before resuming a CUDA thread), static shared memory through
//     FERSIM_SHARED, dynamic shared memory through dynamic_shared<T>(), __syncthreads, warp
//     shuffles and votes, atomics, fences and math intrinsics;
//   - launch(kernel, grid, block, dynamic_shared_bytes, stream, args...): the <<<...>>> launch;
//   - checks that fail a launch where a GPU would fault or be undefined: misaligned accesses,
//     shared memory over the block's limit, shuffles from lanes outside the group, writes past
//     the end of an allocation (docs/simulator.md).
//
// Execution model: every CUDA thread is a fiber with its own small stack; the threads of a block
// run cooperatively on one OS thread; blocks run one after another on the launching thread, or on
// a pool of OS threads (set_worker_threads). All work is synchronous: a launch or a copy has
// finished when the call returns, whatever the stream.
#pragma once
#include <math.h>  // the C math functions (expf, sqrtf, isnan...) in the global namespace, as in CUDA

#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- qualifiers ---------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
// Static shared memory is declared with FERSIM_SHARED(T, name) (below; FER_STATIC_SHARED in the
// project's .cu files), which the simulator can size and poison per block. A plain `__shared__`
// declaration stops the build here with this name in the error.
#define __shared__ fersim_declare_static_shared_memory_with_FERSIM_SHARED
// (__restrict__ is a GCC/Clang keyword already.)

namespace fersim {

// ---- vector and index types ---------------------------------------------------------------------
struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

struct alignas(8) float2 { float x, y; };
struct float3 { float x, y, z; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(16) double2 { double x, y; };

constexpr float2 make_float2(float x, float y) { return {x, y}; }
constexpr float3 make_float3(float x, float y, float z) { return {x, y, z}; }
constexpr float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
constexpr int2 make_int2(int x, int y) { return {x, y}; }
constexpr int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
constexpr uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
constexpr uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
constexpr double2 make_double2(double x, double y) { return {x, y}; }

// ---- runtime API: types ---------------------------------------------------------------------------
// Numeric values are CUDA's, so that logs read the same on both backends.
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
  cudaErrorUnknown = 999,
};
using cudaError = cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,  // direction inferred from the pointers
};

enum cudaDeviceAttr {
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrMultiProcessorCount = 16,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

constexpr unsigned cudaStreamDefault = 0x0;
constexpr unsigned cudaStreamNonBlocking = 0x1;
constexpr unsigned cudaEventDefault = 0x0;
constexpr unsigned cudaEventBlockingSync = 0x1;
constexpr unsigned cudaEventDisableTiming = 0x2;

struct StreamState;
struct EventState;
using cudaStream_t = StreamState*;  // nullptr is the default stream
using cudaEvent_t = EventState*;

// The fields CUDA code of this project reads; the values describe an H200 (see runtime_api.cpp).
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  size_t sharedMemPerMultiprocessor;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int maxThreadsPerMultiProcessor;
  int multiProcessorCount;
  int l2CacheSize;
  int major;
  int minor;
};

// ---- runtime API: functions -----------------------------------------------------------------------
// Every failing call also sets the calling thread's last error, as CUDA's runtime does.
cudaError_t cudaGetLastError();   // returns and clears the last error
cudaError_t cudaPeekAtLastError();  // returns it without clearing
const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDeviceSynchronize();

cudaError_t cudaMalloc(void** ptr, size_t bytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocHost(void** ptr, size_t bytes);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* ptr, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream = nullptr);

// The typed overloads of CUDA's C++ API, for `cudaMalloc(&float_ptr, n)`.
template <class T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
template <class T>
cudaError_t cudaMallocHost(T** ptr, size_t bytes) {
  return cudaMallocHost(reinterpret_cast<void**>(ptr), bytes);
}

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamQuery(cudaStream_t stream);  // always done: work is synchronous
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);

cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
// Host time between the two records in ms; both events must have been recorded with timing.
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value);
template <class F>
cudaError_t cudaFuncSetAttribute(F* func, cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(func), attr, value);
}

// ---- simulator controls ---------------------------------------------------------------------------
// The order in which the threads of a block run between two barriers (and the lanes of a warp
// between two warp-level operations). Sequential and Reversed are deterministic; Random draws a
// new permutation for every such phase from `seed` (reproducible: the same seed and the same
// sequence of launches give the same orders). Random is the mode that exposes a missing
// __syncthreads: a thread may then run before the threads whose writes it reads.
enum class ThreadOrder { Sequential, Reversed, Random };
void set_thread_order(ThreadOrder order, uint64_t seed = 0);
ThreadOrder thread_order();

// Device capacity: cudaMalloc fails with cudaErrorMemoryAllocation past it (default 8 GiB).
void set_device_memory_limit(size_t bytes);
// OS threads that run the blocks of a grid (default 1: blocks run in order on the launching
// thread, which keeps float atomics deterministic and debugging simple).
void set_worker_threads(int count);
// What went wrong in the calling thread's last launch that failed while it ran (a deadlock, an
// exception, a failed check such as a misaligned access), as printed to stderr; empty if none.
const std::string& last_launch_failure();
// The multiprocessor count the device reports (default 132, an H200's): kernels whose grids are
// sized from it must be right at any count.
void set_multiprocessor_count(int count);

// ---- execution state read by device code ----------------------------------------------------------
// Thread-local: the scheduler of the OS thread that runs a block sets them before resuming a
// CUDA thread. (They are writable here, unlike in CUDA; kernels must not write them.)
extern constinit thread_local uint3 threadIdx;
extern constinit thread_local uint3 blockIdx;
extern constinit thread_local dim3 blockDim;
extern constinit thread_local dim3 gridDim;
constexpr int warpSize = 32;

namespace detail {
extern constinit thread_local void* current_dynamic_shared;

// The calling block's copy of the static shared variable `declaration`: `bytes` of the block's
// static shared memory, filled with 0xFF bytes when the block first reaches the declaration.
void* static_shared(const void* declaration, size_t bytes, size_t alignment);
// Ends the calling CUDA thread and fails its launch with `message` (the thread's position is
// added); called by the simulator's checks inside device code.
[[noreturn]] void fail_kernel_thread(const std::string& message);

enum class WarpOp : uint8_t { Sync, Shuffle, Ballot, Any, All, ActiveMask };
enum class ShuffleMode : uint8_t { Index, Up, Down, Xor };

void sync_block();
// One warp-level collective for the calling lane: blocks until every lane named in `mask` (and
// still running) has arrived, then returns this lane's result. For Shuffle, `value` is the lane's
// 64-bit payload and the result is the source lane's; for votes `value` is the predicate.
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value);
uint64_t warp_shuffle(unsigned mask, uint64_t value, ShuffleMode mode, int operand, int width);

template <class T>
uint64_t to_bits(T value) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "warp shuffle of a type over 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return bits;
}
template <class T>
T from_bits(uint64_t bits) {
  T value;
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

// A type-erased kernel invocation: `invoke(body)` runs the kernel body for the current thread.
struct KernelBody {
  void (*invoke)(const void* body);
  const void* body;
};
void launch_grid(const void* kernel_key, dim3 grid, dim3 block, size_t dynamic_shared_bytes,
                 cudaStream_t stream, KernelBody body);
}  // namespace detail

// ---- launch ---------------------------------------------------------------------------------------
// kernel<<<grid, block, dynamic_shared_bytes, stream>>>(args...): runs the kernel to completion.
// Configuration errors (block over 1024 threads or its dimension limits, grid dimension limits,
// dynamic shared memory over the kernel's limit, unknown stream) do not run anything and are
// reported through the last error, as CUDA does; so is a failure inside the kernel (an exception,
// or a deadlock such as a __syncthreads that some threads never reach) as cudaErrorLaunchFailure.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t dynamic_shared_bytes,
            cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "fersim::launch: wrong number of kernel arguments");
  // Arguments are converted to the parameter types once, like CUDA's by-value parameter buffer.
  struct Body {
    void (*kernel)(Params...);
    std::tuple<std::decay_t<Params>...> params;
  };
  const Body body{kernel, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};
  auto invoke = [](const void* erased) {
    const Body& b = *static_cast<const Body*>(erased);
    std::apply(b.kernel, b.params);
  };
  detail::launch_grid(reinterpret_cast<const void*>(kernel), grid, block, dynamic_shared_bytes, stream,
                      detail::KernelBody{invoke, &body});
}

// The current block's dynamic shared memory (the launch's dynamic_shared_bytes, 16-byte aligned,
// filled with 0xFF bytes at the start of every block).
template <class T>
T* dynamic_shared() {
  return static_cast<T*>(detail::current_dynamic_shared);
}

// The current block's copy of a static shared variable (a GPU's `__shared__ T name;`), keyed by
// the address of a static tag of its declaration. Static and dynamic shared memory together are
// limited as on a GPU: 48 KiB per block, or the kernel's opt-in (227 KiB at most).
template <class T>
T& static_shared(const void* declaration) {
  static_assert(std::is_trivially_default_constructible_v<T>, "shared memory holds no constructed objects");
  return *static_cast<T*>(detail::static_shared(declaration, sizeof(T), alignof(T)));
}
// `FERSIM_SHARED(float[16][17], tile);` declares `tile` as the block's shared array.
#define FERSIM_SHARED(T, name)                                \
  static constexpr char fersim_shared_tag_##name = 0;         \
  std::type_identity_t<T>& name = ::fersim::static_shared<T>(&fersim_shared_tag_##name)

// ---- synchronization ------------------------------------------------------------------------------
inline void __syncthreads() { detail::sync_block(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { detail::warp_collective(detail::WarpOp::Sync, mask, 0); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_signal_fence(std::memory_order_seq_cst); }

// ---- warp shuffles and votes ----------------------------------------------------------------------
template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  using detail::ShuffleMode;
  return detail::from_bits<T>(detail::warp_shuffle(mask, detail::to_bits(var), ShuffleMode::Index, src_lane, width));
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  using detail::ShuffleMode;
  return detail::from_bits<T>(
      detail::warp_shuffle(mask, detail::to_bits(var), ShuffleMode::Up, static_cast<int>(delta), width));
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  using detail::ShuffleMode;
  return detail::from_bits<T>(
      detail::warp_shuffle(mask, detail::to_bits(var), ShuffleMode::Down, static_cast<int>(delta), width));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  using detail::ShuffleMode;
  return detail::from_bits<T>(detail::warp_shuffle(mask, detail::to_bits(var), ShuffleMode::Xor, lane_mask, width));
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return static_cast<unsigned>(detail::warp_collective(detail::WarpOp::Ballot, mask, predicate != 0));
}
inline int __any_sync(unsigned mask, int predicate) {
  return static_cast<int>(detail::warp_collective(detail::WarpOp::Any, mask, predicate != 0));
}
inline int __all_sync(unsigned mask, int predicate) {
  return static_cast<int>(detail::warp_collective(detail::WarpOp::All, mask, predicate != 0));
}
// The lanes of the calling warp that execute this __activemask together: it waits until every
// lane of the warp has exited or is waiting somewhere (here, at a barrier, at a warp operation).
inline unsigned __activemask() {
  return static_cast<unsigned>(detail::warp_collective(detail::WarpOp::ActiveMask, 0, 0));
}

// ---- atomics: real atomics, since blocks may run on several OS threads -----------------------------
namespace detail {
template <class T>
std::atomic_ref<T> atomic_at(T* address) {
  return std::atomic_ref<T>(*address);
}
template <class T, class Better>
T atomic_replace_if(T* address, T value, Better better) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load();
  while (better(value, old) && !ref.compare_exchange_weak(old, value)) {
  }
  return old;
}
}  // namespace detail

inline int atomicAdd(int* a, int v) { return detail::atomic_at(a).fetch_add(v); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return detail::atomic_at(a).fetch_add(v); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
  return detail::atomic_at(a).fetch_add(v);
}
inline float atomicAdd(float* a, float v) { return detail::atomic_at(a).fetch_add(v); }
inline double atomicAdd(double* a, double v) { return detail::atomic_at(a).fetch_add(v); }
inline int atomicSub(int* a, int v) { return detail::atomic_at(a).fetch_sub(v); }
inline unsigned atomicSub(unsigned* a, unsigned v) { return detail::atomic_at(a).fetch_sub(v); }
inline int atomicMax(int* a, int v) { return detail::atomic_replace_if(a, v, [](int x, int y) { return x > y; }); }
inline unsigned atomicMax(unsigned* a, unsigned v) {
  return detail::atomic_replace_if(a, v, [](unsigned x, unsigned y) { return x > y; });
}
inline int atomicMin(int* a, int v) { return detail::atomic_replace_if(a, v, [](int x, int y) { return x < y; }); }
inline unsigned atomicMin(unsigned* a, unsigned v) {
  return detail::atomic_replace_if(a, v, [](unsigned x, unsigned y) { return x < y; });
}
template <class T>
T atomicCAS(T* a, T compare, T value) {
  static_assert(std::is_same_v<T, int> || std::is_same_v<T, unsigned> || std::is_same_v<T, unsigned long long>,
                "atomicCAS exists for int, unsigned and unsigned long long");
  detail::atomic_at(a).compare_exchange_strong(compare, value);
  return compare;  // the old value, whether or not the exchange happened
}
template <class T>
T atomicExch(T* a, T value) {
  static_assert(std::is_same_v<T, int> || std::is_same_v<T, unsigned> || std::is_same_v<T, unsigned long long> ||
                    std::is_same_v<T, float>,
                "atomicExch exists for int, unsigned, unsigned long long and float");
  return detail::atomic_at(a).exchange(value);
}

// ---- loads and math intrinsics (exact here: the GPU's fast approximations differ in the last bits)
template <class T>
T __ldg(const T* address) {
  return *address;
}
// glibc declares __expf, __logf, __powf, __sinf and __cosf in the global namespace (internal
// names it does not even export): functions of those names here would make kernel calls
// ambiguous, so these five are macros (at the end of this file) over these functions.
namespace detail {
inline float exp_intrinsic(float x) { return std::exp(x); }
inline float log_intrinsic(float x) { return std::log(x); }
inline float pow_intrinsic(float x, float y) { return std::pow(x, y); }
inline float sin_intrinsic(float x) { return std::sin(x); }
inline float cos_intrinsic(float x) { return std::cos(x); }
}  // namespace detail
inline float __fdividef(float x, float y) { return x / y; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __fmaf_rn(float x, float y, float z) { return std::fma(x, y, z); }
inline float __fadd_rn(float x, float y) { return x + y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline int __float_as_int(float x) { return std::bit_cast<int>(x); }
inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }
inline int __float2int_rn(float x) { return static_cast<int>(std::nearbyint(x)); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
// CUDA's device min/max accept mixed argument types and return the common type.
template <class A, class B>
constexpr std::common_type_t<A, B> min(A a, B b) {
  using T = std::common_type_t<A, B>;
  return static_cast<T>(b) < static_cast<T>(a) ? static_cast<T>(b) : static_cast<T>(a);
}
template <class A, class B>
constexpr std::common_type_t<A, B> max(A a, B b) {
  using T = std::common_type_t<A, B>;
  return static_cast<T>(a) < static_cast<T>(b) ? static_cast<T>(b) : static_cast<T>(a);
}

}  // namespace fersim

#define __expf(x) ::fersim::detail::exp_intrinsic(x)
#define __logf(x) ::fersim::detail::log_intrinsic(x)
#define __powf(x, y) ::fersim::detail::pow_intrinsic(x, y)
#define __sinf(x) ::fersim::detail::sin_intrinsic(x)
#define __cosf(x) ::fersim::detail::cos_intrinsic(x)
