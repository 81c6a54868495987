// The simulator's runtime API: device memory and its capacity, copy checks, streams, events,
// device properties, error names.
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/sim/test_sim_support.h"

using namespace fersim;
using fersim::test::SimDefaults;

namespace {

__global__ void fill_kernel(int* out, int value) { out[threadIdx.x] = value; }

}  // namespace

TEST_CASE("cudaMalloc: out of memory past the device limit, and cudaMemGetInfo", "[cuda-sim]") {
  SimDefaults defaults;
  size_t free_bytes = 0, total_bytes = 0;
  REQUIRE(cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess);
  const size_t used_before = total_bytes - free_bytes;  // other tests' buffers still alive: none expected
  set_device_memory_limit(used_before + (1 << 20));
  void* a = nullptr;
  void* b = reinterpret_cast<void*>(1);
  REQUIRE(cudaMalloc(&a, 600 * 1024) == cudaSuccess);
  REQUIRE(reinterpret_cast<uintptr_t>(a) % 256 == 0);
  REQUIRE(cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess);
  REQUIRE(total_bytes == used_before + (1 << 20));
  REQUIRE(free_bytes == (1 << 20) - 600 * 1024);
  REQUIRE(cudaMalloc(&b, 600 * 1024) == cudaErrorMemoryAllocation);
  REQUIRE(b == nullptr);
  REQUIRE(cudaGetLastError() == cudaErrorMemoryAllocation);
  REQUIRE(cudaFree(a) == cudaSuccess);
  REQUIRE(cudaMalloc(&b, 600 * 1024) == cudaSuccess);
  REQUIRE(cudaFree(b) == cudaSuccess);
  REQUIRE(cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess);
  REQUIRE(total_bytes - free_bytes == used_before);
}

TEST_CASE("cudaMalloc: new memory holds garbage (0xFF bytes), cudaFree rejects unknown pointers", "[cuda-sim]") {
  SimDefaults defaults;
  float* p = nullptr;
  REQUIRE(cudaMalloc(&p, 16 * sizeof(float)) == cudaSuccess);
  float host[16];
  REQUIRE(cudaMemcpy(host, p, sizeof(host), cudaMemcpyDeviceToHost) == cudaSuccess);
  for (float v : host) REQUIRE(std::isnan(v));
  REQUIRE(cudaFree(p + 1) == cudaErrorInvalidValue);  // inside an allocation, not its start
  int on_host = 0;
  REQUIRE(cudaFree(&on_host) == cudaErrorInvalidValue);
  REQUIRE(cudaFree(p) == cudaSuccess);
  REQUIRE(cudaFree(p) == cudaErrorInvalidValue);  // twice
  REQUIRE(cudaFree(nullptr) == cudaSuccess);
  void* zero = reinterpret_cast<void*>(1);
  REQUIRE(cudaMalloc(&zero, 0) == cudaSuccess);
  REQUIRE(zero == nullptr);
  cudaGetLastError();
}

TEST_CASE("cudaMemcpy and cudaMemset check the device side of each direction", "[cuda-sim]") {
  SimDefaults defaults;
  const size_t n = 64;
  char* device = nullptr;
  REQUIRE(cudaMalloc(&device, n) == cudaSuccess);
  std::vector<char> host(n, 3), back(n, 0);
  REQUIRE(cudaMemcpy(device, host.data(), n, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(back.data(), device, n, cudaMemcpyDeviceToHost) == cudaSuccess);
  REQUIRE(back == host);
  // Pointers swapped or on the wrong side.
  REQUIRE(cudaMemcpy(host.data(), back.data(), n, cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  REQUIRE(cudaMemcpy(back.data(), host.data(), n, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
  REQUIRE(cudaMemcpy(device, host.data(), n, cudaMemcpyDeviceToDevice) == cudaErrorInvalidValue);
  REQUIRE(cudaMemcpy(host.data(), device, n, cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  // Past the end of the allocation; an interior range is fine.
  REQUIRE(cudaMemcpy(device + 8, host.data(), n - 7, cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  REQUIRE(cudaMemcpy(device + 8, host.data(), n - 8, cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(device, device + 32, 32, cudaMemcpyDeviceToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(device, host.data(), n, static_cast<cudaMemcpyKind>(7)) == cudaErrorInvalidMemcpyDirection);
  // cudaMemcpyDefault infers the direction.
  REQUIRE(cudaMemcpy(back.data(), device, n, cudaMemcpyDefault) == cudaSuccess);
  REQUIRE(cudaMemset(device, 0x7f, n) == cudaSuccess);
  REQUIRE(cudaMemset(device + 1, 0, n) == cudaErrorInvalidValue);
  REQUIRE(cudaMemset(host.data(), 0, n) == cudaErrorInvalidValue);
  REQUIRE(cudaMemcpy(back.data(), device, n, cudaMemcpyDeviceToHost) == cudaSuccess);
  REQUIRE(back == std::vector<char>(n, 0x7f));
  REQUIRE(cudaGetLastError() == cudaErrorInvalidValue);
  REQUIRE(cudaFree(device) == cudaSuccess);
}

TEST_CASE("cudaMallocHost: pinned buffers for asynchronous copies", "[cuda-sim]") {
  SimDefaults defaults;
  int* pinned = nullptr;
  int* device = nullptr;
  REQUIRE(cudaMallocHost(&pinned, 32 * sizeof(int)) == cudaSuccess);
  REQUIRE(cudaMalloc(&device, 32 * sizeof(int)) == cudaSuccess);
  cudaStream_t stream = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
  launch(fill_kernel, dim3(1), dim3(32), 0, stream, device, 9);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(pinned, device, 32 * sizeof(int), cudaMemcpyDeviceToHost, stream) == cudaSuccess);
  REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
  for (int i = 0; i < 32; ++i) REQUIRE(pinned[i] == 9);
  REQUIRE(cudaMemsetAsync(device, 0, 32 * sizeof(int), stream) == cudaSuccess);
  REQUIRE(cudaStreamDestroy(stream) == cudaSuccess);
  REQUIRE(cudaFreeHost(device) == cudaErrorInvalidValue);  // not a pinned buffer
  REQUIRE(cudaFree(device) == cudaSuccess);
  REQUIRE(cudaFreeHost(pinned) == cudaSuccess);
  cudaGetLastError();
}

TEST_CASE("streams and events: handles are checked, events time the work between them", "[cuda-sim]") {
  SimDefaults defaults;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr, untimed = nullptr, never = nullptr;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  REQUIRE(cudaEventCreate(&start) == cudaSuccess);
  REQUIRE(cudaEventCreate(&stop) == cudaSuccess);
  REQUIRE(cudaEventCreate(&never) == cudaSuccess);
  REQUIRE(cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming) == cudaSuccess);

  REQUIRE(cudaEventRecord(start, stream) == cudaSuccess);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // stands for work on the stream
  REQUIRE(cudaEventRecord(stop, stream) == cudaSuccess);
  REQUIRE(cudaEventRecord(untimed, stream) == cudaSuccess);
  REQUIRE(cudaEventSynchronize(stop) == cudaSuccess);
  REQUIRE(cudaEventQuery(stop) == cudaSuccess);
  REQUIRE(cudaStreamQuery(stream) == cudaSuccess);
  REQUIRE(cudaStreamWaitEvent(stream, stop, 0) == cudaSuccess);
  float ms = -1;
  REQUIRE(cudaEventElapsedTime(&ms, start, stop) == cudaSuccess);
  REQUIRE(ms >= 19.5f);
  REQUIRE(cudaEventElapsedTime(&ms, start, never) == cudaErrorInvalidResourceHandle);
  REQUIRE(cudaEventElapsedTime(&ms, start, untimed) == cudaErrorInvalidResourceHandle);

  REQUIRE(cudaEventDestroy(never) == cudaSuccess);
  REQUIRE(cudaEventDestroy(never) == cudaErrorInvalidResourceHandle);
  REQUIRE(cudaEventRecord(never, stream) == cudaErrorInvalidResourceHandle);
  REQUIRE(cudaStreamDestroy(stream) == cudaSuccess);
  REQUIRE(cudaStreamSynchronize(stream) == cudaErrorInvalidResourceHandle);
  REQUIRE(cudaStreamDestroy(nullptr) == cudaErrorInvalidResourceHandle);
  REQUIRE(cudaStreamSynchronize(nullptr) == cudaSuccess);  // the default stream always exists
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  for (cudaEvent_t e : {start, stop, untimed}) REQUIRE(cudaEventDestroy(e) == cudaSuccess);
  REQUIRE(cudaGetLastError() == cudaErrorInvalidResourceHandle);
}

TEST_CASE("device: one simulated H200, and CUDA's error names and texts", "[cuda-sim]") {
  SimDefaults defaults;
  int count = 0, device = -1;
  REQUIRE(cudaGetDeviceCount(&count) == cudaSuccess);
  REQUIRE(count == 1);
  REQUIRE(cudaGetDevice(&device) == cudaSuccess);
  REQUIRE(device == 0);
  REQUIRE(cudaSetDevice(0) == cudaSuccess);
  REQUIRE(cudaSetDevice(1) == cudaErrorInvalidDevice);
  cudaDeviceProp prop{};
  REQUIRE(cudaGetDeviceProperties(&prop, 0) == cudaSuccess);
  REQUIRE(std::string(prop.name).find("fersim") != std::string::npos);
  REQUIRE(prop.warpSize == 32);
  REQUIRE(prop.maxThreadsPerBlock == 1024);
  REQUIRE(prop.sharedMemPerBlock == 48 * 1024);
  REQUIRE(prop.sharedMemPerBlockOptin == 227 * 1024);
  REQUIRE(prop.multiProcessorCount == 132);
  int attribute = 0;
  REQUIRE(cudaDeviceGetAttribute(&attribute, cudaDevAttrMultiProcessorCount, 0) == cudaSuccess);
  REQUIRE(attribute == 132);
  REQUIRE(cudaDeviceGetAttribute(&attribute, cudaDevAttrMaxSharedMemoryPerBlock, 0) == cudaSuccess);
  REQUIRE(attribute == 48 * 1024);
  REQUIRE(prop.totalGlobalMem == size_t{8} << 30);
  REQUIRE(prop.major == 9);
  REQUIRE(cudaGetDeviceProperties(&prop, 2) == cudaErrorInvalidDevice);
  REQUIRE(std::string(cudaGetErrorName(cudaErrorMemoryAllocation)) == "cudaErrorMemoryAllocation");
  REQUIRE(std::string(cudaGetErrorString(cudaErrorMemoryAllocation)) == "out of memory");
  REQUIRE(std::string(cudaGetErrorString(cudaErrorInvalidConfiguration)) == "invalid configuration argument");
  REQUIRE(std::string(cudaGetErrorString(cudaSuccess)) == "no error");
  cudaGetLastError();
}

TEST_CASE("device: set_multiprocessor_count sets what the device reports", "[cuda-sim]") {
  SimDefaults defaults;
  set_multiprocessor_count(7);
  int count = 0;
  REQUIRE(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, 0) == cudaSuccess);
  REQUIRE(count == 7);
  cudaDeviceProp prop{};
  REQUIRE(cudaGetDeviceProperties(&prop, 0) == cudaSuccess);
  REQUIRE(prop.multiProcessorCount == 7);
  REQUIRE(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, 1) == cudaErrorInvalidDevice);
  REQUIRE(cudaGetLastError() == cudaErrorInvalidDevice);
}

TEST_CASE("math intrinsics and device min/max", "[cuda-sim]") {
  REQUIRE(__popc(0xf0f0u) == 8);
  REQUIRE(__clz(1) == 31);
  REQUIRE(__clz(0) == 32);
  REQUIRE(__ffs(0) == 0);
  REQUIRE(__ffs(8) == 4);
  REQUIRE(__brev(1u) == 0x80000000u);
  REQUIRE(__float_as_int(1.0f) == 0x3f800000);
  REQUIRE(__int_as_float(0x40000000) == 2.0f);
  REQUIRE(__saturatef(1.5f) == 1.0f);
  REQUIRE(__saturatef(-0.5f) == 0.0f);
  REQUIRE(__saturatef(NAN) == 0.0f);
  REQUIRE(rsqrtf(4.0f) == 0.5f);
  REQUIRE(__fdividef(1.0f, 4.0f) == 0.25f);
  REQUIRE(__fmaf_rn(2.0f, 3.0f, 1.0f) == 7.0f);
  REQUIRE(__expf(0.0f) == 1.0f);
  REQUIRE(__logf(1.0f) == 0.0f);
  REQUIRE(__powf(2.0f, 3.0f) == 8.0f);
  REQUIRE(__sinf(0.0f) == 0.0f);
  REQUIRE(__cosf(0.0f) == 1.0f);
  REQUIRE(fersim::min(3, 2.5f) == 2.5f);
  REQUIRE(fersim::max(-1, 4u) == static_cast<unsigned>(-1));  // the common type, as in CUDA
  const int value = 5;
  REQUIRE(__ldg(&value) == 5);
}
