// The `fer` command, above every library: `fer bench` runs benchmarks/bench.h, every other command
// train/cli.h.
// --debug is global: it may stand anywhere among the arguments and is taken out here.
#include <string>
#include <vector>

#include "benchmarks/bench.h"
#include "engine/tensor.h"
#include "train/cli.h"

namespace {

int bench(const std::vector<std::string>& args, bool debug) {  // args[0] is "bench"
  std::vector<std::string> owned = args;
  std::vector<char*> argv;
  for (std::string& a : owned) argv.push_back(a.data());
  return fer::bench::bench_main(static_cast<int>(argv.size()), argv.data(), debug);
}

}  // namespace

int main(int argc, char** argv) {
  fer::Storage::keep_freed_host_memory();  // every command trains, evaluates or times steps
  std::vector<std::string> args(argv + 1, argv + argc);
  const bool debug = std::erase(args, std::string("--debug")) > 0;
  if (!args.empty() && args[0] == "bench") return bench(args, debug);
  if (args.size() > 1 && args[0] == "help" && args[1] == "bench") return bench({"bench", "--help"}, debug);
  return fer::train::run_command(args, debug);
}
