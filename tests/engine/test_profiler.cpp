// The kernel profiler: off it records nothing; on it counts each dispatched kernel once per call,
// names convolutions by shape, counts a nested dispatch towards the outer one only, and starts
// afresh.
#include <algorithm>
#include <set>

#include "engine/ops.h"
#include "engine/random.h"
#include "engine/profiler.h"
#include "tests/support/compare.h"

using fer::Tensor;
namespace profiler = fer::profiler;

namespace {

const profiler::Row* find_row(const std::vector<profiler::Row>& rows, const std::string& op) {
  const auto it = std::find_if(rows.begin(), rows.end(), [&](const profiler::Row& r) { return r.op == op; });
  return it == rows.end() ? nullptr : &*it;
}

// A conv2d forward and backward of a [2, 3, 5, 5] input with four 3x3 filters, stride 1.
void conv_step() {
  fer::RandomStream rng(3);
  Tensor x = fer::uniform({2, 3, 5, 5}, -1, 1, rng, fer::Device::CPU).set_requires_grad();
  Tensor w = fer::uniform({4, 3, 3, 3}, -1, 1, rng, fer::Device::CPU).set_requires_grad();
  fer::sum(fer::conv2d(x, w, Tensor(), {1, 1})).backward();
}

}  // namespace

TEST_CASE("profiler records nothing while off and every kernel call while on", "[cpu]") {
  profiler::start();
  profiler::stop();
  conv_step();
  REQUIRE(profiler::rows().empty());

  profiler::start();
  conv_step();
  conv_step();
  profiler::stop();
  const std::vector<profiler::Row> rows = profiler::rows();
  const profiler::Row* forward = find_row(rows, "conv2d_forward");
  REQUIRE(forward != nullptr);
  REQUIRE(forward->calls == 2);
  REQUIRE(forward->detail == "2x3x5x5 k4 r3s1");
  REQUIRE(forward->total_ms >= 0);
  REQUIRE(find_row(rows, "conv2d_backward_data")->calls == 2);
  REQUIRE(find_row(rows, "conv2d_backward_filter")->calls == 2);
  const profiler::Row* sum = find_row(rows, "sum_forward");
  REQUIRE(sum != nullptr);
  REQUIRE(sum->detail.empty());  // the shape is named only while the convolution runs
  for (size_t i = 1; i < rows.size(); ++i) REQUIRE(rows[i - 1].total_ms >= rows[i].total_ms);

  profiler::start();  // starts afresh
  profiler::stop();
  REQUIRE(profiler::rows().empty());
}

TEST_CASE("profiler counts a dispatch nested in a timed one towards the outer one only", "[cpu]") {
  profiler::start();
  {
    const profiler::Scope outer("outer");
    const profiler::Scope inner("inner");
  }
  profiler::stop();
  const std::vector<profiler::Row> rows = profiler::rows();
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0].op == "outer");
  REQUIRE(rows[0].calls == 1);
}

TEST_CASE("profiler names a dispatch by the innermost live detail, and the outer one after it", "[cpu]") {
  profiler::start();
  {
    const profiler::Detail outer([] { return std::string("outer shape"); });
    {
      const profiler::Detail inner([] { return std::string("inner shape"); });
      const profiler::Scope scope("kernel");
    }
    const profiler::Scope scope("kernel");
  }
  { const profiler::Scope scope("kernel"); }
  profiler::stop();
  std::set<std::string> details;
  for (const profiler::Row& row : profiler::rows()) details.insert(row.detail);
  REQUIRE(details == std::set<std::string>{"inner shape", "outer shape", ""});
}

TEST_CASE("profiler waits for the device around each timed kernel", "[cpu]") {
  int waits = 0;
  profiler::start([&] { ++waits; });
  { const profiler::Scope scope("kernel"); }
  profiler::stop();
  REQUIRE(waits == 2);
}
