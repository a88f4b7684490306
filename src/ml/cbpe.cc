#include "ml/cbpe.h"

#include <algorithm>
#include <numeric>

namespace kade::ml {

IsotonicCalibrator IsotonicCalibrator::Fit(std::vector<double> scores,
                                           const std::vector<double>& labels) {
  IsotonicCalibrator c;
  const size_t n = std::min(scores.size(), labels.size());
  if (n == 0) return c;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Ties share one point (their mean label), then pool adjacent violators.
  struct Block {
    double x_lo, x_hi, sum, weight;
  };
  std::vector<Block> blocks;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    double sum = 0;
    while (j < n && scores[order[j]] == scores[order[i]]) sum += labels[order[j++]];
    blocks.push_back({scores[order[i]], scores[order[i]], sum, static_cast<double>(j - i)});
    while (blocks.size() > 1) {
      Block& b = blocks.back();
      Block& a = blocks[blocks.size() - 2];
      if (a.sum / a.weight <= b.sum / b.weight) break;
      a.sum += b.sum;
      a.weight += b.weight;
      a.x_hi = b.x_hi;
      blocks.pop_back();
    }
    i = j;
  }
  // Each block is flat over its scores; between blocks the value is interpolated.
  for (const auto& b : blocks) {
    c.x_.push_back(b.x_lo);
    c.y_.push_back(b.sum / b.weight);
    if (b.x_hi > b.x_lo) {
      c.x_.push_back(b.x_hi);
      c.y_.push_back(b.sum / b.weight);
    }
  }
  return c;
}

double IsotonicCalibrator::operator()(double s) const {
  if (x_.empty()) return s;
  if (s <= x_.front()) return y_.front();
  if (s >= x_.back()) return y_.back();
  const size_t i = static_cast<size_t>(std::upper_bound(x_.begin(), x_.end(), s) - x_.begin());
  const double t = (s - x_[i - 1]) / (x_[i] - x_[i - 1]);
  return y_[i - 1] + t * (y_[i] - y_[i - 1]);
}

CbpeEstimate EstimateBinary(const IsotonicCalibrator& calibration, const WeightedSample& scores,
                            double threshold) {
  CbpeEstimate e;
  double correct = 0, pos = 0, neg = 0;
  std::vector<std::pair<double, double>> pw;  // (calibrated p, weight), by score
  pw.reserve(scores.items.size());
  for (const auto& [s, w] : scores.items) {
    const double p = calibration(s);
    pw.emplace_back(p, w);
    correct += w * (s >= threshold ? p : 1 - p);
    pos += w * p;
    neg += w * (1 - p);
    e.rows += w;
  }
  if (e.rows == 0) return e;
  e.accuracy = correct / e.rows;
  if (pos <= 0 || neg <= 0) {
    e.auc = 0.5;
    return e;
  }
  // The expected ROC curve: thresholds from the highest score down; rows of equal score move
  // together (a diagonal step, as roc_auc_score treats ties).
  double tp = 0, area = 0;
  for (size_t i = scores.items.size(); i > 0;) {
    size_t k = i - 1;
    const double s = scores.items[k].first;
    double dtp = 0, dfp = 0;
    for (;;) {
      dtp += pw[k].first * pw[k].second;
      dfp += (1 - pw[k].first) * pw[k].second;
      if (k == 0 || scores.items[k - 1].first != s) break;
      --k;
    }
    area += (dfp / neg) * (2 * tp + dtp) / (2 * pos);
    tp += dtp;
    i = k;
  }
  e.auc = area;
  return e;
}

}  // namespace kade::ml
