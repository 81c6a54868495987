// Fiber context switch (x86-64 System V) and fiber stacks. See fiber.h.
//
// fersim_detail_switch(save, load): pushes the callee-saved registers (rbp, rbx, r12-r15) on the
// current stack, stores the stack pointer into *save, loads `load` as the stack pointer, pops the
// registers saved there and returns into that context. Caller-saved registers need no saving:
// the switch is an ordinary function call for the compiler. The SSE control word (MXCSR) and the
// x87 control word are not switched: nothing in the simulated kernels changes them.
//
// A new fiber's stack is prepared as if it had switched away at the start of
// fersim_detail_fiber_trampoline, with r12 = entry and rbx = arg: the first switch to it "returns"
// into the trampoline, which calls entry(arg). The trampoline marks the return address undefined
// in its unwind information, so debugger backtraces end cleanly at the bottom of a fiber.
#include "kernels/sim/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>

#if !defined(__x86_64__)
#error "fersim's context switch is written for x86-64; see docs/simulator.md"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define FERSIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FERSIM_ASAN 1
#endif
#endif

#ifdef FERSIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

extern "C" {
void fersim_detail_switch(void** save, void* load);
void fersim_detail_fiber_trampoline();
}

asm(R"(
  .text
  .globl fersim_detail_switch
  .hidden fersim_detail_switch
  .type fersim_detail_switch, @function
fersim_detail_switch:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size fersim_detail_switch, .-fersim_detail_switch

  .globl fersim_detail_fiber_trampoline
  .hidden fersim_detail_fiber_trampoline
  .type fersim_detail_fiber_trampoline, @function
fersim_detail_fiber_trampoline:
  .cfi_startproc
  .cfi_undefined rip
  movq %rbx, %rdi
  callq *%r12
  ud2
  .cfi_endproc
  .size fersim_detail_fiber_trampoline, .-fersim_detail_fiber_trampoline
)");

namespace fersim::detail {

FiberStack::FiberStack(size_t number)
    : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))), color_(number % 32 * 128 % page_) {
  mapping_ = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                  -1, 0);
  if (mapping_ == MAP_FAILED || mprotect(mapping_, page_, PROT_NONE) != 0) {
    std::fprintf(stderr, "fersim: cannot map a fiber stack of %zu bytes\n", kBytes);
    std::abort();
  }
}

FiberStack::~FiberStack() {
  if (mapping_) munmap(mapping_, kBytes);
}

FiberStack::FiberStack(FiberStack&& other) noexcept
    : mapping_(std::exchange(other.mapping_, nullptr)), page_(other.page_), color_(other.color_) {}

void prepare_context(Context& context, const FiberStack& stack, void (*entry)(void*), void* arg) {
#ifdef FERSIM_ASAN
  // A reused stack still carries the redzones of the frames of the fiber that ended on it.
  ASAN_UNPOISON_MEMORY_REGION(stack.bottom(), stack.size());
#endif
  // After the switch pops 6 registers and returns, the trampoline must see a 16-byte aligned
  // stack pointer, so that its call gives entry() the alignment the ABI promises.
  auto top = reinterpret_cast<uintptr_t>(stack.bottom()) + stack.size();
  top &= ~uintptr_t{15};
  auto* frame = reinterpret_cast<void**>(top - 16 - 7 * sizeof(void*));
  frame[0] = nullptr;                                                  // r15
  frame[1] = nullptr;                                                  // r14
  frame[2] = nullptr;                                                  // r13
  frame[3] = reinterpret_cast<void*>(entry);                           // r12
  frame[4] = arg;                                                      // rbx
  frame[5] = nullptr;                                                  // rbp
  frame[6] = reinterpret_cast<void*>(&fersim_detail_fiber_trampoline);  // return address
  context.stack_pointer = frame;
  context.stack_bottom = stack.bottom();
  context.stack_size = stack.size();
}

#ifdef FERSIM_ASAN
void switch_context(Context& from, Context& to, bool finished) {
  __sanitizer_start_switch_fiber(finished ? nullptr : &from.asan_fake_stack, to.stack_bottom, to.stack_size);
  fersim_detail_switch(&from.stack_pointer, to.stack_pointer);
  __sanitizer_finish_switch_fiber(from.asan_fake_stack, nullptr, nullptr);
}

void start_fiber(Context& caller) {
  __sanitizer_finish_switch_fiber(nullptr, &caller.stack_bottom, &caller.stack_size);
}
#else
void switch_context(Context& from, Context& to, bool /*finished*/) {
  fersim_detail_switch(&from.stack_pointer, to.stack_pointer);
}

void start_fiber(Context& /*caller*/) {}
#endif

}  // namespace fersim::detail
