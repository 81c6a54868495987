// The `fer` command: everything is in train/cli.cpp.
#include <string>
#include <vector>

#include "train/cli.h"

int main(int argc, char** argv) { return fer::train::run_command(std::vector<std::string>(argv + 1, argv + argc)); }
