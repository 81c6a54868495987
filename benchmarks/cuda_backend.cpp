// The two builds of the CUDA benchmark backend (cuda_backend_impl.h): fer::cuda on a GPU when
// the build has nvcc, fer::cudasim on the simulator when the build has it.
#include "benchmarks/backend.h"

#ifdef FER_WITH_CUDA
#define FER_BENCH_NS cuda
#define FER_BENCH_MAKE make_cuda_backend
#define FER_BENCH_DEVICE "cuda"
#define FER_BENCH_VENDOR true
#define FER_BENCH_IMPL cuda
#include "benchmarks/cuda_backend_impl.h"
#undef FER_BENCH_NS
#undef FER_BENCH_MAKE
#undef FER_BENCH_DEVICE
#undef FER_BENCH_VENDOR
#undef FER_BENCH_IMPL
#endif

#ifdef FER_WITH_CUDA_SIM
#define FER_BENCH_NS cudasim
#define FER_BENCH_MAKE make_cudasim_backend
#define FER_BENCH_DEVICE "cuda-sim"
#define FER_BENCH_VENDOR false
#define FER_BENCH_IMPL sim
#include "benchmarks/cuda_backend_impl.h"
#endif
