#include "ml/tree_engine.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "core/status.h"

namespace kade::ml {
namespace {

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("XGBoost model: ", what));
}

// XGBoost writes non-finite floats as bare NaN / Infinity / -Infinity, which JSON does not
// allow. Outside strings they become null (read back as NaN; they only occur where XGBoost
// ignores the value, such as the threshold of a categorical split).
std::string SanitizeNonFinite(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  bool in_string = false;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < in.size()) {
        out.push_back(in[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (in.substr(i, 3) == "NaN") {
      out += "null";
      i += 2;
      continue;
    } else if (in.substr(i, 8) == "Infinity") {
      out += "null";
      i += 7;
      continue;
    } else if (in.substr(i, 9) == "-Infinity") {
      out += "null";
      i += 8;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// XGBoost keeps most scalars as strings ("5E-1"); accepts either form.
absl::StatusOr<double> Number(const Json& j, absl::string_view field) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size()) return v;
  }
  return Bad(absl::StrCat("'", field, "' is not a number"));
}

const Json* Find(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

absl::StatusOr<const Json*> Need(const Json& j, const char* key, absl::string_view where) {
  const Json* v = Find(j, key);
  if (v == nullptr) return Bad(absl::StrCat(where, " has no '", key, "'"));
  return v;
}

float AsFloat(const Json& v) {
  return v.is_number() ? static_cast<float>(v.get<double>())
                       : std::numeric_limits<float>::quiet_NaN();
}

// The objective's transform in float, as XGBoost computes it.
inline float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

absl::StatusOr<std::shared_ptr<const TreeModel>> TreeModel::FromXgboostJson(
    absl::string_view text) {
  // Models are shallow but can hold millions of numbers: only the depth is bounded.
  if (absl::Status st = CheckJsonShape(text, {64, std::numeric_limits<size_t>::max()}); !st.ok()) {
    return Bad(std::string(st.message()));
  }
  Json root = Json::parse(SanitizeNonFinite(text), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Bad("not valid JSON");
  ASSIGN_OR_RETURN(const Json* learner, Need(root, "learner", "the model"));
  auto m = std::shared_ptr<TreeModel>(new TreeModel());
  if (const Json* names = Find(*learner, "feature_names"); names && names->is_array()) {
    for (const auto& n : *names) {
      if (n.is_string()) m->feature_names_.push_back(n.get<std::string>());
    }
  }
  if (const Json* types = Find(*learner, "feature_types"); types && types->is_array()) {
    for (const auto& t : *types) {
      if (t.is_string()) m->feature_types_.push_back(t.get<std::string>());
    }
  }
  ASSIGN_OR_RETURN(const Json* lmp, Need(*learner, "learner_model_param", "learner"));
  ASSIGN_OR_RETURN(const Json* nf, Need(*lmp, "num_feature", "learner_model_param"));
  ASSIGN_OR_RETURN(double num_feature, Number(*nf, "num_feature"));
  if (num_feature < 0 || num_feature > 1e7) return Bad("num_feature out of range");
  m->num_features_ = static_cast<int>(num_feature);
  double num_class = 0, num_target = 1, base_score = 0.5;
  if (const Json* v = Find(*lmp, "num_class")) {
    ASSIGN_OR_RETURN(num_class, Number(*v, "num_class"));
  }
  if (const Json* v = Find(*lmp, "num_target")) {
    ASSIGN_OR_RETURN(num_target, Number(*v, "num_target"));
  }
  if (const Json* v = Find(*lmp, "base_score")) {
    ASSIGN_OR_RETURN(base_score, Number(*v, "base_score"));
  }
  if (num_target > 1) return Bad("multi-target models are not supported");
  if (num_class < 0 || num_class > 100000) return Bad("num_class out of range");
  m->num_groups_ = num_class > 1 ? static_cast<int>(num_class) : 1;

  ASSIGN_OR_RETURN(const Json* obj, Need(*learner, "objective", "learner"));
  ASSIGN_OR_RETURN(const Json* obj_name, Need(*obj, "name", "objective"));
  if (!obj_name->is_string()) return Bad("objective name is not a string");
  m->objective_ = obj_name->get<std::string>();
  const std::string& o = m->objective_;
  const float base = static_cast<float>(base_score);
  if (o == "binary:logistic" || o == "reg:logistic" || o == "binary:logitraw") {
    if (!(base > 0.0f && base < 1.0f)) return Bad("base_score must be in (0, 1) for " + o);
    // logitraw reports raw scores and takes base_score as a raw score too.
    m->transform_ = o == "binary:logitraw" ? Transform::kIdentity : Transform::kSigmoid;
    m->base_margin_ = o == "binary:logitraw" ? base : -std::log(1.0f / base - 1.0f);
  } else if (o == "count:poisson" || o == "reg:gamma" || o == "reg:tweedie" ||
             o == "survival:cox" || o == "survival:aft") {
    if (!(base > 0.0f)) return Bad("base_score must be positive for " + o);
    m->transform_ = Transform::kExp;
    m->base_margin_ = std::log(base);
  } else if (o == "multi:softprob" || o == "multi:softmax") {
    if (m->num_groups_ < 2) return Bad(o + " needs num_class >= 2");
    m->transform_ = o == "multi:softprob" ? Transform::kSoftmax : Transform::kArgmax;
    m->base_margin_ = base;
  } else if (o == "binary:hinge") {
    m->transform_ = Transform::kHinge;
    m->base_margin_ = base;
  } else if (o == "reg:squarederror" || o == "reg:linear" || o == "reg:squaredlogerror" ||
             o == "reg:pseudohubererror" || o == "reg:absoluteerror" || o == "reg:quantileerror" ||
             o.rfind("rank:", 0) == 0) {
    m->transform_ = Transform::kIdentity;
    m->base_margin_ = base;
  } else {
    return Bad(absl::StrCat("objective '", o, "' is not supported"));
  }
  m->num_outputs_ = m->transform_ == Transform::kSoftmax ? m->num_groups_ : 1;

  ASSIGN_OR_RETURN(const Json* gb, Need(*learner, "gradient_booster", "learner"));
  ASSIGN_OR_RETURN(const Json* gb_name, Need(*gb, "name", "gradient_booster"));
  if (!gb_name->is_string()) return Bad("gradient_booster name is not a string");
  m->booster_ = gb_name->get<std::string>();
  ASSIGN_OR_RETURN(const Json* model, Need(*gb, "model", "gradient_booster"));

  if (m->booster_ == "gblinear") {
    ASSIGN_OR_RETURN(const Json* w, Need(*model, "weights", "gblinear model"));
    const size_t want = static_cast<size_t>(m->num_features_ + 1) * m->num_groups_;
    if (!w->is_array() || w->size() != want) {
      return Bad(absl::StrCat("gblinear weights: expected ", want, " numbers"));
    }
    for (const auto& v : *w) {
      if (!v.is_number()) return Bad("gblinear weights: not a number");
      m->linear_weights_.push_back(static_cast<float>(v.get<double>()));
    }
    return std::shared_ptr<const TreeModel>(std::move(m));
  }
  if (m->booster_ != "gbtree") {
    return Bad(absl::StrCat("booster '", m->booster_, "' is not supported (gbtree, gblinear)"));
  }
  ASSIGN_OR_RETURN(const Json* trees, Need(*model, "trees", "gbtree model"));
  ASSIGN_OR_RETURN(const Json* info, Need(*model, "tree_info", "gbtree model"));
  if (!trees->is_array() || !info->is_array() || trees->size() != info->size()) {
    return Bad("'trees' and 'tree_info' differ in length");
  }
  const uint32_t nfeat = static_cast<uint32_t>(m->num_features_);
  std::vector<std::pair<uint32_t, std::vector<uint32_t>>> cats;  // global node -> categories
  for (size_t t = 0; t < trees->size(); ++t) {
    const Json& tree = (*trees)[t];
    const std::string where = absl::StrCat("tree ", t);
    if (!(*info)[t].is_number_integer()) return Bad(where + ": tree_info is not an integer");
    int group = (*info)[t].get<int>();
    if (group < 0 || group >= m->num_groups_) return Bad(where + ": group out of range");
    ASSIGN_OR_RETURN(const Json* left, Need(tree, "left_children", where));
    ASSIGN_OR_RETURN(const Json* right, Need(tree, "right_children", where));
    ASSIGN_OR_RETURN(const Json* cond, Need(tree, "split_conditions", where));
    ASSIGN_OR_RETURN(const Json* index, Need(tree, "split_indices", where));
    ASSIGN_OR_RETURN(const Json* dleft, Need(tree, "default_left", where));
    const Json* hess = Find(tree, "sum_hessian");
    const size_t n = left->is_array() ? left->size() : 0;
    if (n == 0 || !right->is_array() || right->size() != n || !cond->is_array() ||
        cond->size() != n || !index->is_array() || index->size() != n || !dleft->is_array() ||
        dleft->size() != n) {
      return Bad(where + ": node arrays are missing or differ in length");
    }
    const Json* stype = Find(tree, "split_type");
    // Categorical splits: node -> its categories.
    std::vector<std::vector<uint32_t>> node_cats(n);
    std::vector<bool> is_cat(n, false);
    if (stype != nullptr && stype->is_array() && stype->size() == n) {
      for (size_t i = 0; i < n; ++i) is_cat[i] = (*stype)[i].is_number() && (*stype)[i] == 1;
    }
    if (const Json* cn = Find(tree, "categories_nodes"); cn && cn->is_array() && !cn->empty()) {
      ASSIGN_OR_RETURN(const Json* seg, Need(tree, "categories_segments", where));
      ASSIGN_OR_RETURN(const Json* sizes, Need(tree, "categories_sizes", where));
      ASSIGN_OR_RETURN(const Json* values, Need(tree, "categories", where));
      if (!seg->is_array() || !sizes->is_array() || !values->is_array() ||
          seg->size() != cn->size() || sizes->size() != cn->size()) {
        return Bad(where + ": categorical split arrays differ in length");
      }
      for (size_t k = 0; k < cn->size(); ++k) {
        if (!(*cn)[k].is_number_integer() || !(*seg)[k].is_number_integer() ||
            !(*sizes)[k].is_number_integer()) {
          return Bad(where + ": categorical split arrays hold non-integers");
        }
        int64_t node = (*cn)[k].get<int64_t>(), b = (*seg)[k].get<int64_t>(),
                s = (*sizes)[k].get<int64_t>();
        if (node < 0 || static_cast<size_t>(node) >= n || b < 0 || s < 0 ||
            static_cast<size_t>(b + s) > values->size()) {
          return Bad(where + ": categorical split out of range");
        }
        for (int64_t i = b; i < b + s; ++i) {
          const Json& c = (*values)[static_cast<size_t>(i)];
          if (!c.is_number_integer() || c.get<int64_t>() < 0 || c.get<int64_t>() >= (1 << 24)) {
            return Bad(where + ": category out of range");
          }
          node_cats[static_cast<size_t>(node)].push_back(c.get<uint32_t>());
        }
        is_cat[static_cast<size_t>(node)] = true;
      }
    }
    // Breadth-first renumbering: children of a node get consecutive numbers.
    const uint32_t offset = static_cast<uint32_t>(m->nodes_.size());
    m->tree_offset_.push_back(offset);
    m->tree_group_.push_back(group);
    std::vector<int64_t> order{0};  // old ids in new order
    std::vector<bool> seen(n, false);
    seen[0] = true;
    m->nodes_.resize(offset + n);
    const bool covers = hess != nullptr && hess->is_array() && hess->size() == n &&
                        (offset == 0 || m->cover_.size() == offset);
    if (covers) m->cover_.resize(offset + n, 0);
    size_t next = 1;
    for (size_t pos = 0; pos < order.size(); ++pos) {
      const size_t old = static_cast<size_t>(order[pos]);
      Node& node = m->nodes_[offset + pos];
      if (covers && (*hess)[old].is_number()) m->cover_[offset + pos] = (*hess)[old].get<float>();
      const Json& l = (*left)[old];
      const Json& r = (*right)[old];
      if (!l.is_number_integer() || !r.is_number_integer()) {
        return Bad(where + ": child index is not an integer");
      }
      int64_t li = l.get<int64_t>(), ri = r.get<int64_t>();
      if (li == -1) {  // leaf
        node = Node{AsFloat((*cond)[old]), 0, 0};
        if (std::isnan(node.value)) return Bad(where + ": a leaf has no value");
        continue;
      }
      if (li <= 0 || ri <= 0 || static_cast<size_t>(li) >= n || static_cast<size_t>(ri) >= n ||
          seen[static_cast<size_t>(li)] || seen[static_cast<size_t>(ri)] || li == ri) {
        return Bad(where + ": children do not form a tree");
      }
      seen[static_cast<size_t>(li)] = seen[static_cast<size_t>(ri)] = true;
      const Json& fi = (*index)[old];
      if (!fi.is_number_integer() || fi.get<int64_t>() < 0 || fi.get<int64_t>() >= nfeat) {
        return Bad(where + ": split feature out of range");
      }
      uint32_t feature = fi.get<uint32_t>();
      const Json& dl = (*dleft)[old];
      if ((dl.is_number() && dl != 0) || (dl.is_boolean() && dl.get<bool>())) {
        feature |= kDefaultLeft;
      }
      if (is_cat[old]) {
        feature |= kCategorical;
        m->has_categorical_ = true;
        cats.emplace_back(offset + static_cast<uint32_t>(pos), node_cats[old]);
      }
      node = Node{AsFloat((*cond)[old]), feature, static_cast<int32_t>(next)};
      if (!is_cat[old] && std::isnan(node.value)) return Bad(where + ": a split has no threshold");
      order.push_back(li);
      order.push_back(ri);
      next += 2;
    }
    m->nodes_.resize(offset + order.size());  // deleted nodes are dropped
    if (covers) {
      m->cover_.resize(m->nodes_.size());
    } else {
      m->cover_.clear();
    }
  }
  m->BuildPerfect();
  if (!m->cover_.empty()) {
    // Each node's expected value: the cover-weighted mean of its children's (children come
    // after their parent in the breadth-first order, so a reverse pass sees them first).
    m->mean_.assign(m->nodes_.size(), 0);
    for (size_t t = 0; t < m->tree_offset_.size(); ++t) {
      const size_t begin = m->tree_offset_[t];
      const size_t end = t + 1 < m->tree_offset_.size() ? m->tree_offset_[t + 1] : m->nodes_.size();
      for (size_t i = end; i-- > begin;) {
        const Node& n = m->nodes_[i];
        if (n.left == 0) {
          m->mean_[i] = n.value;
          continue;
        }
        const size_t l = begin + static_cast<size_t>(n.left), r = l + 1;
        const double c = m->cover_[i];
        m->mean_[i] = c > 0 ? (m->mean_[l] * m->cover_[l] + m->mean_[r] * m->cover_[r]) / c : 0;
      }
    }
  }
  if (m->has_categorical_) {
    m->cat_begin_.assign(m->nodes_.size(), 0);
    m->cat_bits_.assign(m->nodes_.size(), 0);
    for (const auto& [node, values] : cats) {
      uint32_t bits = values.empty() ? 0 : *std::max_element(values.begin(), values.end()) + 1;
      m->cat_begin_[node] = static_cast<uint32_t>(m->cat_words_.size());
      m->cat_bits_[node] = bits;
      m->cat_words_.resize(m->cat_words_.size() + (bits + 31) / 32, 0);
      for (uint32_t c : values) m->cat_words_[m->cat_begin_[node] + c / 32] |= 1u << (c % 32);
    }
  }
  return std::shared_ptr<const TreeModel>(std::move(m));
}

void TreeModel::BuildPerfect() {
  perfect_.assign(tree_offset_.size(), Perfect{});
  is_perfect_.assign(tree_offset_.size(), false);
  for (size_t t = 0; t < tree_offset_.size(); ++t) {
    const Node* tree = nodes_.data() + tree_offset_[t];
    // Depth, and whether any split is categorical.
    uint32_t depth = 0;
    bool categorical = false;
    std::vector<std::pair<uint32_t, uint32_t>> stack{{0, 0}};
    while (!stack.empty()) {
      auto [i, d] = stack.back();
      stack.pop_back();
      if (tree[i].left == 0) {
        depth = std::max(depth, d);
        continue;
      }
      categorical |= (tree[i].feature & kCategorical) != 0;
      stack.push_back({static_cast<uint32_t>(tree[i].left), d + 1});
      stack.push_back({static_cast<uint32_t>(tree[i].left) + 1, d + 1});
    }
    if (categorical || depth > kMaxPerfectDepth) continue;
    Perfect p{depth, static_cast<uint32_t>(pf_feature_.size()),
              static_cast<uint32_t>(pf_leaf_.size())};
    const uint32_t internal = (1u << depth) - 1;
    pf_feature_.resize(p.node_offset + internal, 0);
    pf_threshold_.resize(p.node_offset + internal, 0.0f);
    pf_leaf_.resize(p.leaf_offset + (1u << depth), 0.0f);
    // (source node, heap position); a leaf reached early fills every slot below it, so
    // whichever way the padding steps go they land on its value.
    std::vector<std::pair<uint32_t, uint32_t>> fill{{0, 0}};
    while (!fill.empty()) {
      auto [i, h] = fill.back();
      fill.pop_back();
      if (h >= internal) {
        pf_leaf_[p.leaf_offset + h - internal] = tree[i].value;
        continue;
      }
      if (tree[i].left == 0) {
        fill.push_back({i, 2 * h + 1});
        fill.push_back({i, 2 * h + 2});
        continue;
      }
      pf_feature_[p.node_offset + h] = tree[i].feature;
      pf_threshold_[p.node_offset + h] = tree[i].value;
      fill.push_back({static_cast<uint32_t>(tree[i].left), 2 * h + 1});
      fill.push_back({static_cast<uint32_t>(tree[i].left) + 1, 2 * h + 2});
    }
    perfect_[t] = p;
    is_perfect_[t] = true;
  }
}

namespace {

// One perfect tree of depth kDepth over `rows` rows: kLanes rows step together, each an
// independent chain of branch-free steps, so the core overlaps their loads. Without
// missing values the step is a plain compare (v >= threshold goes right); with them a
// NaN follows the node's default direction, as in XGBoost.
template <int kDepth, bool kMissing>
void Walk(const uint32_t* feature, const float* threshold, const float* leaf, const float* x,
          size_t nf, size_t rows, float* out, size_t ng) {
  constexpr uint32_t kDefaultLeft = 1u << 31, kMask = (1u << 30) - 1;
  constexpr uint32_t kInternal = (1u << kDepth) - 1;
  auto step = [&](const float* row, uint32_t h) -> uint32_t {
    const uint32_t f = feature[h];
    const float v = row[f & kMask];
    bool right;
    if constexpr (kMissing) {
      right = !(v < threshold[h]) & !(std::isnan(v) & ((f & kDefaultLeft) != 0));
    } else {
      right = v >= threshold[h];
    }
    return 2 * h + 1 + right;
  };
  constexpr size_t kLanes = 16;
  size_t r = 0;
  for (; r + kLanes <= rows; r += kLanes) {
    uint32_t h[kLanes] = {};
    const float* base = x + r * nf;
    for (int d = 0; d < kDepth; ++d) {
      for (size_t k = 0; k < kLanes; ++k) h[k] = step(base + k * nf, h[k]);
    }
    for (size_t k = 0; k < kLanes; ++k) out[(r + k) * ng] += leaf[h[k] - kInternal];
  }
  for (; r < rows; ++r) {
    uint32_t h = 0;
    for (int d = 0; d < kDepth; ++d) h = step(x + r * nf, h);
    out[r * ng] += leaf[h - kInternal];
  }
}

template <int kDepth>
void WalkDepth(bool missing, const uint32_t* feature, const float* threshold, const float* leaf,
               const float* x, size_t nf, size_t rows, float* out, size_t ng) {
  if (missing) {
    Walk<kDepth, true>(feature, threshold, leaf, x, nf, rows, out, ng);
  } else {
    Walk<kDepth, false>(feature, threshold, leaf, x, nf, rows, out, ng);
  }
}

void WalkPerfect(uint32_t depth, bool missing, const uint32_t* feature, const float* threshold,
                 const float* leaf, const float* x, size_t nf, size_t rows, float* out, size_t ng) {
  switch (depth) {
#define KADE_WALK_DEPTH(d) \
  case d:                  \
    return WalkDepth<d>(missing, feature, threshold, leaf, x, nf, rows, out, ng);
    KADE_WALK_DEPTH(0)
    KADE_WALK_DEPTH(1)
    KADE_WALK_DEPTH(2)
    KADE_WALK_DEPTH(3)
    KADE_WALK_DEPTH(4)
    KADE_WALK_DEPTH(5)
    KADE_WALK_DEPTH(6)
    KADE_WALK_DEPTH(7)
    KADE_WALK_DEPTH(8)
    KADE_WALK_DEPTH(9)
    KADE_WALK_DEPTH(10)
#undef KADE_WALK_DEPTH
    default:
      std::abort();  // BuildPerfect keeps deeper trees out
  }
}

}  // namespace

// XGBoost's rule: a valid category (0 <= v < 2^24, truncated to an integer) in the split's
// set goes right; anything else, including a category the split never saw, goes left.
bool TreeModel::CategoryGoesRight(size_t node_index, float v) const {
  if (!(v >= 0.0f) || v >= 16777216.0f) return false;
  uint32_t c = static_cast<uint32_t>(v);
  if (c >= cat_bits_[node_index]) return false;
  return (cat_words_[cat_begin_[node_index] + c / 32] >> (c % 32)) & 1u;
}

template <bool kHasCategorical>
void TreeModel::PredictTreesBlock(const float* x, size_t rows, float* out, bool any_missing) const {
  const size_t nf = static_cast<size_t>(num_features_);
  const size_t ng = static_cast<size_t>(num_groups_);
  const Node* nodes = nodes_.data();
  for (size_t t = 0; t < tree_offset_.size(); ++t) {
    const Node* tree = nodes + tree_offset_[t];
    const size_t g = static_cast<size_t>(tree_group_[t]);
    if (is_perfect_[t]) {
      const Perfect& p = perfect_[t];
      const uint32_t* feature = pf_feature_.data() + p.node_offset;
      const float* threshold = pf_threshold_.data() + p.node_offset;
      const float* leaf = pf_leaf_.data() + p.leaf_offset;
      WalkPerfect(p.depth, any_missing, feature, threshold, leaf, x, nf, rows, out + g, ng);
      continue;
    }
    // Four rows walk the tree together: their loads are independent, so the core overlaps
    // them instead of waiting on one chain of dependent loads.
    size_t r = 0;
    auto step = [&](const float* row, uint32_t i) -> uint32_t {
      const Node& n = tree[i];
      const float v = row[n.feature & kFeatureMask];
      bool right;
      if (std::isnan(v)) {
        right = !(n.feature & kDefaultLeft);
      } else if (kHasCategorical && (n.feature & kCategorical)) {
        right = CategoryGoesRight(tree_offset_[t] + i, v);
      } else {
        right = !(v < n.value);
      }
      return static_cast<uint32_t>(n.left) + right;
    };
    for (; r + 4 <= rows; r += 4) {
      const float* r0 = x + r * nf;
      uint32_t i0 = 0, i1 = 0, i2 = 0, i3 = 0;
      bool live;
      do {
        live = false;
        if (tree[i0].left) i0 = step(r0, i0), live = true;
        if (tree[i1].left) i1 = step(r0 + nf, i1), live = true;
        if (tree[i2].left) i2 = step(r0 + 2 * nf, i2), live = true;
        if (tree[i3].left) i3 = step(r0 + 3 * nf, i3), live = true;
      } while (live);
      out[r * ng + g] += tree[i0].value;
      out[(r + 1) * ng + g] += tree[i1].value;
      out[(r + 2) * ng + g] += tree[i2].value;
      out[(r + 3) * ng + g] += tree[i3].value;
    }
    for (; r < rows; ++r) {
      const float* row = x + r * nf;
      uint32_t i = 0;
      while (tree[i].left) i = step(row, i);
      out[r * ng + g] += tree[i].value;
    }
  }
}

void TreeModel::PredictLinear(const float* x, size_t rows, float* out) const {
  const size_t nf = static_cast<size_t>(num_features_);
  const size_t ng = static_cast<size_t>(num_groups_);
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * nf;
    for (size_t g = 0; g < ng; ++g) {
      float sum = linear_weights_[nf * ng + g] + base_margin_;  // bias first, as XGBoost
      for (size_t j = 0; j < nf; ++j) {
        if (!std::isnan(row[j])) sum += row[j] * linear_weights_[j * ng + g];
      }
      out[r * ng + g] = sum;
    }
  }
}

void TreeModel::PredictMargin(const float* x, size_t rows, float* out) const {
  const size_t ng = static_cast<size_t>(num_groups_);
  if (booster_ == "gblinear") {
    PredictLinear(x, rows, out);
    return;
  }
  std::fill(out, out + rows * ng, base_margin_);
  // Blocks of rows keep a block's rows and the current tree in cache together.
  constexpr size_t kBlock = 64;
  const size_t nf = static_cast<size_t>(num_features_);
  for (size_t b = 0; b < rows; b += kBlock) {
    const size_t n = std::min(kBlock, rows - b);
    bool missing = false;  // a block without NaN takes the shorter step
    for (const float* v = x + b * nf; v != x + (b + n) * nf; ++v) missing |= std::isnan(*v);
    if (has_categorical_) {
      PredictTreesBlock<true>(x + b * nf, n, out + b * ng, missing);
    } else {
      PredictTreesBlock<false>(x + b * nf, n, out + b * ng, missing);
    }
  }
}

void TreeModel::Predict(const float* x, size_t rows, float* out) const {
  const size_t ng = static_cast<size_t>(num_groups_);
  if (transform_ == Transform::kArgmax) {
    std::vector<float> margin(rows * ng);
    PredictMargin(x, rows, margin.data());
    for (size_t r = 0; r < rows; ++r) {
      const float* m = margin.data() + r * ng;
      out[r] = static_cast<float>(std::max_element(m, m + ng) - m);
    }
    return;
  }
  PredictMargin(x, rows, out);
  const size_t n = rows * ng;
  switch (transform_) {
    case Transform::kSigmoid:
      for (size_t i = 0; i < n; ++i) out[i] = Sigmoid(out[i]);
      break;
    case Transform::kExp:
      for (size_t i = 0; i < n; ++i) out[i] = std::exp(out[i]);
      break;
    case Transform::kHinge:
      for (size_t i = 0; i < n; ++i) out[i] = out[i] > 0.0f ? 1.0f : 0.0f;
      break;
    case Transform::kSoftmax:
      for (size_t r = 0; r < rows; ++r) {
        float* m = out + r * ng;
        float wmax = *std::max_element(m, m + ng);
        double wsum = 0.0;  // XGBoost sums in double, then divides in float
        for (size_t k = 0; k < ng; ++k) {
          m[k] = std::exp(m[k] - wmax);
          wsum += m[k];
        }
        for (size_t k = 0; k < ng; ++k) m[k] /= static_cast<float>(wsum);
      }
      break;
    default:
      break;
  }
}

}  // namespace kade::ml
