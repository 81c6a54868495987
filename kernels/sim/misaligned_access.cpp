// Misaligned accesses in device code. On a GPU, a load or store through a pointer that is not
// aligned to its type (a float4 at an address that is not a multiple of 16, a float at an odd
// address) is an error (cudaErrorMisalignedAddress); on x86 it just works, so the simulator would
// hide it. The kernel sources are therefore compiled with GCC's -fsanitize=alignment (CMake sets
// it for the simulator's build of the .cu files and for the simulator's tests), which checks each
// access and calls the handler below with the source position and the type. Inside a kernel the
// handler fails the CUDA thread's launch with that message; outside one (host code of the same
// files) it prints the message and aborts.
//
// No sanitizer runtime is linked for this: the handler is UBSan's entry point, with the data
// layout GCC and Clang pass to it. In a FER_SANITIZE build, whose UBSan runtime defines the same
// entry point, this definition takes precedence, so null and object-size reports come here too.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <sstream>
#include <string>

#include "kernels/sim/internal.h"

namespace {

struct SourceLocation {
  const char* file;
  uint32_t line;
  uint32_t column;
};

struct TypeDescriptor {
  uint16_t kind;
  uint16_t info;
  char name[1];  // NUL-terminated, e.g. "'const struct float4'"
};

struct TypeMismatchData {
  SourceLocation location;
  const TypeDescriptor* type;
  unsigned char log_alignment;
  unsigned char type_check_kind;  // what the access is: a load, a store, a member access...
};

const char* access_kind(unsigned char kind) {
  static const char* const kinds[] = {"load of",        "store to",    "reference binding to", "member access within",
                                      "member call on", "constructor call on", "downcast of", "downcast of",
                                      "upcast of",      "cast to virtual base of", "_Nonnull binding to",
                                      "dynamic operation on"};
  return kind < std::size(kinds) ? kinds[kind] : "access to";
}

std::string describe(const TypeMismatchData& data, uintptr_t address) {
  const uintptr_t alignment = uintptr_t{1} << data.log_alignment;
  std::ostringstream text;
  text << data.location.file << ":" << data.location.line << ":" << data.location.column << ": "
       << access_kind(data.type_check_kind);
  if (address == 0) {
    text << " a null pointer of type " << data.type->name;
  } else if (address % alignment != 0) {
    text << " misaligned address 0x" << std::hex << address << std::dec << " for type " << data.type->name
         << ", which requires " << alignment << "-byte alignment (cudaErrorMisalignedAddress on a GPU)";
  } else {
    text << " address 0x" << std::hex << address << std::dec << " with too little space for type "
         << data.type->name;
  }
  return text.str();
}

}  // namespace

// (void* parameters: the declaration GCC gives this entry point when it sanitizes.)
extern "C" void __ubsan_handle_type_mismatch_v1(void* data, void* address) {
  const std::string message = describe(*static_cast<const TypeMismatchData*>(data), reinterpret_cast<uintptr_t>(address));
  if (fersim::detail::in_kernel_thread()) fersim::detail::fail_kernel_thread(message);
  std::fprintf(stderr, "fersim: %s\n", message.c_str());
  std::abort();
}
