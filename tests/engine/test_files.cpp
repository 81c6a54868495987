// write_file_atomically and remove_orphan_temporaries: complete files or none, errors that name
// the path, and only the leftovers of interrupted writes are removed.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

#include "engine/files.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("fer_test_files_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t files_in(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}));
}

}  // namespace

TEST_CASE("write_file_atomically replaces a file whole and leaves nothing behind on failure", "[cpu]") {
  const fs::path dir = scratch("write");
  const std::string path = (dir / "summary.json").string();
  fer::write_file_atomically(path, "first");
  fer::write_file_atomically(path, [](const fer::ByteSink& sink) {
    sink("sec", 3);
    sink("ond", 3);
  });
  REQUIRE(read_file(path) == "second");
  REQUIRE(files_in(dir) == 1);

  // A producer that fails halfway: the old file stays, the temporary file goes.
  REQUIRE_THROWS_WITH(fer::write_file_atomically(path,
                                                 [](const fer::ByteSink& sink) {
                                                   sink("half", 4);
                                                   throw std::runtime_error("disk full");
                                                 }),
                      Contains("disk full"));
  REQUIRE(read_file(path) == "second");
  REQUIRE(files_in(dir) == 1);

  // The target is a folder: rename fails, and the error names the path.
  fs::create_directories(dir / "report.html");
  REQUIRE_THROWS_WITH(fer::write_file_atomically((dir / "report.html").string(), "<html>"),
                      Contains((dir / "report.html").string()) && Contains("rename failed"));
  REQUIRE(files_in(dir) == 2);
  REQUIRE_THROWS_WITH(fer::write_file_atomically((dir / "missing" / "x.json").string(), "{}"),
                      Contains("missing/x.json") && Contains("no temporary file"));
}

TEST_CASE("remove_orphan_temporaries removes only what an interrupted write leaves", "[cpu]") {
  const fs::path dir = scratch("orphans");
  fs::create_directories(dir / "checkpoints");
  for (const char* name : {"checkpoints/fold0.safetensors.tmp.Ab12Cd", "config.json.tmp.zzzzzz"})
    std::ofstream(dir / name) << "partial";
  // A person's files that only look similar stay.
  for (const char* name : {"notes.tmp.txt", "x.tmp", "data.tmp.1234567", ".tmp.abcdef", "checkpoints/fold0.safetensors"})
    std::ofstream(dir / name) << "keep";
  REQUIRE(fer::remove_orphan_temporaries(dir.string()) == 2);
  REQUIRE_FALSE(fs::exists(dir / "checkpoints/fold0.safetensors.tmp.Ab12Cd"));
  REQUIRE_FALSE(fs::exists(dir / "config.json.tmp.zzzzzz"));
  for (const char* name : {"notes.tmp.txt", "x.tmp", "data.tmp.1234567", ".tmp.abcdef", "checkpoints/fold0.safetensors"})
    REQUIRE(fs::exists(dir / name));
  REQUIRE(fer::remove_orphan_temporaries((dir / "absent").string()) == 0);
}
