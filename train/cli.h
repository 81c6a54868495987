// The `fer` command (docs/cli.md): synth-data, train, ablate, eval, generate, classify, demo, info,
// help COMMAND and --version (`fer bench` is benchmarks/bench.h, run by app/main.cpp).
// Every flag has help text (`fer <command> --help`); unknown flags and config keys are errors that
// suggest the nearest name. Returns the process exit status (0 ok, 1 error, 2 usage, 130 Ctrl-C).
// An error is printed in words; `debug` (the global flag --debug, which app/main.cpp takes out of
// the arguments) adds the failed C++ expression and the source line.
#pragma once
#include <string>
#include <vector>

namespace fer::train {

int run_command(const std::vector<std::string>& args, bool debug = false);

}  // namespace fer::train
