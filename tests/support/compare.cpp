#include "tests/support/compare.h"

namespace fer::test {

CompareResult compare(const Tensor& got, const Tensor& ref, double atol, double rtol, const std::string& what) {
  if (got.shape() != ref.shape()) {
    CompareResult r;
    r.ok = false;
    r.report = what + ": shape " + shape_str(got.shape()) + " differs from the reference " + shape_str(ref.shape());
    return r;
  }
  return compare_values(got.to_vector_f64(), ref.to_vector_f64(), atol, rtol, what);
}

Tensor random_tensor(const Shape& shape, uint64_t seed, double lo, double hi, DType dtype) {
  RandomStream rng(seed);
  std::vector<double> values(static_cast<size_t>(shape_numel(shape)));
  for (double& v : values) v = lo + (hi - lo) * rng.uniform();
  return Tensor::from_vector(values, shape).to(dtype);
}

std::vector<CompareResult> gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                     const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  for (const Tensor& t : inputs) {
    FER_CHECK(!t.defined() || (t.dtype() == DType::F64 && t.device() == Device::CPU))
        << "gradcheck needs float64 cpu inputs, got " << t.str();
  }
  for (const Tensor& t : inputs)
    if (t.defined()) const_cast<Tensor&>(t).zero_grad();
  const Tensor out = f(inputs);
  const Tensor weights = random_tensor(out.shape(), 1234, -1, 1, DType::F64);
  out.backward(weights);

  const std::vector<double> w = weights.to_vector_f64();
  auto contracted = [&]() {
    NoGradGuard no_grad;
    const std::vector<double> y = f(inputs).to_vector_f64();
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += w[i] * y[i];
    return s;
  };

  std::vector<CompareResult> results;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    double* data = x.data<double>();
    std::vector<double> numeric(static_cast<size_t>(x.numel()));
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double saved = data[i];
      data[i] = saved + eps;
      const double plus = contracted();
      data[i] = saved - eps;
      const double minus = contracted();
      data[i] = saved;
      numeric[static_cast<size_t>(i)] = (plus - minus) / (2 * eps);
    }
    const Tensor& g = x.grad();
    std::vector<double> analytic = g.defined() ? g.to_vector_f64() : std::vector<double>(numeric.size(), 0.0);
    results.push_back(compare_values(analytic, numeric, atol, rtol,
                                     "gradient of input " + std::to_string(k) + " " + shape_str(x.shape())));
  }
  return results;
}

std::string fixture_path(const std::string& name) { return std::string(FER_SOURCE_DIR) + "/tests/fixtures/" + name; }

}  // namespace fer::test
