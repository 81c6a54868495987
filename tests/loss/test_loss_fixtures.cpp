// cross_entropy against PyTorch (tests/fixtures/make_norm.py writes norm_cross_entropy).
#include "engine/safetensors.h"
#include "tests/support/compare.h"

using namespace fer;

TEST_CASE("cross_entropy matches PyTorch: loss and dlogits", "[cpu]") {
  auto f = load_safetensors(fer::test::fixture_path("norm_cross_entropy.safetensors"));
  Tensor logits = f["logits"].clone();
  logits.set_requires_grad();
  const Tensor loss = cross_entropy(logits, f["labels"]);
  loss.backward(f["dy"]);
  REQUIRE_CLOSE(loss, f["loss"], 1e-6, 1e-5);
  REQUIRE_CLOSE(logits.grad(), f["dlogits"], 1e-6, 1e-5);
}
