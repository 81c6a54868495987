// Host-side services of the CUDA backend for plain C++ callers (benchmarks, `fer info`, the data
// loader), declared for both builds: events on the backend's stream, a GpuTimer, and a summary of
// the device. The CUDA types stay inside the .cu files (kernels/runtime/runtime.cu).
#pragma once
#include <memory>
#include <string>

#define FER_DECLARE_RUNTIME_API                                                                 \
  /* One line about the device: name, compute capability, SMs, memory (for `fer info`). */      \
  std::string device_summary();                                                                 \
                                                                                                \
  /* A CUDA event recorded on the backend's stream: marks how far the stream has come, e.g. */  \
  /* so that the data loader refills a pinned buffer only after its copy ran. */                \
  class DeviceEvent {                                                                           \
   public:                                                                                      \
    DeviceEvent();                                                                              \
    ~DeviceEvent();                                                                             \
    DeviceEvent(const DeviceEvent&) = delete;                                                   \
    DeviceEvent& operator=(const DeviceEvent&) = delete;                                        \
    void record();                                                                              \
    void synchronize() const;                                                                   \
    /* Milliseconds from `earlier` to this event; both recorded and this one completed. */      \
    double elapsed_ms_since(const DeviceEvent& earlier) const;                                  \
                                                                                                \
   private:                                                                                     \
    struct Handle;                                                                              \
    std::unique_ptr<Handle> handle_;                                                            \
  };                                                                                            \
                                                                                                \
  /* Device time between start() and stop(), measured with events (benchmarks). */             \
  class GpuTimer {                                                                              \
   public:                                                                                      \
    void start() { start_.record(); }                                                           \
    void stop() { stop_.record(); }                                                             \
    /* Waits for stop() to be reached on the stream. */                                         \
    double elapsed_ms() const {                                                                 \
      stop_.synchronize();                                                                      \
      return stop_.elapsed_ms_since(start_);                                                    \
    }                                                                                           \
                                                                                                \
   private:                                                                                     \
    DeviceEvent start_, stop_;                                                                  \
  };

namespace fer::cuda {
FER_DECLARE_RUNTIME_API
}
namespace fer::cudasim {
FER_DECLARE_RUNTIME_API
}
#undef FER_DECLARE_RUNTIME_API
