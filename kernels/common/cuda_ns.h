// The CUDA backend is compiled twice from the same .cu sources:
//   - by nvcc for a real GPU, into namespace fer::cuda        (device "cuda");
//   - by the host compiler against kernels/sim/, into fer::cudasim (device "cuda-sim").
// Every .cu file wraps its host functions in `namespace fer::FER_CUDA_NS { ... }` so that both
// builds link into one program without clashing. The engine calls them through FER_DISPATCH.
// Each family's <family>_cuda.h declares them for both namespaces by including its
// <family>_cuda.inc (plain declarations with their comments) once inside each.
#pragma once

#ifdef FER_CUDA_SIM
#define FER_CUDA_NS cudasim
#else
#define FER_CUDA_NS cuda
#endif
