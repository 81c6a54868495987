// Unary maps, broadcasting binary ops, dropout on cuda-sim (and cuda): forward and backward
// against the cpu path, for each kernel variant (kernels/elementwise/elementwise.cu), at sizes
// that are not multiples of the float4 width, the unroll depth or the block size.
// The binary ops' backward also runs the reduce kernels (the gradient summed onto a broadcast
// operand), with the reduce variant fixed at its default.
#include <functional>

#include "engine/ops/elementwise.h"
#include "kernels/elementwise/elementwise_cuda.h"
#include "tests/support/device_vs_cpu.h"
#include "tests/support/devices.h"

using namespace fer;
using fer::test::random_tensor;

namespace {

// Selects an elementwise kernel variant for one scope, then restores the default.
class ElementwiseVariant {
 public:
  ElementwiseVariant(Device device, int variant) : device_(device) { set(variant); }
  ~ElementwiseVariant() { set(2); }
  ElementwiseVariant(const ElementwiseVariant&) = delete;
  ElementwiseVariant& operator=(const ElementwiseVariant&) = delete;

 private:
  void set(int variant) { FER_CALL_ON(device_, set_elementwise_variant, variant); }
  Device device_;
};

Tensor param(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Tensor t = random_tensor(shape, seed, lo, hi);
  t.set_requires_grad();
  return t;
}

using Unary = std::function<Tensor(const Tensor&)>;
struct NamedUnary {
  const char* name;
  Unary f;
  double atol, rtol;
};

const std::vector<NamedUnary> kUnaryOps = {
    {"relu", [](const Tensor& x) { return relu(x); }, 0, 0},
    {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }, 0, 0},
    {"tanh", [](const Tensor& x) { return tanh(x); }, 1e-6, 1e-5},
    {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, 1e-6, 1e-5},
    {"clamp", [](const Tensor& x) { return clamp(x, -0.3, 0.4); }, 0, 0},
    // a*x + b may be one fused multiply-add on the GPU: last-bit differences
    {"add scalar", [](const Tensor& x) { return add(x, 0.7); }, 1e-7, 1e-6},
    {"mul scalar", [](const Tensor& x) { return mul(x, -1.3); }, 1e-7, 1e-6},
    {"rsub", [](const Tensor& x) { return rsub(2.5, x); }, 1e-7, 1e-6},
};

// 3: no float4 at all, only the tail; 7: one float4 and a tail; 4099: full unrolled float4 steps
// and a tail of 3; 7x17x37 = 4403: the single-float4 loop after the unrolled one, a tail of 3.
const std::vector<Shape> kUnarySizes = {{3}, {7}, {4099}, {7, 17, 37}};

struct BinaryCase {
  Shape a, b;
};
const std::vector<BinaryCase> kBinaryCases = {
    {{3, 5, 7, 9}, {3, 5, 7, 9}},  // same shape (float4 fast path, tail of 1)
    {{4403}, {4403}},              // same shape, several float4 steps per thread
    {{3}, {3}},                    // same shape, the tail alone
    {{3, 5, 7, 9}, {1, 5, 1, 1}},  // per channel
    {{3, 5, 7, 9}, {3, 1, 1, 1}},  // per sample
    {{3, 5, 7, 9}, {1}},           // scalar tensor
    {{1}, {3, 5, 7, 9}},           // scalar tensor on the left
    {{5, 7}, {7}},                 // [C] against [N, C]
    {{5, 1, 3}, {1, 7, 1}},        // both sides broadcast
    {{2, 13, 1, 11}, {13, 3, 1}},  // both sides, ranks differ
    // inner axis a multiple of 4: v2's float4 quads (operand stride 0, stride 1, both)
    {{3, 5, 4, 8}, {1, 5, 1, 1}},
    {{5, 8}, {8}},
    {{6, 1, 4}, {1, 3, 4}},
};

struct NamedBinary {
  const char* name;
  Tensor (*f)(const Tensor&, const Tensor&);
};
const std::vector<NamedBinary> kBinaryOps = {{"add", add}, {"sub", sub}, {"mul", mul}, {"div", div}};

}  // namespace

FER_CUDA_TEST_CASE("unary ops match the cpu, each variant", "[elementwise]") {
  for (int variant : {1, 2}) {
    const ElementwiseVariant selected(device, variant);
    for (const NamedUnary& op : kUnaryOps) {
      for (const Shape& shape : kUnarySizes) {
        INFO("variant " << variant << ", " << op.name << " on " << shape_str(shape));
        auto f = [&op](const std::vector<Tensor>& in) { return op.f(in[0]); };
        REQUIRE_DEVICE_MATCHES_CPU(device, f, std::vector<Tensor>{param(shape, 11)}, op.atol, op.rtol);
      }
    }
  }
}

FER_CUDA_TEST_CASE("binary ops with broadcasting match the cpu, each variant", "[elementwise]") {
  for (int variant : {1, 2}) {
    const ElementwiseVariant selected(device, variant);
    for (const NamedBinary& op : kBinaryOps) {
      for (const BinaryCase& c : kBinaryCases) {
        INFO("variant " << variant << ", " << op.name << " " << shape_str(c.a) << " with " << shape_str(c.b));
        auto f = [&op](const std::vector<Tensor>& in) { return op.f(in[0], in[1]); };
        // b in [0.5, 1.5): no division by values near zero
        const std::vector<Tensor> inputs = {param(c.a, 21), param(c.b, 22, 0.5, 1.5)};
        REQUIRE_DEVICE_MATCHES_CPU(device, f, inputs, 1e-6, 1e-5);
      }
    }
  }
}

FER_CUDA_TEST_CASE("add_ and scale_ in place match the cpu", "[elementwise]") {
  for (int variant : {1, 2}) {
    const ElementwiseVariant selected(device, variant);
    INFO("variant " << variant);
    auto f = [](const std::vector<Tensor>& in) {
      Tensor acc = in[0].clone();
      add_(acc, in[1]);
      scale_(acc, 0.25);
      return acc;
    };
    REQUIRE_DEVICE_MATCHES_CPU(device, f, (std::vector<Tensor>{random_tensor({37, 29}, 1), random_tensor({37, 29}, 2)}),
                               0, 0);
  }
}

FER_CUDA_TEST_CASE("dropout draws the cpu's mask exactly, each variant", "[elementwise]") {
  for (int variant : {1, 2}) {
    const ElementwiseVariant selected(device, variant);
    for (const Shape& shape : kUnarySizes) {
      INFO("variant " << variant << ", x " << shape_str(shape));
      auto f = [](const std::vector<Tensor>& in) {
        RandomStream rng(77);
        rng.take(13);  // an offset that is not a multiple of 4
        return dropout(in[0], 0.35, true, rng);
      };
      REQUIRE_DEVICE_MATCHES_CPU(device, f, std::vector<Tensor>{param(shape, 31)}, 0, 0);
    }
  }
}

FER_CUDA_TEST_CASE("dropout zeroes about p of the elements", "[elementwise]") {
  RandomStream rng(5);
  const Tensor y = dropout(Tensor::full({4099}, 1.0, DType::F32, device), 0.35, true, rng).to(Device::CPU);
  int64_t zeros = 0;
  for (float v : y.to_vector()) zeros += v == 0.0f;
  CHECK(zeros > 4099 * 0.3);
  CHECK(zeros < 4099 * 0.4);
}
