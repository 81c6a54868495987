// The CUDA runtime API on the simulator: errors, the device, memory, copies, streams, events.
//
// Device memory is host memory (256-byte aligned, like cudaMalloc's) recorded in a table of
// allocations, so that copies can check their device-side pointers and cudaFree can reject a
// pointer it never returned. The table also counts bytes against a capacity
// (set_device_memory_limit), which makes out-of-memory paths testable. New allocations are filled
// with 0xFF bytes (NaN as float), so that reading memory nobody wrote shows up in results.
// Each allocation is followed by a guard of kGuardBytes of a fixed pattern, checked after every
// launch (overwritten_guard): a kernel that writes past the end of an allocation fails its launch.
// Under AddressSanitizer the guard is left out: ASan's own redzones see reads past the end too.
//
// Everything runs synchronously, so a stream is only a handle, and an event records the host time
// at which it is recorded: all work issued before it has already finished.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>

#include "kernels/sim/internal.h"

namespace fersim {

struct StreamState {
  unsigned flags;
};

struct EventState {
  unsigned flags;
  bool recorded = false;
  std::chrono::steady_clock::time_point time;
};

namespace detail {
namespace {

constinit thread_local cudaError_t last_error = cudaSuccess;

constexpr size_t kAlignment = 256;
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kGuardBytes = 0;
#else
constexpr size_t kGuardBytes = 64;
#endif
constexpr unsigned char kGuardPattern = 0xA5;

std::atomic<int> multiprocessor_count{132};

struct DeviceMemory {
  std::mutex mutex;
  std::map<const char*, size_t> allocations;  // start -> bytes
  std::set<const void*> pinned;               // cudaMallocHost
  size_t used = 0;
  size_t limit = size_t{8} << 30;
};
DeviceMemory& memory() {
  static DeviceMemory instance;
  return instance;
}

// Whether [ptr, ptr + bytes) lies inside one device allocation.
bool is_device_range(const void* ptr, size_t bytes) {
  DeviceMemory& m = memory();
  std::lock_guard lock(m.mutex);
  const char* p = static_cast<const char*>(ptr);
  auto it = m.allocations.upper_bound(p);
  if (it == m.allocations.begin()) return false;
  --it;
  return p >= it->first && bytes <= it->second && p - it->first <= static_cast<ptrdiff_t>(it->second - bytes);
}

// The live streams or events: handles are checked before use, as CUDA checks them.
template <class State>
class HandleTable {
 public:
  State* add(State* state) {
    std::lock_guard lock(mutex_);
    live_.insert(state);
    return state;
  }
  bool contains(const State* state) {
    std::lock_guard lock(mutex_);
    return live_.count(state) != 0;
  }
  // Deletes a live handle; false for one this table does not know.
  bool destroy(State* state) {
    {
      std::lock_guard lock(mutex_);
      if (live_.erase(state) == 0) return false;
    }
    delete state;
    return true;
  }

 private:
  std::mutex mutex_;
  std::set<const State*> live_;
};
HandleTable<StreamState>& streams() {
  static HandleTable<StreamState> instance;
  return instance;
}
HandleTable<EventState>& events() {
  static HandleTable<EventState> instance;
  return instance;
}

bool is_known_event(cudaEvent_t event) { return events().contains(event); }

// Exactly `bytes` (not rounded up), so that AddressSanitizer (the FER_SANITIZE build) reports an
// access one byte past the end.
void* aligned_allocation(size_t bytes) {
  void* block = nullptr;
  return posix_memalign(&block, kAlignment, bytes) == 0 ? block : nullptr;
}

}  // namespace

std::string overwritten_guard() {
  DeviceMemory& m = memory();
  std::lock_guard lock(m.mutex);
  for (const auto& [start, bytes] : m.allocations) {
    auto* guard = reinterpret_cast<unsigned char*>(const_cast<char*>(start)) + bytes;
    size_t written = kGuardBytes;
    while (written > 0 && guard[written - 1] == kGuardPattern) --written;
    if (written == 0) continue;
    std::memset(guard, kGuardPattern, kGuardBytes);  // reported once
    std::ostringstream report;
    report << "a write past the end of device memory: bytes up to " << written << " past the end of the " << bytes
           << "-byte allocation at " << static_cast<const void*>(start) << " were overwritten";
    return report.str();
  }
  return {};
}

cudaError_t record_error(cudaError_t error) {
  if (error != cudaSuccess) last_error = error;
  return error;
}

bool is_known_stream(cudaStream_t stream) { return stream == nullptr || streams().contains(stream); }

}  // namespace detail

using detail::record_error;

// ---- errors ---------------------------------------------------------------------------------------
cudaError_t cudaGetLastError() {
  const cudaError_t error = detail::last_error;
  detail::last_error = cudaSuccess;
  return error;
}

cudaError_t cudaPeekAtLastError() { return detail::last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    case cudaErrorUnknown: return "cudaErrorUnknown";
  }
  return "unrecognized error code";
}

// CUDA's own wording.
const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorUnknown: return "unknown error";
  }
  return "unrecognized error code";
}

// ---- the device -------------------------------------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return record_error(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (!device) return record_error(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : record_error(cudaErrorInvalidDevice); }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop) return record_error(cudaErrorInvalidValue);
  if (device != 0) return record_error(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::strncpy(prop->name, "fersim (simulated NVIDIA H200)", sizeof(prop->name) - 1);
  {
    detail::DeviceMemory& m = detail::memory();
    std::lock_guard lock(m.mutex);
    prop->totalGlobalMem = m.limit;
  }
  prop->sharedMemPerBlock = detail::kSharedMemPerBlock;
  prop->sharedMemPerBlockOptin = detail::kSharedMemPerBlockOptin;
  prop->sharedMemPerMultiprocessor = 228 * 1024;
  prop->regsPerBlock = 65536;
  prop->warpSize = warpSize;
  prop->maxThreadsPerBlock = static_cast<int>(detail::kMaxThreadsPerBlock);
  for (int d = 0; d < 3; ++d) {
    prop->maxThreadsDim[d] = static_cast<int>(detail::kMaxBlockDim[d]);
    prop->maxGridSize[d] = static_cast<int>(detail::kMaxGridDim[d]);
  }
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->multiProcessorCount = detail::multiprocessor_count;
  prop->l2CacheSize = 50 * 1024 * 1024;
  prop->major = 9;
  prop->minor = 0;
  return cudaSuccess;
}

void set_multiprocessor_count(int count) { detail::multiprocessor_count = std::max(count, 1); }

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!value) return record_error(cudaErrorInvalidValue);
  if (device != 0) return record_error(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(detail::kSharedMemPerBlock); return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = detail::multiprocessor_count; return cudaSuccess;
  }
  return record_error(cudaErrorInvalidValue);
}

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

// ---- memory -----------------------------------------------------------------------------------------
void set_device_memory_limit(size_t bytes) {
  detail::DeviceMemory& m = detail::memory();
  std::lock_guard lock(m.mutex);
  m.limit = bytes;
}

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (!ptr) return record_error(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  detail::DeviceMemory& m = detail::memory();
  {
    std::lock_guard lock(m.mutex);
    if (bytes > m.limit - m.used) return record_error(cudaErrorMemoryAllocation);
    m.used += bytes;  // reserved before the (unlocked) allocation, so that racing callers see it
  }
  auto* block = static_cast<unsigned char*>(detail::aligned_allocation(bytes + detail::kGuardBytes));
  if (block) {
    std::memset(block, 0xFF, bytes);
    std::memset(block + bytes, detail::kGuardPattern, detail::kGuardBytes);
  }
  std::lock_guard lock(m.mutex);
  if (!block) {
    m.used -= bytes;
    return record_error(cudaErrorMemoryAllocation);
  }
  m.allocations.emplace(reinterpret_cast<const char*>(block), bytes);
  *ptr = block;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  detail::DeviceMemory& m = detail::memory();
  {
    std::lock_guard lock(m.mutex);
    const auto it = m.allocations.find(static_cast<const char*>(ptr));
    if (it == m.allocations.end()) return record_error(cudaErrorInvalidValue);
    m.used -= it->second;
    m.allocations.erase(it);
  }
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  if (!ptr) return record_error(cudaErrorInvalidValue);
  *ptr = detail::aligned_allocation(bytes == 0 ? 1 : bytes);
  if (!*ptr) return record_error(cudaErrorMemoryAllocation);
  detail::DeviceMemory& m = detail::memory();
  std::lock_guard lock(m.mutex);
  m.pinned.insert(*ptr);
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  if (!ptr) return cudaSuccess;
  detail::DeviceMemory& m = detail::memory();
  {
    std::lock_guard lock(m.mutex);
    if (m.pinned.erase(ptr) == 0) return record_error(cudaErrorInvalidValue);
  }
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (!free_bytes || !total_bytes) return record_error(cudaErrorInvalidValue);
  detail::DeviceMemory& m = detail::memory();
  std::lock_guard lock(m.mutex);
  *total_bytes = m.limit;
  *free_bytes = m.limit > m.used ? m.limit - m.used : 0;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault) return record_error(cudaErrorInvalidMemcpyDirection);
  if (bytes == 0) return cudaSuccess;
  if (!dst || !src) return record_error(cudaErrorInvalidValue);
  const bool device_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool device_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (device_dst && !detail::is_device_range(dst, bytes)) return record_error(cudaErrorInvalidValue);
  if (device_src && !detail::is_device_range(src, bytes)) return record_error(cudaErrorInvalidValue);
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  if (!detail::is_known_stream(stream)) return record_error(cudaErrorInvalidResourceHandle);
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  if (!detail::is_device_range(ptr, bytes)) return record_error(cudaErrorInvalidValue);
  std::memset(ptr, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream) {
  if (!detail::is_known_stream(stream)) return record_error(cudaErrorInvalidResourceHandle);
  return cudaMemset(ptr, value, bytes);
}

// ---- streams ----------------------------------------------------------------------------------------
cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  if (!stream || flags > cudaStreamNonBlocking) return record_error(cudaErrorInvalidValue);
  *stream = detail::streams().add(new StreamState{flags});
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  return detail::streams().destroy(stream) ? cudaSuccess : record_error(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) { return cudaStreamQuery(stream); }

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  return detail::is_known_stream(stream) ? cudaSuccess : record_error(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned /*flags*/) {
  if (!detail::is_known_stream(stream) || !detail::is_known_event(event)) {
    return record_error(cudaErrorInvalidResourceHandle);
  }
  return cudaSuccess;
}

// ---- events -----------------------------------------------------------------------------------------
cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
  if (!event || flags > (cudaEventBlockingSync | cudaEventDisableTiming)) return record_error(cudaErrorInvalidValue);
  *event = detail::events().add(new EventState{flags, false, {}});
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  return detail::events().destroy(event) ? cudaSuccess : record_error(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!detail::is_known_event(event) || !detail::is_known_stream(stream)) {
    return record_error(cudaErrorInvalidResourceHandle);
  }
  event->recorded = true;
  event->time = std::chrono::steady_clock::now();
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) { return cudaEventQuery(event); }

cudaError_t cudaEventQuery(cudaEvent_t event) {
  return detail::is_known_event(event) ? cudaSuccess : record_error(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return record_error(cudaErrorInvalidValue);
  if (!detail::is_known_event(start) || !detail::is_known_event(end)) return record_error(cudaErrorInvalidResourceHandle);
  const bool timed = ((start->flags | end->flags) & cudaEventDisableTiming) == 0;
  if (!start->recorded || !end->recorded || !timed) return record_error(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return cudaSuccess;
}

}  // namespace fersim
