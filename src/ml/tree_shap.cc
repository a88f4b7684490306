// Exact TreeSHAP (Lundberg, Erion & Lee, "Consistent individualized feature attribution for
// tree ensembles", 2018, Algorithm 2) on the native tree engine's trees. For each leaf, the
// path from the root keeps, per distinct feature on it, the share of training cover that
// passes when the feature is unknown (zero fraction) and whether the row passes when it is
// known (one fraction); the permutation weights of the Shapley sum are updated as the path is
// extended and unwound. The expected value of each tree (its root's cover-weighted mean) and
// the base margin go to the bias column, as XGBoost's `pred_contribs` lays them out.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ml/tree_engine.h"

namespace kade::ml {

namespace {

struct PathElement {
  int feature = -1;
  double zero = 0, one = 0, weight = 0;
};
using Path = PathElement*;

void Extend(Path path, int depth, double zero, double one, int feature) {
  path[static_cast<size_t>(depth)] = {feature, zero, one, depth == 0 ? 1.0 : 0.0};
  for (int i = depth - 1; i >= 0; --i) {
    auto& p = path[static_cast<size_t>(i)];
    path[static_cast<size_t>(i) + 1].weight += one * p.weight * (i + 1) / (depth + 1);
    p.weight = zero * p.weight * (depth - i) / (depth + 1);
  }
}

void Unwind(Path path, int depth, int index) {
  const double one = path[static_cast<size_t>(index)].one;
  const double zero = path[static_cast<size_t>(index)].zero;
  double next = path[static_cast<size_t>(depth)].weight;
  for (int i = depth - 1; i >= 0; --i) {
    auto& p = path[static_cast<size_t>(i)];
    if (one != 0) {
      const double tmp = p.weight;
      p.weight = next * (depth + 1) / ((i + 1) * one);
      next = tmp - p.weight * zero * (depth - i) / (depth + 1);
    } else {
      p.weight = p.weight * (depth + 1) / (zero * (depth - i));
    }
  }
  for (int i = index; i < depth; ++i) {
    auto& p = path[static_cast<size_t>(i)];
    const auto& q = path[static_cast<size_t>(i) + 1];
    p.feature = q.feature;
    p.zero = q.zero;
    p.one = q.one;
  }
}

// The sum of the weights the path would have with element `index` unwound.
double UnwoundSum(const PathElement* path, int depth, int index) {
  const double one = path[static_cast<size_t>(index)].one;
  const double zero = path[static_cast<size_t>(index)].zero;
  double next = path[static_cast<size_t>(depth)].weight, total = 0;
  for (int i = depth - 1; i >= 0; --i) {
    if (one != 0) {
      const double tmp = next * (depth + 1) / ((i + 1) * one);
      total += tmp;
      next = path[static_cast<size_t>(i)].weight - tmp * zero * (depth - i) / (depth + 1);
    } else {
      total += path[static_cast<size_t>(i)].weight / (zero * (depth - i) / (depth + 1));
    }
  }
  return total;
}

}  // namespace

uint32_t TreeModel::HotChild(size_t tree, uint32_t node, const float* row) const {
  const Node& n = nodes_[tree_offset_[tree] + node];
  const float v = row[n.feature & kFeatureMask];
  bool right;
  if (std::isnan(v)) {
    right = !(n.feature & kDefaultLeft);
  } else if (n.feature & kCategorical) {
    right = CategoryGoesRight(tree_offset_[tree] + node, v);
  } else {
    right = !(v < n.value);
  }
  return static_cast<uint32_t>(n.left) + (right ? 1 : 0);
}

void TreeModel::ShapTree(size_t tree, const float* row, double* phi) const {
  const size_t base = tree_offset_[tree];
  const size_t end = tree + 1 < tree_offset_.size() ? tree_offset_[tree + 1] : nodes_.size();
  // The tree's depth (children come after their parent), for one path buffer: the path at
  // depth d lives in its own segment, a copy of its parent's extended (as XGBoost does).
  std::vector<int> depth_of(end - base, 0);
  int max_depth = 0;
  for (size_t i = 0; i < depth_of.size(); ++i) {
    const Node& n = nodes_[base + i];
    if (n.left == 0) continue;
    for (size_t c : {static_cast<size_t>(n.left), static_cast<size_t>(n.left) + 1}) {
      depth_of[c] = depth_of[i] + 1;
      max_depth = std::max(max_depth, depth_of[c]);
    }
  }
  thread_local std::vector<PathElement> buffer;
  const size_t need = static_cast<size_t>(max_depth + 2) * static_cast<size_t>(max_depth + 3) / 2;
  if (buffer.size() < need) buffer.resize(need);
  struct Frame {
    static void Go(const TreeModel& m, size_t tree, size_t base, const float* row, double* phi,
                   uint32_t node, PathElement* parent, int depth, double zero, double one,
                   int feature) {
      // This level's path: after the parent's `depth` elements, a copy of them.
      PathElement* path = parent + depth;
      std::copy(parent, parent + depth, path);
      Extend(path, depth, zero, one, feature);
      const Node& n = m.nodes_[base + node];
      if (n.left == 0) {
        for (int i = 1; i <= depth; ++i) {
          const double w = UnwoundSum(path, depth, i);
          const auto& e = path[i];
          phi[e.feature] += w * (e.one - e.zero) * n.value;
        }
        return;
      }
      const uint32_t hot = m.HotChild(tree, node, row);
      const uint32_t cold = hot == static_cast<uint32_t>(n.left) ? hot + 1 : hot - 1;
      const double cover = m.cover_[base + node];
      const double hot_zero = cover > 0 ? m.cover_[base + hot] / cover : 0;
      const double cold_zero = cover > 0 ? m.cover_[base + cold] / cover : 0;
      double in_zero = 1, in_one = 1;
      const int split = static_cast<int>(n.feature & kFeatureMask);
      // A feature already on the path is unwound and its fractions carried over.
      int index = 0;
      while (index <= depth && path[index].feature != split) ++index;
      if (index <= depth) {
        in_zero = path[index].zero;
        in_one = path[index].one;
        Unwind(path, depth, index);
        --depth;
      }
      Go(m, tree, base, row, phi, hot, path, depth + 1, hot_zero * in_zero, in_one, split);
      Go(m, tree, base, row, phi, cold, path, depth + 1, cold_zero * in_zero, 0, split);
    }
  };
  Frame::Go(*this, tree, base, row, phi, 0, buffer.data(), 0, 1, 1, -1);
}

absl::Status TreeModel::ShapValues(const float* x, size_t rows, double* out) const {
  const size_t nf = static_cast<size_t>(num_features_);
  const size_t ng = static_cast<size_t>(num_groups_);
  const size_t width = nf + 1;
  std::fill(out, out + rows * ng * width, 0.0);
  if (booster_ == "gblinear") {
    for (size_t r = 0; r < rows; ++r) {
      const float* row = x + r * nf;
      for (size_t g = 0; g < ng; ++g) {
        double* phi = out + (r * ng + g) * width;
        for (size_t j = 0; j < nf; ++j) {
          if (!std::isnan(row[j]))
            phi[j] = static_cast<double>(row[j]) * linear_weights_[j * ng + g];
        }
        phi[nf] = static_cast<double>(linear_weights_[nf * ng + g]) + base_margin_;
      }
    }
    return absl::OkStatus();
  }
  if (cover_.empty() || mean_.empty()) {
    return absl::FailedPreconditionError(
        "the model was saved without node covers (sum_hessian): SHAP values need them");
  }
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * nf;
    for (size_t g = 0; g < ng; ++g) out[(r * ng + g) * width + nf] = base_margin_;
    for (size_t t = 0; t < tree_offset_.size(); ++t) {
      const size_t g = static_cast<size_t>(tree_group_[t]);
      double* phi = out + (r * ng + g) * width;
      if (nodes_[tree_offset_[t]].left == 0) {
        phi[nf] += nodes_[tree_offset_[t]].value;  // a stump: all bias
        continue;
      }
      ShapTree(t, row, phi);
      phi[nf] += mean_[tree_offset_[t]];
    }
  }
  return absl::OkStatus();
}

}  // namespace kade::ml
