// The statistics of an ablation (`fer ablate`): per-mode mean and sample standard deviation, and
// the paired comparison of two modes over the same (repeat, fold) units.
//
// Paired comparison of accuracies a_i (a mode) and b_i (the reference mode) on n units:
//   d_i = a_i - b_i, mean d, sample sd s_d,
//   t interval:          mean d -+ t_{0.975, n-1} * s_d / sqrt(n)   (Student's t, n >= 2)
//   bootstrap interval:  the 2.5% and 97.5% quantiles of the means of n differences drawn with
//                        replacement, over `resamples` draws (percentile method, fixed seed)
//   wins / ties / losses: units with d_i > 0, = 0, < 0. Accuracies of one unit are ratios of
//   counts over the same test images, so equal counts give bit-equal doubles: ties are exact.
// Units of repeated k-fold splits share subjects across repeats, so the t interval there is
// optimistic (Nadeau and Bengio 2003); docs/method.md says so where it reports repeats.
#pragma once
#include <cstdint>
#include <vector>

namespace fer::train {

double mean_of(const std::vector<double>& v);     // 0 when empty
double sample_std(const std::vector<double>& v);  // n - 1 in the divisor; 0 when n < 2

// The p-quantile of Student's t distribution with df degrees of freedom (p in (0, 1), df > 0),
// from the regularized incomplete beta function, to about 1e-10.
double student_t_quantile(double p, double df);
// Its CDF, P(T <= t).
double student_t_cdf(double t, double df);

struct PairedComparison {
  int64_t n = 0;
  double mean_diff = 0, sd_diff = 0;
  double t_low = 0, t_high = 0;          // 95% t interval of the mean difference (n >= 2)
  double boot_low = 0, boot_high = 0;    // 95% percentile bootstrap interval
  double p_value = 1;                    // two-sided paired t test of mean difference 0
  int64_t wins = 0, ties = 0, losses = 0;
  // Both intervals exclude 0: the sign of the difference is significant at 5%.
  bool significant() const { return n >= 2 && ((t_low > 0 && boot_low > 0) || (t_high < 0 && boot_high < 0)); }
};

// a and b paired by index (same length, at least 1).
PairedComparison paired_comparison(const std::vector<double>& a, const std::vector<double>& b,
                                   int64_t resamples = 10000, uint64_t seed = 0x5EED);

}  // namespace fer::train
