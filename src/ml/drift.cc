#include "ml/drift.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace kade::ml {
namespace {

constexpr double kPi = 3.14159265358979323846;

void DropNan(std::vector<double>& v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
}

std::vector<double> Normalised(const std::vector<double>& v) {
  double total = 0;
  for (double x : v) total += x;
  std::vector<double> out(v.size(), 0.0);
  if (total > 0) {
    for (size_t i = 0; i < v.size(); ++i) out[i] = v[i] / total;
  }
  return out;
}

// x * ln(x / y), with 0 * ln(0 / y) = 0 (scipy.special.rel_entr).
double RelEntr(double x, double y) {
  if (x == 0) return 0;
  if (y == 0) return std::numeric_limits<double>::infinity();
  return x * std::log(x / y);
}

}  // namespace

double KolmogorovSurvival(double x) {
  if (!(x > 0)) return 1;
  if (x < 1.18) {
    // 1 - sqrt(2 pi) / x * sum exp(-(2k - 1)^2 pi^2 / (8 x^2)): converges fast for small x.
    double sum = 0;
    for (int k = 1; k <= 20; ++k) {
      const double t = (2.0 * k - 1) * kPi / x;
      sum += std::exp(-t * t / 8);
    }
    return std::clamp(1 - std::sqrt(2 * kPi) / x * sum, 0.0, 1.0);
  }
  // 2 sum (-1)^(k-1) exp(-2 k^2 x^2).
  double sum = 0;
  for (int k = 1; k <= 100; ++k) {
    const double term = std::exp(-2.0 * k * k * x * x);
    sum += (k % 2 == 1 ? term : -term);
    if (term < 1e-17) break;
  }
  return std::clamp(2 * sum, 0.0, 1.0);
}

WeightedSample Unweighted(std::vector<double> values) {
  DropNan(values);
  std::sort(values.begin(), values.end());
  WeightedSample out;
  out.items.reserve(values.size());
  for (double v : values) out.items.emplace_back(v, 1.0);
  out.total = static_cast<double>(values.size());
  return out;
}

WeightedSample Weighted(std::vector<std::pair<double, double>> items) {
  items.erase(std::remove_if(items.begin(), items.end(),
                             [](const auto& p) { return std::isnan(p.first) || !(p.second > 0); }),
              items.end());
  std::sort(items.begin(), items.end());
  WeightedSample out;
  for (const auto& [v, w] : items) out.total += w;
  out.items = std::move(items);
  return out;
}

WeightedSample FromSketch(const KllSketch& sketch) {
  std::vector<std::pair<double, double>> items;
  for (const auto& [v, w] : sketch.WeightedItems()) items.emplace_back(v, static_cast<double>(w));
  return Weighted(std::move(items));
}

KsResult KolmogorovSmirnov(const WeightedSample& reference, const WeightedSample& current,
                           double n_reference, double n_current) {
  KsResult out;
  if (reference.total <= 0 || current.total <= 0) return out;
  const auto& a = reference.items;
  const auto& b = current.items;
  size_t i = 0, j = 0;
  double ca = 0, cb = 0, d = 0;
  while (i < a.size() || j < b.size()) {
    // The next value, with every tie of it consumed from both samples.
    const double x =
        j >= b.size() || (i < a.size() && a[i].first <= b[j].first) ? a[i].first : b[j].first;
    while (i < a.size() && a[i].first == x) ca += a[i++].second;
    while (j < b.size() && b[j].first == x) cb += b[j++].second;
    d = std::max(d, std::abs(ca / reference.total - cb / current.total));
  }
  out.statistic = d;
  const double n = n_reference, m = n_current;
  out.p_value = n > 0 && m > 0 ? KolmogorovSurvival(std::sqrt(n * m / (n + m)) * d) : 1;
  return out;
}

KsResult KolmogorovSmirnov(std::vector<double> reference, std::vector<double> current) {
  WeightedSample r = Unweighted(std::move(reference)), c = Unweighted(std::move(current));
  return KolmogorovSmirnov(r, c, r.total, c.total);
}

double NormalizedWasserstein(const WeightedSample& reference, const WeightedSample& current) {
  if (reference.total <= 0 || current.total <= 0) return 0;
  // The integral of |F_ref - F_cur| between consecutive values of either sample.
  const auto& a = reference.items;
  const auto& b = current.items;
  size_t i = 0, j = 0;
  double ca = 0, cb = 0, w = 0, prev = 0;
  bool started = false;
  while (i < a.size() || j < b.size()) {
    const double x =
        j >= b.size() || (i < a.size() && a[i].first <= b[j].first) ? a[i].first : b[j].first;
    if (started) w += std::abs(ca / reference.total - cb / current.total) * (x - prev);
    while (i < a.size() && a[i].first == x) ca += a[i++].second;
    while (j < b.size() && b[j].first == x) cb += b[j++].second;
    prev = x;
    started = true;
  }
  // The reference's population standard deviation (numpy.std).
  double mean = 0;
  for (const auto& [v, wt] : a) mean += v * wt;
  mean /= reference.total;
  double var = 0;
  for (const auto& [v, wt] : a) var += wt * (v - mean) * (v - mean);
  const double sd = std::sqrt(var / reference.total);
  if (sd == 0) return w == 0 ? 0 : std::numeric_limits<double>::infinity();
  return w / sd;
}

double NormalizedWasserstein(std::vector<double> reference, std::vector<double> current) {
  return NormalizedWasserstein(Unweighted(std::move(reference)), Unweighted(std::move(current)));
}

std::vector<double> QuantileEdges(std::vector<double> reference, int bins) {
  DropNan(reference);
  std::vector<double> edges;
  if (reference.empty() || bins < 2) return edges;
  std::sort(reference.begin(), reference.end());
  const double last = static_cast<double>(reference.size() - 1);
  for (int b = 1; b < bins; ++b) {
    // numpy.quantile's default (linear interpolation between order statistics).
    const double pos = last * b / bins;
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, reference.size() - 1);
    const double q =
        reference[lo] + (reference[hi] - reference[lo]) * (pos - static_cast<double>(lo));
    if (edges.empty() || q > edges.back()) edges.push_back(q);
  }
  return edges;
}

std::vector<double> BinShares(const WeightedSample& sample, const std::vector<double>& edges) {
  std::vector<double> counts(edges.size() + 1, 0.0);
  for (const auto& [v, w] : sample.items) {
    counts[static_cast<size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin())] +=
        w;
  }
  return Normalised(counts);
}

std::vector<double> BinShares(const std::vector<double>& values, const std::vector<double>& edges) {
  return BinShares(Unweighted(values), edges);
}

double Psi(const std::vector<double>& reference_shares, const std::vector<double>& current_shares) {
  double psi = 0;
  for (size_t i = 0; i < reference_shares.size() && i < current_shares.size(); ++i) {
    const double r = reference_shares[i] == 0 ? 1e-4 : reference_shares[i];
    const double c = current_shares[i] == 0 ? 1e-4 : current_shares[i];
    psi += (c - r) * std::log(c / r);
  }
  return psi;
}

double JensenShannon(const std::vector<double>& reference_shares,
                     const std::vector<double>& current_shares) {
  const std::vector<double> p = Normalised(reference_shares), q = Normalised(current_shares);
  double js = 0;
  for (size_t i = 0; i < p.size() && i < q.size(); ++i) {
    const double m = (p[i] + q[i]) / 2;
    js += (RelEntr(p[i], m) + RelEntr(q[i], m)) / 2;
  }
  return std::sqrt(std::max(0.0, js));
}

double LInfinity(const std::vector<double>& reference_shares,
                 const std::vector<double>& current_shares) {
  double d = 0;
  for (size_t i = 0; i < reference_shares.size() && i < current_shares.size(); ++i) {
    d = std::max(d, std::abs(reference_shares[i] - current_shares[i]));
  }
  return d;
}

double GammaQ(double a, double x) {
  if (!(a > 0) || x < 0) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0) return 1;
  const double log_prefix = a * std::log(x) - x - std::lgamma(a);
  if (x < a + 1) {
    // P(a, x) by its series; Q = 1 - P.
    double term = 1 / a, sum = term;
    for (int n = 1; n < 10000; ++n) {
      term *= x / (a + n);
      sum += term;
      if (std::abs(term) < std::abs(sum) * 1e-16) break;
    }
    return std::clamp(1 - sum * std::exp(log_prefix), 0.0, 1.0);
  }
  // Q(a, x) by its continued fraction (modified Lentz).
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-16) break;
  }
  return std::clamp(std::exp(log_prefix) * h, 0.0, 1.0);
}

ChiSquareResult ChiSquare(const std::vector<double>& reference_shares,
                          const std::vector<double>& current_counts) {
  ChiSquareResult out;
  const size_t k = std::min(reference_shares.size(), current_counts.size());
  if (k < 2) return out;
  const double total = std::accumulate(current_counts.begin(), current_counts.begin() + k, 0.0);
  if (total <= 0) return out;
  // Shares floored at 1e-4 (a category the reference never saw still expects a little) and
  // normalised again, so expected and observed counts have the same total.
  std::vector<double> floored(reference_shares.begin(), reference_shares.begin() + k);
  for (double& s : floored) s = std::max(s, 0.0);
  floored = Normalised(floored);
  for (double& s : floored) s = std::max(s, 1e-4);
  const std::vector<double> shares = Normalised(floored);
  for (size_t i = 0; i < k; ++i) {
    const double expected = shares[i] * total;
    const double diff = current_counts[i] - expected;
    out.statistic += diff * diff / expected;
  }
  out.degrees_of_freedom = static_cast<int>(k) - 1;
  out.p_value = GammaQ(out.degrees_of_freedom / 2.0, out.statistic / 2);
  return out;
}

AlignedCategories AlignCategories(const std::map<std::string, int64_t>& reference,
                                  const std::map<std::string, int64_t>& current) {
  AlignedCategories out;
  auto r = reference.begin(), c = current.begin();
  while (r != reference.end() || c != current.end()) {
    if (c == current.end() || (r != reference.end() && r->first < c->first)) {
      out.categories.push_back(r->first);
      out.reference_counts.push_back(static_cast<double>(r->second));
      out.current_counts.push_back(0);
      ++r;
    } else if (r == reference.end() || c->first < r->first) {
      out.categories.push_back(c->first);
      out.reference_counts.push_back(0);
      out.current_counts.push_back(static_cast<double>(c->second));
      ++c;
    } else {
      out.categories.push_back(r->first);
      out.reference_counts.push_back(static_cast<double>(r->second));
      out.current_counts.push_back(static_cast<double>(c->second));
      ++r;
      ++c;
    }
  }
  return out;
}

std::vector<double> Shares(const std::vector<double>& counts) { return Normalised(counts); }

bool IsNumericMethod(const std::string& m) {
  return m == "ks" || m == "wasserstein" || m == "psi" || m == "jensenshannon";
}
bool IsCategoricalMethod(const std::string& m) {
  return m == "chisquare" || m == "jensenshannon" || m == "psi" || m == "l_infinity";
}
bool IsPValueMethod(const std::string& m) { return m == "ks" || m == "chisquare"; }

std::string DefaultDriftMethod(bool numeric, double reference_rows, double distinct) {
  if (reference_rows <= 1000) return numeric && distinct > 5 ? "ks" : "chisquare";
  return numeric ? "wasserstein" : "jensenshannon";
}

double DefaultDriftThreshold(const std::string& method) {
  return IsPValueMethod(method) ? 0.05 : 0.1;
}

namespace {

void Decide(DriftTest* t) {
  t->value = t->stats[t->method];
  t->drifted = IsPValueMethod(t->method) ? t->value < t->threshold : t->value >= t->threshold;
}

}  // namespace

DriftTest NumericDrift(const WeightedSample& reference, const WeightedSample& current,
                       double n_reference, double n_current, const std::vector<double>& edges,
                       std::string method, double threshold) {
  DriftTest t;
  t.method = method.empty() ? "wasserstein" : std::move(method);
  t.threshold = threshold > 0 ? threshold : DefaultDriftThreshold(t.method);
  const KsResult ks = KolmogorovSmirnov(reference, current, n_reference, n_current);
  t.stats["ks_statistic"] = ks.statistic;
  t.stats["ks"] = ks.p_value;
  t.stats["wasserstein"] = NormalizedWasserstein(reference, current);
  const auto rs = BinShares(reference, edges), cs = BinShares(current, edges);
  t.stats["psi"] = Psi(rs, cs);
  t.stats["jensenshannon"] = JensenShannon(rs, cs);
  if (IsCategoricalMethod(t.method) && !IsNumericMethod(t.method)) {
    // Few distinct values: compare them as categories.
    auto counts = [](const WeightedSample& s, double n) {
      std::map<std::string, int64_t> out;
      for (const auto& [v, w] : s.items) {
        out[std::to_string(v)] +=
            static_cast<int64_t>(std::llround(w * n / std::max(1.0, s.total)));
      }
      return out;
    };
    DriftTest c = CategoricalDrift(counts(reference, n_reference), counts(current, n_current),
                                   t.method, t.threshold);
    for (const auto& [k, v] : c.stats) t.stats.emplace(k, v);
    t.stats[t.method] = c.stats[t.method];
  }
  Decide(&t);
  return t;
}

DriftTest CategoricalDrift(const std::map<std::string, int64_t>& reference,
                           const std::map<std::string, int64_t>& current, std::string method,
                           double threshold) {
  DriftTest t;
  t.method = method.empty() ? "jensenshannon" : std::move(method);
  t.threshold = threshold > 0 ? threshold : DefaultDriftThreshold(t.method);
  const AlignedCategories al = AlignCategories(reference, current);
  const auto rs = Shares(al.reference_counts), cs = Shares(al.current_counts);
  t.stats["chisquare"] = ChiSquare(rs, al.current_counts).p_value;
  t.stats["jensenshannon"] = JensenShannon(rs, cs);
  t.stats["psi"] = Psi(rs, cs);
  t.stats["l_infinity"] = LInfinity(rs, cs);
  Decide(&t);
  return t;
}

}  // namespace kade::ml
