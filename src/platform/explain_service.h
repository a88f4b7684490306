// Global explanations of registered model versions (docs/explanations.md): SHAP importance
// (mean |SHAP| per feature, and the mean signed contribution) over a uniform sample of a
// dataset version's rows in the version's encoding, computed by the tree engine's exact
// TreeSHAP. By default the data is the version's training dataset version (lineage).
//
// Thread-safe (no state of its own).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "platform/dataset_service.h"
#include "platform/registry_service.h"

namespace kade {

struct ImportanceReport {
  std::string model;
  int64_t version = 0;
  std::string dataset;  // dataset@version the rows came from
  int64_t rows = 0;     // rows explained (a sample of at most `max_rows`)
  int64_t dataset_rows = 0;
  struct Feature {
    std::string name;
    double mean_abs = 0, mean = 0;
  };
  struct Group {
    std::string name;  // the class for multi-class models; "" otherwise
    double base_value = 0;
    std::vector<Feature> features;  // largest mean |SHAP| first
  };
  std::vector<Group> groups;
};

class ExplainService {
 public:
  ExplainService(RegistryService* registry, DatasetService* datasets);

  // `version_ref`: a number or an alias; `dataset` empty: the training data from lineage;
  // `max_rows` 1..100,000.
  absl::StatusOr<ImportanceReport> Importance(const Project& project, absl::string_view model,
                                              absl::string_view version_ref, std::string dataset,
                                              std::string dataset_version, int64_t max_rows);

 private:
  RegistryService* registry_;
  DatasetService* datasets_;
};

}  // namespace kade
