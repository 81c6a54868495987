// The `fer` command. Subcommands are added by train/ as the stages land.
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "demo") == 0) {
    std::puts("fer demo: not available yet (the method issue adds it)");
    return 0;
  }
  std::puts("usage: fer demo [--out RUNDIR]");
  return argc >= 2 ? 2 : 0;
}
