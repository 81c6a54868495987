// Elementwise arithmetic and activations (kernels: kernels/elementwise/).
//
// Binary ops broadcast NumPy-style: shapes are aligned on the right and each axis must match or
// be 1 on one side, e.g. [N,C,H,W] op [1,C,1,1] (per channel), op [N,1,1,1] (per sample),
// op [1] (scalar tensor). The backward sums the gradient over the broadcast axes.
#pragma once
#include "engine/random.h"
#include "engine/tensor.h"

namespace fer {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor neg(const Tensor& a);
Tensor rsub(double s, const Tensor& a);  // s - a

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator-(double s, const Tensor& a) { return rsub(s, a); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double slope);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor clamp(const Tensor& x, double lo, double hi);  // gradient 1 inside [lo, hi], 0 outside
// Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p).
// Identity when !training or p == 0. The mask comes from rng (counter-based: same on every device).
Tensor dropout(const Tensor& x, double p, bool training, RandomStream& rng);

// In-place, no autograd: dst += src (same shape); dst *= s. Used by gradient accumulation and
// optimizers.
void add_(Tensor& dst, const Tensor& src);
void scale_(Tensor& dst, double s);

}  // namespace fer
