// The `fer` command: everything is in train/cli.cpp, except `fer bench` (benchmarks/bench.h).
#include <string>
#include <vector>

#include "benchmarks/bench.h"
#include "engine/tensor.h"
#include "train/cli.h"

int main(int argc, char** argv) {
  fer::Storage::keep_freed_host_memory();  // every command trains, evaluates or times steps
  if (argc > 1 && std::string(argv[1]) == "bench") return fer::bench::bench_main(argc - 1, argv + 1);
  if (argc > 2 && std::string(argv[1]) == "help" && std::string(argv[2]) == "bench") {
    char bench[] = "bench", help[] = "--help";
    char* args[] = {bench, help};
    return fer::bench::bench_main(2, args);
  }
  return fer::train::run_command(std::vector<std::string>(argv + 1, argv + argc));
}
