// safetensors: round trips, and every malformed file gives an error naming the file and tensor.
#include <filesystem>
#include <fstream>

#include "engine/safetensors.h"
#include "tests/support/compare.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// A fresh, empty folder per test.
fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("fer_test_safetensors_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A file made of the given header text and `data_bytes` zero bytes of data.
std::string write_raw(const fs::path& dir, const std::string& header, size_t data_bytes,
                      uint64_t declared_header_bytes = ~uint64_t{0}) {
  const std::string path = (dir / "raw.safetensors").string();
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = declared_header_bytes == ~uint64_t{0} ? header.size() : declared_header_bytes;
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << std::string(data_bytes, '\0');
  return path;
}

}  // namespace

TEST_CASE("safetensors round trip keeps names, shapes, dtypes, values and metadata", "[cpu]") {
  const fs::path dir = scratch_dir("roundtrip");
  const std::string path = (dir / "t.safetensors").string();
  const std::map<std::string, fer::Tensor> tensors{
      {"a.weight", fer::test::random_tensor({3, 5, 7}, 1)},
      {"b", fer::test::random_tensor({11}, 2, -1, 1, fer::DType::F64)},
      {"empty", fer::Tensor::zeros({0, 3})},
      {"scalar", fer::Tensor::scalar(4.5)}};
  fer::save_safetensors(path, tensors, {{"step", "17"}, {"note", "hello"}});

  const auto loaded = fer::load_safetensors(path);
  REQUIRE(loaded.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO(name);
    const fer::Tensor& l = loaded.at(name);
    REQUIRE(l.dtype() == t.dtype());
    REQUIRE(l.shape() == t.shape());
    REQUIRE(l.to_vector_f64() == t.to_vector_f64());
  }
  const auto metadata = fer::load_safetensors_metadata(path);
  REQUIRE(metadata.at("step") == "17");
  REQUIRE(metadata.at("note") == "hello");
  REQUIRE(metadata.size() == 2);
}

TEST_CASE("safetensors save is atomic: it replaces the file and leaves no temporary behind", "[cpu]") {
  const fs::path dir = scratch_dir("atomic");
  const std::string path = (dir / "t.safetensors").string();
  fer::save_safetensors(path, {{"x", fer::Tensor::full({2}, 1.0)}});
  fer::save_safetensors(path, {{"y", fer::Tensor::full({3}, 2.0)}});
  const auto loaded = fer::load_safetensors(path);
  REQUIRE(loaded.size() == 1);
  REQUIRE(loaded.at("y").to_vector() == std::vector<float>{2, 2, 2});
  REQUIRE(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);

  // A failing save (into a missing folder) throws and does not touch anything.
  REQUIRE_THROWS_WITH(fer::save_safetensors((dir / "missing" / "t.safetensors").string(), {}),
                      Contains("missing/t.safetensors"));
}

TEST_CASE("safetensors header is padded so the data section is 8-byte aligned", "[cpu]") {
  const fs::path dir = scratch_dir("aligned");
  const std::string path = (dir / "t.safetensors").string();
  fer::save_safetensors(path, {{"abc", fer::Tensor::zeros({1})}});
  std::ifstream in(path, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  REQUIRE(n % 8 == 0);
  REQUIRE(fs::file_size(path) == 8 + n + 4);
}

TEST_CASE("safetensors load of malformed files names the file and the tensor", "[cpu]") {
  const fs::path dir = scratch_dir("malformed");
  const std::string good_entry = R"("w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]})";

  SECTION("missing file") {
    const std::string path = (dir / "nope.safetensors").string();
    REQUIRE_THROWS_WITH(fer::load_safetensors(path), Contains(path) && Contains("cannot open"));
  }
  SECTION("shorter than the header length") {
    const std::string path = (dir / "short.safetensors").string();
    std::ofstream(path, std::ios::binary) << "abc";
    REQUIRE_THROWS_WITH(fer::load_safetensors(path), Contains(path) && Contains("truncated"));
  }
  SECTION("truncated header") {
    const std::string path = write_raw(dir, "{" + good_entry + "}", 0, 500);
    REQUIRE_THROWS_WITH(fer::load_safetensors(path), Contains(path) && Contains("truncated"));
  }
  SECTION("implausible header length") {
    const std::string path = write_raw(dir, "{}", 0, uint64_t{1} << 60);
    REQUIRE_THROWS_WITH(fer::load_safetensors(path), Contains(path) && Contains("corrupted"));
  }
  SECTION("truncated data") {
    const std::string path = write_raw(dir, "{" + good_entry + "}", 20);
    REQUIRE_THROWS_WITH(fer::load_safetensors(path),
                        Contains(path) && Contains("'w'") && Contains("truncated"));
  }
  SECTION("bad JSON") {
    const std::string path = write_raw(dir, "{" + good_entry, 24);
    REQUIRE_THROWS_WITH(fer::load_safetensors(path), Contains(path) && Contains("not valid JSON"));
  }
  SECTION("header not an object") {
    const std::string path = write_raw(dir, "[1, 2]", 0);
    REQUIRE_THROWS_WITH(fer::load_safetensors(path), Contains(path) && Contains("not a JSON object"));
  }
  SECTION("unknown dtype") {
    const std::string path =
        write_raw(dir, R"({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}})", 4);
    REQUIRE_THROWS_WITH(fer::load_safetensors(path), Contains(path) && Contains("'w'") && Contains("BF16"));
  }
  SECTION("size does not match shape") {
    const std::string path =
        write_raw(dir, R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", 20);
    REQUIRE_THROWS_WITH(fer::load_safetensors(path),
                        Contains(path) && Contains("'w'") && Contains("[2, 3]") && Contains("needs 24"));
  }
  SECTION("offsets out of range") {
    const std::string path =
        write_raw(dir, R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [100, 108]}})", 16);
    REQUIRE_THROWS_WITH(fer::load_safetensors(path), Contains(path) && Contains("'w'") && Contains("108"));
  }
  SECTION("reversed offsets") {
    const std::string path =
        write_raw(dir, R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}})", 8);
    REQUIRE_THROWS_WITH(fer::load_safetensors(path), Contains(path) && Contains("'w'") && Contains("begin <= end"));
  }
  SECTION("overlapping tensors") {
    const std::string path = write_raw(dir,
                                       R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                           "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
                                       16);
    REQUIRE_THROWS_WITH(fer::load_safetensors(path),
                        Contains(path) && Contains("'a'") && Contains("'b'") && Contains("overlaps"));
  }
  SECTION("negative or fractional shape") {
    const std::string path =
        write_raw(dir, R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8);
    REQUIRE_THROWS_WITH(fer::load_safetensors(path), Contains(path) && Contains("'w'") && Contains("shape"));
  }
  SECTION("missing field") {
    const std::string path = write_raw(dir, R"({"w": {"dtype": "F32", "shape": [2]}})", 8);
    REQUIRE_THROWS_WITH(fer::load_safetensors(path), Contains(path) && Contains("'w'") && Contains("data_offsets"));
  }
  SECTION("metadata with a non-string value") {
    const std::string path = write_raw(dir, R"({"__metadata__": {"step": 3}})", 0);
    REQUIRE_THROWS_WITH(fer::load_safetensors_metadata(path), Contains(path) && Contains("'step'"));
  }
}
