// Strided iteration shared by the broadcasting kernels (elementwise binary ops, sum over axes and
// its backward, the reduction of a gradient onto a broadcast operand).
//
// StridedShape<N> describes a loop over a contiguous row-major "full" shape together with N
// operands: operand k of element (i0, .., id) sits at sum_d id * strides[k][d]. An operand that is
// broadcast along an axis has stride 0 there, so one kernel serves [N,C,H,W] op [1,C,1,1],
// op [N,1,1,1], op [1] and [N,C] op [C] alike. make_strided_shape merges adjacent axes that stay
// contiguous for every operand (a same-shape op becomes a single axis), which keeps the
// per-element index arithmetic out of the inner loop.
// The struct is trivially copyable so a CUDA kernel can take it by value.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/common/error.h"

namespace fer {

constexpr int kMaxDims = 8;

template <int N>
struct StridedShape {
  int ndim = 0;
  int64_t numel = 1;
  int64_t dims[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
};

// full: the iterated shape; operands[k]: shape of operand k, right-aligned against full, each
// axis equal to full's or 1 (the caller has validated this and names the shapes on error).
template <int N>
StridedShape<N> make_strided_shape(const std::vector<int64_t>& full,
                                   const std::vector<int64_t> (&operands)[N]) {
  const size_t nd = full.size();
  std::vector<int64_t> stride[N];
  for (int k = 0; k < N; ++k) {
    const std::vector<int64_t>& op = operands[k];
    FER_CHECK(op.size() <= nd) << "strided shape: operand of rank " << op.size() << " against rank " << nd;
    stride[k].assign(nd, 0);
    int64_t step = 1;
    for (size_t j = 0; j < op.size(); ++j) {
      const size_t d = nd - 1 - j;
      const int64_t size = op[op.size() - 1 - j];
      stride[k][d] = size == 1 ? 0 : step;  // size 1 against a larger axis: broadcast
      step *= size;
    }
  }
  StridedShape<N> s;
  s.ndim = 0;
  for (size_t d = 0; d < nd; ++d) {
    s.numel *= full[d];
    if (full[d] == 1) continue;  // contributes no index
    const int p = s.ndim - 1;
    bool mergeable = p >= 0;
    for (int k = 0; k < N && mergeable; ++k) mergeable = s.strides[k][p] == stride[k][d] * full[d];
    if (mergeable) {
      s.dims[p] *= full[d];
      for (int k = 0; k < N; ++k) s.strides[k][p] = stride[k][d];
      continue;
    }
    FER_CHECK(s.ndim < kMaxDims) << "strided shape: more than " << kMaxDims << " axes after merging";
    s.dims[s.ndim] = full[d];
    for (int k = 0; k < N; ++k) s.strides[k][s.ndim] = stride[k][d];
    ++s.ndim;
  }
  if (s.ndim == 0) {  // every axis has size 1: a single element
    s.ndim = 1;
    s.dims[0] = 1;
  }
  return s;
}

// Calls f(i, offsets, run) for each piece of [begin, end) that lies along the inner axis: flat
// indices i .. i + run - 1, where operand k sits at offsets[k] + r * strides[k][ndim - 1].
// Walks an odometer, so the index arithmetic is paid once per piece, not per element.
template <int N, typename F>
void for_each_run(const StridedShape<N>& s, int64_t begin, int64_t end, F&& f) {
  if (begin >= end) return;
  const int last = s.ndim - 1;
  int64_t index[kMaxDims];
  int64_t offset[N];
  int64_t rest = begin;
  for (int k = 0; k < N; ++k) offset[k] = 0;
  for (int d = last; d >= 0; --d) {
    index[d] = rest % s.dims[d];
    rest /= s.dims[d];
    for (int k = 0; k < N; ++k) offset[k] += index[d] * s.strides[k][d];
  }
  int64_t i = begin;
  while (i < end) {
    const int64_t run = std::min(end - i, s.dims[last] - index[last]);
    f(i, static_cast<const int64_t*>(offset), run);
    i += run;
    // Advance the odometer by `run` (which finishes the inner axis unless we reached `end`).
    for (int k = 0; k < N; ++k) offset[k] += run * s.strides[k][last];
    index[last] += run;
    for (int d = last; d > 0 && index[d] == s.dims[d]; --d) {
      for (int k = 0; k < N; ++k) offset[k] += s.strides[k][d - 1] - s.dims[d] * s.strides[k][d];
      index[d] = 0;
      ++index[d - 1];
    }
  }
}

}  // namespace fer
