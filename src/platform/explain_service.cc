#include "platform/explain_service.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "ml/batch_scorer.h"

namespace kade {

ExplainService::ExplainService(RegistryService* registry, DatasetService* datasets)
    : registry_(registry), datasets_(datasets) {}

absl::StatusOr<ImportanceReport> ExplainService::Importance(
    const Project& project, absl::string_view model, absl::string_view version_ref,
    std::string dataset, std::string dataset_version, int64_t max_rows) {
  if (max_rows < 1 || max_rows > 100000) {
    return absl::InvalidArgumentError("rows: expected 1 to 100000");
  }
  ASSIGN_OR_RETURN(ModelVersion mv, registry_->GetVersion(project, model, version_ref));
  const Json manifest = ParseJsonOr(mv.manifest, Json::object());
  if (dataset.empty()) {
    const Json lineage = manifest.value("lineage", Json::object());
    dataset = lineage.value("dataset", std::string());
    if (dataset.empty() || !lineage.contains("version")) {
      return absl::FailedPreconditionError(
          absl::StrCat("version ", mv.version,
                       " has no training dataset in its lineage: name a dataset to explain it on"));
    }
    dataset_version = absl::StrCat(lineage["version"].get<int64_t>());
  }
  if (dataset_version.empty()) dataset_version = "latest";
  ASSIGN_OR_RETURN(DatasetVersion dv,
                   datasets_->GetVersion(project, dataset, dataset_version, false));
  ASSIGN_OR_RETURN(auto servable, registry_->LoadServable(project, mv));
  const ml::Encoding& sig = servable->signature();
  ml::SampleEncoder sample(sig, static_cast<size_t>(max_rows));
  RETURN_IF_ERROR(datasets_->Scan(project, dataset, absl::StrCat(dv.version), &sample));
  ImportanceReport out;
  out.model = std::string(model);
  out.version = mv.version;
  out.dataset = absl::StrCat(dataset, "@", dv.version);
  out.rows = static_cast<int64_t>(sample.rows());
  out.dataset_rows = sample.seen();
  if (sample.rows() == 0) return absl::FailedPreconditionError("the dataset version has no rows");
  ml::Batch batch;
  batch.rows = sample.rows();
  batch.x = sample.x();
  ASSIGN_OR_RETURN(std::vector<double> shap, servable->Explain(batch));
  const size_t nf = sig.features.size(), n = batch.rows;
  const size_t groups = shap.size() / n / (nf + 1);
  for (size_t g = 0; g < groups; ++g) {
    ImportanceReport::Group grp;
    if (groups > 1) grp.name = g < sig.classes.size() ? sig.classes[g] : absl::StrCat(g);
    std::vector<double> abs_sum(nf, 0), sum(nf, 0);
    for (size_t r = 0; r < n; ++r) {
      const double* phi = shap.data() + (r * groups + g) * (nf + 1);
      for (size_t j = 0; j < nf; ++j) {
        abs_sum[j] += std::abs(phi[j]);
        sum[j] += phi[j];
      }
      if (r == 0) grp.base_value = phi[nf];
    }
    for (size_t j = 0; j < nf; ++j) {
      grp.features.push_back({sig.features[j].name, abs_sum[j] / static_cast<double>(n),
                              sum[j] / static_cast<double>(n)});
    }
    std::stable_sort(grp.features.begin(), grp.features.end(),
                     [](const auto& a, const auto& b) { return a.mean_abs > b.mean_abs; });
    out.groups.push_back(std::move(grp));
  }
  return out;
}

}  // namespace kade
