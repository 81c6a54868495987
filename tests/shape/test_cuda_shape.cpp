// slice, concat, index_select, sum and mean on cuda-sim (and cuda): forward and backward against
// the cpu path, for each kernel variant. The row copies live in kernels/elementwise/elementwise.cu
// (exact: tolerance 0; shapes mix rows that allow float4 copies with odd ones that do not); the
// sums in kernels/reduce/reduce.cu, where the cases cover every path of v2: summed axes inside
// (one slice and several slices per output, the full sum), the innermost axis kept (one thread
// per output), and outputs with fewer terms than a block has threads.
#include "engine/ops/shape.h"
#include "kernels/elementwise/elementwise_cuda.h"
#include "kernels/reduce/reduce_cuda.h"
#include "tests/support/device_vs_cpu.h"
#include "tests/support/devices.h"

using namespace fer;
using fer::test::random_tensor;

namespace {

enum class Family { Elementwise, Reduce };

void set_variant(Device device, Family family, int variant) {
  if (family == Family::Elementwise)
    FER_CALL_ON(device, set_elementwise_variant, variant);
  else
    FER_CALL_ON(device, set_reduce_variant, variant);
}

// Selects a family's kernel variant for one scope, then restores the default (2).
struct VariantScope {
  Device device;
  Family family;
  VariantScope(Device d, Family f, int variant) : device(d), family(f) { set_variant(d, f, variant); }
  ~VariantScope() { set_variant(device, family, 2); }
  VariantScope(const VariantScope&) = delete;
  VariantScope& operator=(const VariantScope&) = delete;
};

Tensor param(const Shape& shape, uint64_t seed) {
  Tensor t = random_tensor(shape, seed);
  t.set_requires_grad();
  return t;
}

struct SliceCase {
  Shape x;
  int64_t axis, start, end;
};
const std::vector<SliceCase> kSlices = {
    {{7, 5, 3}, 0, 2, 5}, {{7, 5, 3}, 1, 1, 4}, {{7, 5, 3}, 2, 1, 2},
    {{5, 12, 8}, 1, 4, 8},  // 4 rows of 8: float4 rows, starts 16-byte aligned
    {{5, 12, 8}, 2, 3, 8},  // odd start and length
};

struct ReduceCase {
  Shape x;
  std::vector<int64_t> axes;  // empty: the full sum
  bool keepdim;
};
const std::vector<ReduceCase> kReduceCases = {
    {{4099}, {}, false},                 // full sum, one slice of 4099 terms
    {{3, 37, 101}, {}, false},           // full sum, 11211 terms: two slices
    {{5, 7, 11, 13}, {0, 2, 3}, true},   // per channel (a batch norm / bias gradient): 715 terms each
    {{37, 261}, {1}, false},             // row sums: a block per row
    {{7, 301, 3}, {1}, false},           // innermost axis kept: thread per output
    {{261, 37}, {0}, true},              // column sums
    {{9, 5, 7}, {2}, false},             // 7 terms per output: thread per output
    {{3, 17, 2, 19}, {1, 3}, false},     // two separate summed axes, innermost summed
    {{3, 5, 4, 8}, {0, 2, 3}, false},    // backward: float4 quads from a broadcast scalar
    {{6, 12}, {0}, false},               // backward: float4 quads from a float4 row
    {{3, 5, 12, 8}, {0, 2, 3}, false},   // forward: float4 terms (runs of 96, 288 terms per output)
    {{3, 4, 1000}, {}, false},           // full sum of float4 terms, two slices
};

}  // namespace

FER_CUDA_TEST_CASE("slice matches the cpu, each variant", "[shape]") {
  for (int variant : {1, 2}) {
    const VariantScope selected(device, Family::Elementwise, variant);
    for (const SliceCase& c : kSlices) {
      INFO("variant " << variant << ", x " << shape_str(c.x) << " axis " << c.axis << " [" << c.start << ", " << c.end
                      << ")");
      auto f = [&c](const std::vector<Tensor>& in) { return slice(in[0], c.axis, c.start, c.end); };
      REQUIRE_DEVICE_MATCHES_CPU(device, f, std::vector<Tensor>{param(c.x, 41)}, 0, 0);
    }
  }
}

FER_CUDA_TEST_CASE("concat matches the cpu, each variant", "[shape]") {
  for (int variant : {1, 2}) {
    const VariantScope selected(device, Family::Elementwise, variant);
    for (int64_t axis : {0, 1, 2}) {
      Shape a = {3, 5, 7}, b = {3, 5, 7}, c = {3, 5, 7};
      a[static_cast<size_t>(axis)] = 2;
      c[static_cast<size_t>(axis)] = 4;
      INFO("variant " << variant << ", axis " << axis);
      auto f = [axis](const std::vector<Tensor>& in) { return concat(in, axis); };
      REQUIRE_DEVICE_MATCHES_CPU(device, f, (std::vector<Tensor>{param(a, 1), param(b, 2), param(c, 3)}), 0, 0);
    }
    INFO("variant " << variant << ", float4 rows");
    auto f = [](const std::vector<Tensor>& in) { return concat(in, 1); };
    REQUIRE_DEVICE_MATCHES_CPU(device, f, (std::vector<Tensor>{param({3, 4, 8}, 4), param({3, 8, 8}, 5)}), 0, 0);
  }
}

FER_CUDA_TEST_CASE("index_select matches the cpu with repeated indices, each variant", "[shape]") {
  // Row 3 three times: the backward adds its gradients in index order, as the cpu does.
  const std::vector<int64_t> indices = {3, 0, 3, 6, 3, 1, 6};
  for (int variant : {1, 2}) {
    const VariantScope selected(device, Family::Elementwise, variant);
    for (const Shape& shape : {Shape{7, 13}, Shape{9, 8}, Shape{7, 3, 5}}) {
      INFO("variant " << variant << ", x " << shape_str(shape));
      auto f = [&indices](const std::vector<Tensor>& in) { return index_select(in[0], indices); };
      REQUIRE_DEVICE_MATCHES_CPU(device, f, std::vector<Tensor>{param(shape, 51)}, 0, 0);
    }
  }
}

FER_CUDA_TEST_CASE("sum and mean over axes match the cpu, each variant", "[shape]") {
  for (int variant : {1, 2}) {
    const VariantScope selected(device, Family::Reduce, variant);
    for (const bool average : {false, true}) {
      for (const ReduceCase& c : kReduceCases) {
        INFO("variant " << variant << (average ? ", mean" : ", sum") << " of x " << shape_str(c.x) << " over "
                        << c.axes.size() << " axes");
        auto f = [&c, average](const std::vector<Tensor>& in) {
          if (c.axes.empty()) return average ? mean(in[0]) : sum(in[0]);
          return average ? mean(in[0], c.axes, c.keepdim) : sum(in[0], c.axes, c.keepdim);
        };
        REQUIRE_DEVICE_MATCHES_CPU(device, f, std::vector<Tensor>{param(c.x, 61)}, 1e-5, 1e-5);
      }
    }
  }
}

FER_CUDA_TEST_CASE("sum repeats bit for bit", "[shape]") {
  const Tensor x = random_tensor({3, 37, 101}, 7).to(device);
  const std::vector<float> first = sum(x, {0, 2}).to_vector();
  for (int run = 0; run < 3; ++run) REQUIRE(sum(x, {0, 2}).to_vector() == first);
}
