#include "ml/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace kade::ml {
namespace {

constexpr double kEps = 1e-15;

Json Finite(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

// Keeps at most `max_points` of a curve, always its first and last point.
Json Thin(const std::vector<std::pair<double, double>>& pts, size_t max_points = 201) {
  Json out = Json::array();
  if (pts.empty()) return out;
  size_t step = std::max<size_t>(1, (pts.size() + max_points - 1) / max_points);
  for (size_t i = 0; i < pts.size(); i += step)
    out.push_back(Json::array({pts[i].first, pts[i].second}));
  if ((pts.size() - 1) % step != 0)
    out.push_back(Json::array({pts.back().first, pts.back().second}));
  return out;
}

}  // namespace

double RocAuc(const std::vector<float>& label, const std::vector<float>& score) {
  const size_t n = label.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  double rank_sum = 0, positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && score[order[j]] == score[order[i]]) ++j;
    double avg_rank = (static_cast<double>(i) + static_cast<double>(j - 1)) / 2.0 + 1.0;
    for (size_t k = i; k < j; ++k) {
      if (label[order[k]] > 0.5f) {
        rank_sum += avg_rank;
        positives += 1;
      }
    }
    i = j;
  }
  double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives);
}

Json BinaryMetrics(const std::vector<float>& label, const std::vector<float>& prob) {
  const size_t n = label.size();
  double logloss = 0;
  int64_t tp = 0, fp = 0, tn = 0, fn = 0;
  for (size_t i = 0; i < n; ++i) {
    double p = std::clamp(static_cast<double>(prob[i]), kEps, 1 - kEps);
    bool y = label[i] > 0.5f;
    logloss -= y ? std::log(p) : std::log(1 - p);
    bool predicted = prob[i] >= 0.5f;
    if (predicted && y) ++tp;
    if (predicted && !y) ++fp;
    if (!predicted && !y) ++tn;
    if (!predicted && y) ++fn;
  }
  double precision = tp + fp > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0.0;
  double recall = tp + fn > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0.0;
  double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;

  // ROC and precision-recall curves: one point per distinct threshold, highest first.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return prob[a] > prob[b]; });
  const double pos = static_cast<double>(tp + fn), neg = static_cast<double>(tn + fp);
  std::vector<std::pair<double, double>> roc{{0.0, 0.0}}, pr;
  double ctp = 0, cfp = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && prob[order[j]] == prob[order[i]]) {
      (label[order[j]] > 0.5f ? ctp : cfp) += 1;
      ++j;
    }
    roc.emplace_back(neg > 0 ? cfp / neg : 0.0, pos > 0 ? ctp / pos : 0.0);
    pr.emplace_back(pos > 0 ? ctp / pos : 0.0, ctp / (ctp + cfp));
    i = j;
  }
  // Calibration: ten equal-width bins of the predicted probability.
  Json calibration = Json::array();
  std::vector<double> sum_p(10, 0), sum_y(10, 0);
  std::vector<int64_t> count(10, 0);
  for (size_t i = 0; i < n; ++i) {
    size_t b = std::min<size_t>(9, static_cast<size_t>(prob[i] * 10));
    sum_p[b] += prob[i];
    sum_y[b] += label[i] > 0.5f ? 1 : 0;
    ++count[b];
  }
  for (size_t b = 0; b < 10; ++b) {
    if (count[b] == 0) continue;
    double c = static_cast<double>(count[b]);
    calibration.push_back(
        Json{{"predicted", sum_p[b] / c}, {"observed", sum_y[b] / c}, {"count", count[b]}});
  }
  return Json{{"auc", Finite(RocAuc(label, prob))},
              {"logloss", n > 0 ? logloss / static_cast<double>(n) : 0.0},
              {"accuracy", n > 0 ? static_cast<double>(tp + tn) / static_cast<double>(n) : 0.0},
              {"precision", precision},
              {"recall", recall},
              {"f1", f1},
              {"confusion_matrix", Json::array({Json::array({tn, fp}), Json::array({fn, tp})})},
              {"roc", Thin(roc)},
              {"pr", Thin(pr)},
              {"calibration", calibration}};
}

Json MulticlassMetrics(const std::vector<float>& label, const std::vector<float>& prob,
                       int classes) {
  const size_t n = label.size();
  const size_t k = static_cast<size_t>(classes);
  std::vector<std::vector<int64_t>> cm(k, std::vector<int64_t>(k, 0));
  double logloss = 0;
  int64_t correct = 0;
  for (size_t i = 0; i < n; ++i) {
    const float* p = prob.data() + i * k;
    size_t y = static_cast<size_t>(label[i]);
    size_t best = static_cast<size_t>(std::max_element(p, p + k) - p);
    ++cm[y][best];
    correct += best == y;
    // Rows are renormalised after clipping, as scikit-learn does.
    double total = 0;
    for (size_t c = 0; c < k; ++c) total += std::clamp(static_cast<double>(p[c]), kEps, 1 - kEps);
    logloss -= std::log(std::clamp(static_cast<double>(p[y]), kEps, 1 - kEps) / total);
  }
  double f1_sum = 0;
  for (size_t c = 0; c < k; ++c) {
    int64_t tp = cm[c][c], fp = 0, fn = 0;
    for (size_t o = 0; o < k; ++o) {
      if (o == c) continue;
      fp += cm[o][c];
      fn += cm[c][o];
    }
    double prec = tp + fp > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0.0;
    double rec = tp + fn > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0.0;
    f1_sum += prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0.0;
  }
  return Json{{"accuracy", n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0},
              {"logloss", n > 0 ? logloss / static_cast<double>(n) : 0.0},
              {"f1_macro", k > 0 ? f1_sum / static_cast<double>(k) : 0.0},
              {"confusion_matrix", cm}};
}

Json RegressionMetrics(const std::vector<float>& label, const std::vector<float>& pred) {
  const size_t n = label.size();
  if (n == 0) return Json::object();
  double se = 0, ae = 0, mean_y = 0;
  for (size_t i = 0; i < n; ++i) mean_y += label[i];
  mean_y /= static_cast<double>(n);
  double ss_tot = 0;
  std::vector<double> res(n);
  for (size_t i = 0; i < n; ++i) {
    double r = static_cast<double>(label[i]) - static_cast<double>(pred[i]);
    res[i] = r;
    se += r * r;
    ae += std::abs(r);
    ss_tot += (label[i] - mean_y) * (label[i] - mean_y);
  }
  double mean_r = std::accumulate(res.begin(), res.end(), 0.0) / static_cast<double>(n);
  double var_r = 0;
  for (double r : res) var_r += (r - mean_r) * (r - mean_r);
  std::vector<double> sorted = res;
  std::sort(sorted.begin(), sorted.end());
  auto q = [&](double p) {
    double pos = p * static_cast<double>(n - 1);
    size_t lo = static_cast<size_t>(pos);
    size_t hi = std::min(lo + 1, n - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
  };
  return Json{{"rmse", std::sqrt(se / static_cast<double>(n))},
              {"mae", ae / static_cast<double>(n)},
              {"r2", Finite(ss_tot > 0 ? 1 - se / ss_tot : std::nan(""))},
              {"residuals",
               {{"mean", mean_r},
                {"std", n > 1 ? std::sqrt(var_r / static_cast<double>(n - 1)) : 0.0},
                {"min", sorted.front()},
                {"p5", q(0.05)},
                {"p50", q(0.5)},
                {"p95", q(0.95)},
                {"max", sorted.back()}}}};
}

}  // namespace kade::ml
