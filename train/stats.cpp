#include "train/stats.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/common/error.h"

namespace fer::train {

namespace {

// The continued fraction of the incomplete beta function (modified Lentz), valid and fast for
// x < (a + 1) / (a + b + 2); betai() uses the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) otherwise.
double beta_continued_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300, kEps = 1e-15;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  d = 1 / (std::fabs(d) < kTiny ? kTiny : d);
  double h = d;
  auto lentz_step = [&](double coef) {  // folds one term in; returns the factor h changed by
    d = 1 + coef * d;
    d = 1 / (std::fabs(d) < kTiny ? kTiny : d);
    c = 1 + coef / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    h *= d * c;
    return d * c;
  };
  for (int m = 1; m <= 1000; ++m) {
    const double m2 = 2.0 * m;
    lentz_step(m * (b - m) * x / ((a + m2 - 1) * (a + m2)));
    if (std::fabs(lentz_step(-(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))) - 1) < kEps) return h;
  }
  return h;
}

// The regularized incomplete beta function I_x(a, b).
double betai(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                                b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * beta_continued_fraction(a, b, x) / a;
  return 1 - front * beta_continued_fraction(b, a, 1 - x) / b;
}

}  // namespace

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double sample_std(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

double student_t_cdf(double t, double df) {
  FER_CHECK(df > 0) << "student_t_cdf: df " << df << " must be positive";
  const double tail = 0.5 * betai(df / 2, 0.5, df / (df + t * t));  // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

double student_t_quantile(double p, double df) {
  FER_CHECK(p > 0 && p < 1) << "student_t_quantile: p " << p << " must be in (0, 1)";
  FER_CHECK(df > 0) << "student_t_quantile: df " << df << " must be positive";
  double lo = -1, hi = 1;  // bracket, then bisect: the CDF is monotone, and this is not hot
  while (student_t_cdf(lo, df) > p) lo *= 2;
  while (student_t_cdf(hi, df) < p) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * std::max(1.0, std::fabs(hi)); ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

PairedComparison paired_comparison(const std::vector<double>& a, const std::vector<double>& b, int64_t resamples,
                                   uint64_t seed) {
  FER_CHECK(a.size() == b.size() && !a.empty())
      << "paired_comparison: " << a.size() << " and " << b.size() << " values (need the same number, at least 1)";
  FER_CHECK(resamples > 0) << "paired_comparison: resamples " << resamples << " must be positive";
  PairedComparison r;
  r.n = static_cast<int64_t>(a.size());
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    d[i] = a[i] - b[i];
    (d[i] > 0 ? r.wins : d[i] < 0 ? r.losses : r.ties) += 1;
  }
  r.mean_diff = mean_of(d);
  r.sd_diff = sample_std(d);
  r.t_low = r.t_high = r.boot_low = r.boot_high = r.mean_diff;
  if (r.n < 2) return r;
  const double df = static_cast<double>(r.n - 1), se = r.sd_diff / std::sqrt(static_cast<double>(r.n));
  const double half = student_t_quantile(0.975, df) * se;
  r.t_low = r.mean_diff - half;
  r.t_high = r.mean_diff + half;
  r.p_value = se > 0 ? 2 * student_t_cdf(-std::fabs(r.mean_diff) / se, df) : (r.mean_diff == 0 ? 1 : 0);

  // mt19937_64's output is fixed by the standard; the index is taken modulo n (bias < n / 2^64).
  std::mt19937_64 rng(seed);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (double& m : means) {
    double s = 0;
    for (int64_t i = 0; i < r.n; ++i) s += d[rng() % static_cast<uint64_t>(r.n)];
    m = s / static_cast<double>(r.n);
  }
  std::sort(means.begin(), means.end());
  auto quantile = [&](double q) {  // linear interpolation between order statistics
    const double pos = q * static_cast<double>(means.size() - 1);
    const auto i = static_cast<size_t>(pos);
    const double frac = pos - static_cast<double>(i);
    return i + 1 < means.size() ? means[i] * (1 - frac) + means[i + 1] * frac : means[i];
  };
  r.boot_low = quantile(0.025);
  r.boot_high = quantile(0.975);
  return r;
}

}  // namespace fer::train
