#include "platform/training_service.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/notification.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/status.h"
#include "core/time.h"
#include "core/version.h"
#include "data/ingest.h"
#include "ml/train.h"
#include "ml/xgb.h"
#include "platform/audit_log.h"
#include "platform/policy.h"
#include "spdlog/spdlog.h"

namespace kade {
namespace {

std::vector<std::string> NullTokens(const Dataset& d) {
  Json options = ParseJsonOr(d.options, Json::object());
  if (options.is_object() && options.contains("null_tokens") && options["null_tokens"].is_array()) {
    std::vector<std::string> out;
    for (const auto& t : options["null_tokens"]) {
      if (t.is_string()) out.push_back(t.get<std::string>());
    }
    return out;
  }
  return DefaultNullTokens();
}

// Everything training needs to know about the data, checked without reading it.
struct Plan {
  ml::TrainSpec spec;
  Dataset dataset;
  DatasetVersion version;
  ml::Encoding encoding;
};

absl::StatusOr<Plan> MakePlan(DatasetService* datasets, const Project& project,
                              ml::TrainSpec spec) {
  Plan p;
  ASSIGN_OR_RETURN(p.dataset, datasets->Get(project, spec.dataset));
  ASSIGN_OR_RETURN(p.version, datasets->GetVersion(project, spec.dataset, spec.version, true));
  ASSIGN_OR_RETURN(Schema schema, SchemaFromJson(ParseJsonOr(p.version.schema, Json::array())));
  ASSIGN_OR_RETURN(
      p.encoding,
      ml::PlanEncoding(spec, schema, ParseJsonOr(p.version.profile, Json::object()),
                       ParseJsonOr(p.dataset.roles, Json::object()), NullTokens(p.dataset)));
  spec.version = std::to_string(p.version.version);  // "latest" pinned at submission
  for (std::string* other : {&spec.validation_version, &spec.test_version}) {
    if (other->empty()) continue;
    ASSIGN_OR_RETURN(DatasetVersion v, datasets->GetVersion(project, spec.dataset, *other, false));
    *other = std::to_string(v.version);
  }
  spec.target = p.encoding.target;
  p.spec = std::move(spec);
  return p;
}

}  // namespace

struct TrainingService::TrainContext {
  const Job& job;
  const RequestContext& ctx;
  const Project& project;
  const Plan& plan;
  const ml::Table& table;
  int64_t experiment_id;
  const std::atomic<bool>& cancel;
  std::string owner;  // lease owner, for recording the attempt's run
  const std::function<void(const std::string&)>& log;  // the job's log
  const ml::Table* validation = nullptr;
  const ml::Table* test = nullptr;
};

TrainingService::TrainingService(MetadataStore* store, JobService* jobs, DatasetService* datasets,
                                 TrackingService* tracking, ArtifactService* artifacts,
                                 int threads_per_job)
    : store_(store),
      jobs_(jobs),
      datasets_(datasets),
      tracking_(tracking),
      artifacts_(artifacts),
      threads_per_job_(threads_per_job) {
  // Not retried by the queue: a failed training fails for a reason the next attempt meets
  // again (its runs record what happened); an interrupted one is taken up by its lease.
  jobs_->RegisterKind(
      "train",
      [this](const Job& job, const RequestContext& ctx, const std::atomic<bool>& cancel,
             const std::function<void(const std::string&)>& log) {
        return RunJob(job, ctx, cancel, log);
      },
      /*retry=*/false);
}

absl::StatusOr<Job> TrainingService::Submit(const RequestContext& ctx, const Project& project,
                                            ml::TrainSpec spec) {
  ASSIGN_OR_RETURN(Plan plan, MakePlan(datasets_, project, std::move(spec)));
  RETURN_IF_ERROR(ml::CheckParams(plan.spec, plan.encoding));
  const std::string uuid = HexEncode(RandomBytes(8));
  // The quality guard: a version that failed a blocking check is refused unless forced,
  // and forced use is audited (by the dataset service).
  RETURN_IF_ERROR(datasets_->RecordUsage(ctx, project, plan.spec.dataset, plan.spec.version,
                                         "training-job", uuid, plan.spec.force));
  return jobs_->Enqueue(
      ctx, project, "train", plan.spec.ToJson(), "job.submit",
      Json{{"dataset", absl::StrCat(plan.spec.dataset, "@", plan.spec.version)},
           {"target", plan.spec.target},
           {"algorithm", plan.spec.algorithm}},
      absl::StrCat("queued: train ", plan.spec.algorithm, " on ", plan.spec.dataset, "@",
                   plan.spec.version, " for '", plan.spec.target, "' (", plan.encoding.task, ", ",
                   plan.encoding.features.size(), " features)"),
      uuid);
}

absl::StatusOr<Job> TrainingService::Reproduce(const RequestContext& ctx, const Project& project,
                                               absl::string_view run_id) {
  ASSIGN_OR_RETURN(RunView run, tracking_->GetRun(ctx.principal, run_id));
  if (run.project != project.name) {
    return absl::NotFoundError(absl::StrCat("no run '", run_id, "' in project ", project.name));
  }
  auto manifest = artifacts_->OpenForDownload(
      project, absl::StrCat("runs/", run.run.uuid, "/artifacts/model/kade_model.json"));
  if (manifest.ok()) {
    std::ifstream in(manifest->local_path);
    std::stringstream text;
    text << in.rdbuf();
    Json m = ParseJsonOr(text.str(), Json::object());
    if (m.is_object() && m.contains("spec")) {
      ASSIGN_OR_RETURN(ml::TrainSpec spec, ml::TrainSpec::FromJson(m["spec"]));
      return Submit(ctx, project, std::move(spec));
    }
  }
  std::string job_id;
  for (const auto& [k, v] : run.data.tags) {
    if (k == "kade.job") job_id = v;
  }
  if (job_id.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "run '", run_id, "' was not produced by a training job; there is no spec to repeat"));
  }
  ASSIGN_OR_RETURN(Job job, jobs_->Get(project, job_id));
  ASSIGN_OR_RETURN(ml::TrainSpec spec,
                   ml::TrainSpec::FromJson(ParseJsonOr(job.spec, Json::object())));
  return Submit(ctx, project, std::move(spec));
}

void TrainingService::RecordAttemptRun(const TrainContext& tc, const std::string& run_id) {
  absl::Status s =
      store_->Write([&](Transaction& tx) { return tx.jobs().SetRun(tc.job.id, tc.owner, run_id); });
  if (!s.ok()) spdlog::warn("job {}: {}", tc.job.uuid, s.ToString());
}

absl::StatusOr<std::pair<std::string, Json>> TrainingService::RunJob(
    const Job& job, const RequestContext& ctx, const std::atomic<bool>& cancel,
    const std::function<void(const std::string&)>& log) {
  ASSIGN_OR_RETURN(Project project, jobs_->ProjectOf(job));
  ASSIGN_OR_RETURN(ml::TrainSpec spec, ml::TrainSpec::FromJson(ParseJsonOr(job.spec, Json())));
  ASSIGN_OR_RETURN(Plan plan, MakePlan(datasets_, project, spec));

  // Load the version's bytes into features and labels (and the validation and test
  // versions, encoded like the training version).
  auto load = [&](const std::string& version, ml::TableBuilder& builder) -> absl::Status {
    return datasets_->Scan(project, plan.spec.dataset, version, &builder);
  };
  ml::TableBuilder builder(plan.encoding);
  RETURN_IF_ERROR(load(plan.spec.version, builder));
  ASSIGN_OR_RETURN(ml::Table table, builder.Finish());
  log(absl::StrFormat("loaded %s@%s: %d rows", plan.spec.dataset, plan.spec.version, table.rows()));
  std::optional<ml::Table> validation, test;
  for (auto [version, slot, role] :
       {std::tuple{plan.spec.validation_version, &validation, "validation"},
        std::tuple{plan.spec.test_version, &test, "test"}}) {
    if (version.empty()) continue;
    auto b = ml::TableBuilder::WithFixedEncoding(table.encoding);
    absl::Status s = load(version, b);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat(role, " version: ", s.message()));
    absl::StatusOr<ml::Table> t = b.Finish();
    if (!t.ok()) {
      return absl::Status(t.status().code(),
                          absl::StrCat(role, " version: ", t.status().message()));
    }
    *slot = std::move(*t);
    log(absl::StrFormat("loaded %s@%s for %s: %d rows", plan.spec.dataset, version, role,
                        (*slot)->rows()));
  }

  // The tracked run.
  absl::StatusOr<Experiment> exp =
      tracking_->GetExperimentByName(ctx.principal, project, plan.spec.experiment);
  if (absl::IsNotFound(exp.status())) {
    exp = tracking_->CreateExperiment(ctx, project, plan.spec.experiment, {});
  }
  RETURN_IF_ERROR(exp.status());
  TrainContext tc{job,
                  ctx,
                  project,
                  plan,
                  table,
                  exp->id,
                  cancel,
                  job.lease_owner,
                  log,
                  validation ? &*validation : nullptr,
                  test ? &*test : nullptr};
  if (!plan.spec.search) {
    std::string run_name =
        plan.spec.run_name.empty()
            ? absl::StrCat(plan.spec.algorithm, "-", plan.spec.dataset, "@", plan.spec.version)
            : plan.spec.run_name;
    ASSIGN_OR_RETURN(Trained t, TrainAndRecord(tc, plan.spec, run_name, "", threads_per_job_,
                                               {{"kade.job", job.uuid}}));
    log(absl::StrCat("model ", t.model_sha.substr(0, 12), "… saved with run ", t.run_id));
    return std::make_pair(t.run_id, Json{{"run_id", t.run_id},
                                         {"metrics", t.metrics},
                                         {"rounds", t.rounds},
                                         {"model_sha256", t.model_sha}});
  }
  return RunSearch(tc);
}

absl::StatusOr<TrainingService::Trained> TrainingService::TrainAndRecord(
    const TrainContext& tc, const ml::TrainSpec& spec, const std::string& run_name,
    const std::string& parent_run, int threads,
    std::vector<std::pair<std::string, std::string>> extra_tags) {
  const RequestContext& ctx = tc.ctx;
  const Project& project = tc.project;
  const Plan& plan = tc.plan;
  const ml::Table& table = tc.table;
  const Job& job = tc.job;
  const auto& log = tc.log;
  std::vector<std::pair<std::string, std::string>> tags = {
      {"kade.source", "training-job"},
      {"kade.version", kVersion},
      {"xgboost.version", ml::XgboostVersion()},
      {"algorithm", spec.algorithm}};
  if (!parent_run.empty()) tags.emplace_back("mlflow.parentRunId", parent_run);
  for (auto& t : extra_tags) tags.push_back(std::move(t));
  ASSIGN_OR_RETURN(RunView run,
                   tracking_->CreateRun(ctx, tc.experiment_id, run_name, NowMillis(), tags));
  const std::string run_id = run.run.uuid;
  if (parent_run.empty()) {
    log(absl::StrCat("run ", run_id));
    RecordAttemptRun(tc, run_id);
  }
  RETURN_IF_ERROR(
      tracking_->LogInputs(ctx, run_id,
                           {RunInput{plan.spec.dataset, plan.version.sha256,
                                     absl::StrCat("kade://projects/", project.name, "/datasets/",
                                                  plan.spec.dataset, "@", plan.version.version),
                                     "train", "{}"}}));
  for (const auto& [version, role] :
       {std::pair{spec.validation_version, "validation"}, std::pair{spec.test_version, "test"}}) {
    if (version.empty()) continue;
    auto v = datasets_->GetVersion(project, plan.spec.dataset, version, false);
    if (!v.ok()) continue;
    RETURN_IF_ERROR(
        tracking_->LogInputs(ctx, run_id,
                             {RunInput{plan.spec.dataset, v->sha256,
                                       absl::StrCat("kade://projects/", project.name, "/datasets/",
                                                    plan.spec.dataset, "@", v->version),
                                       role, "{}"}}));
  }
  auto fail_run = [&](const absl::Status& s) {
    (void)tracking_->UpdateRun(ctx, run_id, std::string(absl::IsCancelled(s) ? "KILLED" : "FAILED"),
                               NowMillis(), std::nullopt);
    return s;
  };
  ml::TrainOptions to;
  to.threads = threads;
  if (parent_run.empty()) to.log = log;  // the trials of a search log one line each instead
  to.cancel = &tc.cancel;
  to.validation = tc.validation;
  to.test = tc.test;
  absl::StatusOr<ml::TrainResult> trained = ml::Train(spec, table, to);
  if (!trained.ok()) return fail_run(trained.status());
  const ml::TrainResult& t = *trained;

  // Params, per-round metrics and the holdout metrics.
  std::vector<std::pair<std::string, std::string>> params = {
      {"algorithm", spec.algorithm},
      {"task", t.encoding.task},
      {"target", t.encoding.target},
      {"num_rounds", std::to_string(spec.num_rounds)},
      {"early_stopping_rounds", std::to_string(spec.early_stopping_rounds)},
      {"holdout", absl::StrCat(spec.holdout)},
      {"seed", std::to_string(spec.seed)},
      {"features", std::to_string(t.encoding.features.size())},
      {"dataset", absl::StrCat(plan.spec.dataset, "@", plan.spec.version)}};
  for (const auto& [k, v] : spec.params) params.emplace_back(k, v);
  std::vector<MetricPoint> points;
  int64_t ts = NowMillis();
  for (const auto& p : t.history) points.push_back({p.key, p.value, 0, ts, p.step});
  Json scalars = Json::object();
  for (auto it = t.evaluation.begin(); it != t.evaluation.end(); ++it) {
    if (it.value().is_number()) {
      scalars[it.key()] = it.value();
      points.push_back({it.key(), it.value().get<double>(), 0, ts, t.rounds});
    }
  }
  points.push_back({"rounds", static_cast<double>(t.rounds), 0, ts, t.rounds});
  for (auto it = t.cv.begin(); it != t.cv.end(); ++it) {
    points.push_back({absl::StrCat("cv/", it.key()), it.value()["mean"].get<double>(), 0, ts, 0});
    points.push_back(
        {absl::StrCat("cv/", it.key(), "_std"), it.value()["std"].get<double>(), 0, ts, 0});
  }
  if (absl::Status s = tracking_->LogBatch(ctx, run_id, {}, params, {}); !s.ok()) {
    return fail_run(s);
  }
  for (size_t start = 0; start < points.size(); start += kMaxBatchMetrics) {
    std::vector<MetricPoint> chunk(
        points.begin() + static_cast<long>(start),
        points.begin() + static_cast<long>(std::min(points.size(), start + kMaxBatchMetrics)));
    if (absl::Status s = tracking_->LogBatch(ctx, run_id, chunk, {}, {}); !s.ok()) {
      return fail_run(s);
    }
  }

  // Artifacts: the model, its manifest, the evaluation (curves, importance) and the holdout
  // predictions.
  Json importance = Json::array();
  for (const auto& [f, g] : t.importance) importance.push_back(Json{{"feature", f}, {"gain", g}});
  Json manifest{{"format", "kade-model/1"},
                {"flavor", "xgboost"},
                {"model_file", "model.json"},
                {"xgboost_version", ml::XgboostVersion()},
                {"kade_version", kVersion},
                {"signature", t.encoding.ToJson()},
                {"rounds", t.rounds},
                {"best_iteration", t.best_iteration},
                {"preprocessing", t.preprocessing},
                {"metrics", scalars},
                {"lineage",
                 {{"dataset", plan.spec.dataset},
                  {"version", plan.version.version},
                  {"sha256", plan.version.sha256},
                  {"run_id", run_id},
                  {"job_id", job.uuid}}},
                {"spec", spec.ToJson()}};
  std::string predictions = "line,label,prediction\n";
  const size_t per = t.encoding.task == "multiclass" ? t.encoding.classes.size() : 1;
  for (size_t i = 0; i < t.holdout_lines.size(); ++i) {
    absl::StrAppend(&predictions, t.holdout_lines[i], ",", t.holdout_labels[i], ",");
    for (size_t k = 0; k < per; ++k) {
      absl::StrAppendFormat(&predictions, "%s%.9g", k ? ";" : "", t.holdout_pred[i * per + k]);
    }
    predictions.push_back('\n');
  }
  Json evaluation = t.evaluation;
  evaluation["importance"] = importance;
  evaluation["train_rows"] = t.train_rows;
  evaluation["evaluated_on"] = t.evaluated_on;
  if (!t.cv.empty()) evaluation["cross_validation"] = t.cv;
  if (!t.encoding.classes.empty()) evaluation["classes"] = t.encoding.classes;
  evaluation["holdout_rows"] = t.holdout_lines.size();
  const std::pair<std::string, std::pair<std::string, std::string>> files[] = {
      {"model/model.json", {t.model_json, "application/json"}},
      {"model/kade_model.json", {manifest.dump(2), "application/json"}},
      {"eval/evaluation.json", {evaluation.dump(2), "application/json"}},
      {"eval/predictions.csv", {predictions, "text/csv"}}};
  std::string model_sha;
  for (const auto& [name, body] : files) {
    auto up = artifacts_->BeginUpload(project, absl::StrCat("runs/", run_id, "/artifacts/", name),
                                      body.second);
    if (!up.ok()) return fail_run(up.status());
    if (auto s = (*up)->Append(body.first); !s.ok()) return fail_run(s);
    auto done = (*up)->Finish(ctx);
    if (!done.ok()) return fail_run(done.status());
    if (name == "model/model.json") model_sha = done->sha256;
  }
  ASSIGN_OR_RETURN(Run finished, tracking_->UpdateRun(ctx, run_id, std::string("FINISHED"),
                                                      NowMillis(), std::nullopt));
  (void)finished;
  Trained out;
  out.run_id = run_id;
  out.metrics = scalars;
  out.rounds = t.rounds;
  out.model_sha = model_sha;
  return out;
}

absl::StatusOr<std::pair<std::string, Json>> TrainingService::RunSearch(const TrainContext& tc) {
  const ml::SearchSpec& search = *tc.plan.spec.search;
  const auto& log = tc.log;
  ASSIGN_OR_RETURN(auto trials, search.Trials(tc.plan.spec.seed));
  const std::string& task = tc.plan.encoding.task;
  std::string metric = search.metric;
  if (metric.empty()) metric = task == "binary" ? "auc" : task == "multiclass" ? "logloss" : "rmse";
  static const std::set<std::string> kHigherIsBetter = {"auc", "accuracy", "precision", "recall",
                                                        "f1",  "f1_macro", "r2"};
  std::string direction = search.direction;
  if (direction.empty()) direction = kHigherIsBetter.count(metric) ? "max" : "min";
  std::string name = tc.plan.spec.run_name.empty()
                         ? absl::StrCat(search.strategy, "-search-", tc.plan.spec.dataset, "@",
                                        tc.plan.spec.version)
                         : tc.plan.spec.run_name;
  ASSIGN_OR_RETURN(RunView parent, tracking_->CreateRun(tc.ctx, tc.experiment_id, name, NowMillis(),
                                                        {{"kade.job", tc.job.uuid},
                                                         {"kade.source", "training-job"},
                                                         {"kade.search", search.strategy},
                                                         {"kade.version", kVersion}}));
  const std::string parent_id = parent.run.uuid;
  RecordAttemptRun(tc, parent_id);
  RETURN_IF_ERROR(tracking_->LogBatch(
      tc.ctx, parent_id, {},
      {{"search.strategy", search.strategy},
       {"search.space", search.ToJson()["space"].dump()},
       {"search.trials", std::to_string(trials.size())},
       {"search.metric", metric},
       {"search.direction", direction},
       {"algorithm", tc.plan.spec.algorithm},
       {"dataset", absl::StrCat(tc.plan.spec.dataset, "@", tc.plan.spec.version)}},
      {}));
  log(absl::StrFormat("%s search: %d trials, %d at a time, best by holdout %s (%s); parent run %s",
                      search.strategy, trials.size(), search.parallel, metric, direction,
                      parent_id));

  // Trials run on `parallel` threads sharing the job's cores; each is a child run.
  struct Outcome {
    absl::Status status;
    Trained trained;
    double seconds = 0;  // the trial's own wall time
    int rung = -1;       // successive halving: the last rung the trial reached
  };
  std::vector<Outcome> outcomes(trials.size());
  const int parallel = std::max(1, std::min<int>(search.parallel, static_cast<int>(trials.size())));
  const int threads = std::max(1, threads_per_job_ / parallel);
  // Trains the trials in `which` with `rounds` rounds, `parallel` at a time.
  auto run_batch = [&](const std::vector<size_t>& which, int rounds, int rung) {
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t w = next++; w < which.size(); w = next++) {
        const size_t i = which[w];
        if (tc.cancel.load()) {
          outcomes[i].status = absl::CancelledError("cancelled");
          continue;
        }
        ml::TrainSpec spec = tc.plan.spec;
        spec.search.reset();
        spec.num_rounds = rounds;
        for (const auto& [k, v] : trials[i]) spec.params[k] = v;
        std::vector<std::pair<std::string, std::string>> tags = {{"kade.trial", std::to_string(i)}};
        std::string run_name = absl::StrCat(name, "-trial-", i);
        if (rung >= 0) {
          tags.emplace_back("kade.rung", std::to_string(rung));
          absl::StrAppend(&run_name, "-rung-", rung);
        }
        auto started = std::chrono::steady_clock::now();
        absl::StatusOr<Trained> t = TrainAndRecord(tc, spec, run_name, parent_id, threads, tags);
        outcomes[i].seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::string desc;
        for (const auto& [k, v] : trials[i])
          absl::StrAppend(&desc, desc.empty() ? "" : " ", k, "=", v);
        if (t.ok()) {
          outcomes[i].status = absl::OkStatus();
          outcomes[i].trained = *t;
          outcomes[i].rung = rung;
          double m = t->metrics.contains(metric) && t->metrics[metric].is_number()
                         ? t->metrics[metric].get<double>()
                         : std::nan("");
          log(absl::StrFormat("trial %d%s (%s, %d rounds): %s %.5f", i,
                              rung >= 0 ? absl::StrCat(" rung ", rung) : "", desc, rounds, metric,
                              m));
        } else {
          outcomes[i].status = t.status();
          log(absl::StrFormat("trial %d (%s) failed: %s", i, desc, t.status().message()));
        }
      }
    };
    std::vector<std::thread> pool;
    for (int w = 1; w < std::min<int>(parallel, static_cast<int>(which.size())); ++w) {
      pool.emplace_back(worker);
    }
    worker();
    for (auto& th : pool) th.join();
  };
  auto value_of = [&](size_t i) {
    const Json& m = outcomes[i].trained.metrics;
    return m.contains(metric) && m[metric].is_number() ? m[metric].get<double>() : std::nan("");
  };
  int final_rung = -1;
  if (search.strategy != "halving") {
    std::vector<size_t> all(trials.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    run_batch(all, tc.plan.spec.num_rounds, -1);
  } else {
    // Successive halving: every trial gets a small budget of rounds; the best third goes on
    // to the next rung with three times the rounds, until one trial remains or the budget
    // reaches num_rounds.
    int rungs = 1;
    for (size_t n = trials.size(); n > 1; n = (n + 2) / 3) ++rungs;
    std::vector<size_t> alive(trials.size());
    for (size_t i = 0; i < alive.size(); ++i) alive[i] = i;
    for (int r = 0; r < rungs && !alive.empty() && !tc.cancel.load(); ++r) {
      int rounds = tc.plan.spec.num_rounds;
      for (int k = r; k < rungs - 1; ++k) rounds = std::max(1, rounds / 3);
      run_batch(alive, rounds, r);
      final_rung = r;
      std::vector<size_t> scored;
      for (size_t i : alive) {
        if (outcomes[i].status.ok() && std::isfinite(value_of(i))) scored.push_back(i);
      }
      std::sort(scored.begin(), scored.end(), [&](size_t x, size_t y) {
        return direction == "max" ? value_of(x) > value_of(y) : value_of(x) < value_of(y);
      });
      if (r + 1 < rungs) scored.resize((scored.size() + 2) / 3);
      alive = scored;
    }
  }

  // The best trial, the results table, and the parent's record of both.
  int best = -1;
  double best_value = 0;
  Json results = Json::array();
  std::vector<MetricPoint> points;
  int64_t ts = NowMillis();
  for (size_t i = 0; i < trials.size(); ++i) {
    Json row{{"trial", i}, {"params", trials[i]}};
    if (!outcomes[i].status.ok()) {
      row["error"] = std::string(outcomes[i].status.message());
      results.push_back(row);
      continue;
    }
    const Trained& t = outcomes[i].trained;
    row["run_id"] = t.run_id;
    row["metrics"] = t.metrics;
    if (search.strategy == "halving") row["rung"] = outcomes[i].rung;
    results.push_back(row);
    if (!t.metrics.contains(metric) || !t.metrics[metric].is_number()) continue;
    double v = t.metrics[metric].get<double>();
    if (search.strategy == "halving" && outcomes[i].rung != final_rung) {
      points.push_back({absl::StrCat("trial/", metric), v, 0, ts, static_cast<int64_t>(i)});
      continue;  // stopped at an earlier rung: not a candidate for best
    }
    points.push_back({absl::StrCat("trial/", metric), v, 0, ts, static_cast<int64_t>(i)});
    if (best < 0 || (direction == "max" ? v > best_value : v < best_value)) {
      best = static_cast<int>(i);
      best_value = v;
    }
  }
  auto finish_parent = [&](const char* status) {
    (void)tracking_->UpdateRun(tc.ctx, parent_id, std::string(status), NowMillis(), std::nullopt);
  };
  if (tc.cancel.load()) {
    finish_parent("KILLED");
    return absl::CancelledError("cancelled during the search");
  }
  if (best < 0) {
    finish_parent("FAILED");
    return absl::InternalError("every trial of the search failed (see the job's log)");
  }
  const Trained& winner = outcomes[static_cast<size_t>(best)].trained;
  double trial_seconds = 0;
  for (const auto& o : outcomes) trial_seconds += o.seconds;
  points.push_back(
      {absl::StrCat("best/", metric), best_value, 0, ts, static_cast<int64_t>(trials.size())});
  std::vector<std::pair<std::string, std::string>> best_params;
  for (const auto& [k, v] : trials[static_cast<size_t>(best)]) {
    best_params.emplace_back(absl::StrCat("best.", k), v);
  }
  RETURN_IF_ERROR(tracking_->LogBatch(
      tc.ctx, parent_id, points, best_params,
      {{"kade.best_run", winner.run_id}, {"kade.best_trial", std::to_string(best)}}));
  std::string csv = absl::StrCat("trial,run_id,", metric, ",params\n");
  for (size_t i = 0; i < trials.size(); ++i) {
    const Json& row = results[i];
    absl::StrAppend(&csv, i, ",", row.value("run_id", ""), ",",
                    row.contains("metrics") && row["metrics"].contains(metric)
                        ? row["metrics"][metric].dump()
                        : "",
                    ",\"", absl::StrReplaceAll(row["params"].dump(), {{"\"", "\"\""}}), "\"\n");
  }
  Json summary{{"metric", metric},         {"direction", direction},
               {"best_trial", best},       {"best_run_id", winner.run_id},
               {"best_value", best_value}, {"best_params", trials[static_cast<size_t>(best)]},
               {"trials", results}};
  for (const auto& [file, body] :
       {std::pair<std::string, std::string>{"search/results.json", summary.dump(2)},
        std::pair<std::string, std::string>{"search/results.csv", csv}}) {
    ASSIGN_OR_RETURN(auto up, artifacts_->BeginUpload(
                                  tc.project, absl::StrCat("runs/", parent_id, "/artifacts/", file),
                                  absl::EndsWith(file, ".csv") ? "text/csv" : "application/json"));
    RETURN_IF_ERROR(up->Append(body));
    RETURN_IF_ERROR(up->Finish(tc.ctx).status());
  }
  finish_parent("FINISHED");
  log(absl::StrFormat("best: trial %d, %s %.5f (run %s)", best, metric, best_value, winner.run_id));
  return std::make_pair(parent_id, Json{{"run_id", parent_id},
                                        {"best_run_id", winner.run_id},
                                        {"best_trial", best},
                                        {"best_params", trials[static_cast<size_t>(best)]},
                                        {"metric", metric},
                                        {"best_value", best_value},
                                        {"metrics", winner.metrics},
                                        {"model_sha256", winner.model_sha},
                                        {"trials", trials.size()},
                                        {"trial_seconds", trial_seconds}});
}

}  // namespace kade
