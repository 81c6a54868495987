// `fer bench`: the kernel micro-benchmarks and the training-step benchmarks (docs/benchmarks.md).
//   fer bench kernels [--device cpu|cuda|cuda-sim] [--op NAME] [--json] [--validate-only]
//                     [--time-reference] [--budget-ms MS]
//   fer bench step --stage 1|2 [--batch B] [--device ...] [--steps N] [--warmup N] [--json]
// argv[0] is "bench". Returns the exit status: 0 ok, 1 error or a version that failed its
// validation, 2 usage. An error is printed in words; `debug` (fer --debug) adds the failed C++
// expression and the source line.
#pragma once

namespace fer::bench {

int bench_main(int argc, char** argv, bool debug = false);

}  // namespace fer::bench
