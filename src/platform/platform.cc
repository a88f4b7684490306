#include "platform/platform.h"

#include <thread>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/file.h"
#include "core/status.h"
#include "core/time.h"
#include "spdlog/spdlog.h"

namespace kade {

// Synthetic subscriber data for the demo: deterministic (fixed seed), made up, no real person.
// `month_shift` moves the later snapshot's charges and tenure so a diff shows drift.
std::string DemoChurnCsv(int rows, uint32_t seed, double charge_shift) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, 5);
  std::uniform_int_distribution<int> tenure_d(1, 72);
  std::discrete_distribution<int> plan_d({4, 3, 2, 1});
  std::uniform_real_distribution<double> u(0, 1);
  const char* plans[] = {"free", "basic", "pro", "enterprise"};
  const double prices[] = {0, 19, 49, 199};
  const char* regions[] = {"north", "south", "east", "west"};
  std::string out =
      "customer_id,signup_date,plan,tenure_months,monthly_charges,support_calls,region,churned\n";
  for (int i = 0; i < rows; ++i) {
    int plan = plan_d(rng);
    int tenure = tenure_d(rng);
    double charges = prices[plan] + charge_shift + noise(rng);
    int calls = std::max(0, static_cast<int>(std::lround(2 + (plan == 0) + noise(rng) / 3)));
    double logit = -1.5 - 0.04 * tenure + 0.5 * calls + (plan == 0 ? 0.8 : 0);
    bool churned = u(rng) < 1 / (1 + std::exp(-logit));
    std::string region = u(rng) < 0.03 ? "" : regions[rng() % 4];
    absl::StrAppendFormat(&out, "C%05d,2025-%02d-%02d,%s,%d,%.2f,%d,%s,%s\n", i, 1 + i % 12,
                          1 + i % 28, plans[plan], tenure, charges, calls, region,
                          churned ? "true" : "false");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Platform>> Platform::Open(const ServerConfig& config) {
  RETURN_IF_ERROR(config.Validate());
  auto p = std::make_unique<Platform>();
  p->config = config;
  // The data directory holds every dataset, artifact, token hash and prediction: nothing in
  // it is for other local users. New directories are 0700 and files 0600 (the database, its
  // WAL, blobs, logs and temporary files alike).
  umask(077);
  RETURN_IF_ERROR(MakeDirs(config.data_dir));
  for (const std::string& path : {config.data_dir, config.DatabasePath()}) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      spdlog::warn(
          "{} is readable by other local users (mode {:o}); run chmod -R go-rwx on the data "
          "directory",
          path, st.st_mode & 0777);
    }
  }
  MetadataStoreOptions mo;
  mo.path = config.DatabasePath();
  mo.sync_full = config.sqlite_sync_full;
  mo.max_readers = std::max(8, config.threads * 2);
  ASSIGN_OR_RETURN(p->store, MetadataStore::OpenSqlite(mo));
  ASSIGN_OR_RETURN(p->blobs, ArtifactStore::OpenLocal(config.ArtifactRoot()));
  p->predictions =
      std::make_unique<PredictionLog>(config.data_dir + "/predictions", PredictionLog::Options{});
  p->audit = std::make_unique<AuditLog>(p->store.get());
  p->auth = std::make_unique<AuthService>(
      p->store.get(),
      AuthOptions{config.token_cache_ttl_s, config.auth_fail_limit, config.auth_fail_window_s});
  p->projects = std::make_unique<ProjectService>(p->store.get(), config.token_cache_ttl_s);
  p->artifacts =
      std::make_unique<ArtifactService>(p->store.get(), p->blobs.get(), config.max_upload_bytes);
  p->datasets = std::make_unique<DatasetService>(
      p->store.get(), p->blobs.get(),
      DatasetLimits{config.max_upload_bytes, config.max_decompressed_bytes, config.max_columns});
  p->tracking = std::make_unique<TrackingService>(p->store.get());
  JobOptions jo;
  jo.workers = std::max(0, config.job_workers);
  jo.threads_per_job = config.job_threads > 0
                           ? config.job_threads
                           : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  jo.lease_s = std::max(3, config.job_lease_s);
  jo.retry_backoff_ms = static_cast<int>(std::clamp(config.job_retry_backoff_s, 0.0, 300.0) * 1000);
  p->jobs = std::make_unique<JobService>(p->store.get(), p->tracking.get(), jo);
  p->training =
      std::make_unique<TrainingService>(p->store.get(), p->jobs.get(), p->datasets.get(),
                                        p->tracking.get(), p->artifacts.get(), jo.threads_per_job);
  p->registry =
      std::make_unique<RegistryService>(p->store.get(), p->artifacts.get(), p->tracking.get(),
                                        p->datasets.get(), config.model_cache_bytes);
  p->serving =
      std::make_unique<ServingService>(p->store.get(), p->registry.get(), p->predictions.get(),
                                       ServingOptions{10000, config.prediction_retention_days});
  p->batch = std::make_unique<BatchService>(p->store.get(), p->jobs.get(), p->registry.get(),
                                            p->datasets.get());
  p->monitoring = std::make_unique<MonitoringService>(
      p->store.get(), p->registry.get(), p->datasets.get(), p->serving.get(), p->batch.get(),
      config.prediction_retention_days);
  p->alerts = std::make_unique<AlertService>(p->store.get(), p->monitoring.get(), p->serving.get(),
                                             p->registry.get(), p->training.get());
  p->explain = std::make_unique<ExplainService>(p->registry.get(), p->datasets.get());
  return p;
}

absl::Status Platform::SeedDemo() {
  bool empty = false;
  RETURN_IF_ERROR(store->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto all, tx.projects().ListAll());
    empty = all.empty();
    return absl::OkStatus();
  }));
  if (!empty) return absl::OkStatus();
  spdlog::info("seeding demo content (project 'demo', users alice, bob, carol)");
  RequestContext sys = SystemContext("demo-seed");
  ASSIGN_OR_RETURN(User admin, auth->GetUser("admin"));
  RequestContext as_admin = sys;
  as_admin.principal = Principal{admin.id, admin.name, true, 0};
  struct DemoUser {
    const char* name;
    const char* display;
    Role role;
  };
  const DemoUser people[] = {{"alice", "Alice (data scientist)", Role::kEditor},
                             {"bob", "Bob (ML engineer)", Role::kMaintainer},
                             {"carol", "Carol (analyst)", Role::kViewer}};
  for (const auto& d : people) {
    User u;
    u.name = d.name;
    u.display_name = d.display;
    u.email = absl::StrCat(d.name, "@example.com");
    RETURN_IF_ERROR(auth->CreateUser(as_admin, u).status());
  }
  ASSIGN_OR_RETURN(Project demo, projects->Create(as_admin, "demo",
                                                  "Customer churn: the demo project that walks "
                                                  "through the whole model lifecycle"));
  ASSIGN_OR_RETURN(ProjectView view, projects->Resolve(as_admin.principal, "demo"));
  for (const auto& d : people) {
    RETURN_IF_ERROR(projects->SetMember(as_admin, view, d.name, d.role).status());
    // MLflow code on the root URI (plain experiment and model names) lands in the demo.
    UserUpdate to_demo;
    to_demo.default_project = "demo";
    RETURN_IF_ERROR(auth->UpdateUser(as_admin, d.name, to_demo).status());
  }
  RETURN_IF_ERROR(
      projects
          ->Create(as_admin, "fraud-detection", "Card transaction fraud scoring (empty for now)")
          .status());
  struct DemoFile {
    const char* name;
    const char* type;
    const char* body;
  };
  const DemoFile files[] = {
      {"README.md", "text/markdown",
       "# Demo project\n\nThis project is seeded by `kade server --demo`. It will hold the churn "
       "dataset, training runs, the registered model and its endpoint as those capabilities "
       "land.\n"},
      {"notes/problem-statement.txt", "text/plain",
       "Predict which subscribers will cancel in the next 30 days so that the retention team "
       "can contact them first.\n"},
      {"config/feature-list.json", "application/json",
       "{\"features\": [\"tenure_months\", \"plan\", \"monthly_charges\", \"support_calls\"], "
       "\"target\": \"churned\"}\n"},
  };
  for (const auto& f : files) {
    ASSIGN_OR_RETURN(auto up, artifacts->BeginUpload(demo, f.name, f.type));
    RETURN_IF_ERROR(up->Append(f.body));
    RETURN_IF_ERROR(up->Finish(as_admin).status());
  }

  // The churn dataset: quality checks, two monthly snapshots (the second with higher
  // charges, so the diff shows a shift), and a use by a (future) training run.
  DatasetSpec spec;
  spec.description = "Monthly snapshot of subscribers and whether they cancelled within 30 days";
  spec.tags = std::vector<std::string>{"retention", "customers", "demo"};
  spec.target = "churned";
  spec.id_column = "customer_id";
  spec.timestamp_column = "signup_date";
  spec.sensitive = std::vector<std::string>{"region"};
  spec.checks = Json::array({
      Json{{"check", "unique"}, {"column", "customer_id"}},
      Json{{"check", "not_null"}, {"column", "plan"}},
      Json{{"check", "range"}, {"column", "tenure_months"}, {"min", 0}, {"max", 120}},
      Json{{"check", "allowed_values"},
           {"column", "plan"},
           {"values", {"free", "basic", "pro", "enterprise"}}},
      Json{{"check", "max_null_fraction"},
           {"column", "region"},
           {"value", 0.05},
           {"severity", "warning"}},
      Json{{"check", "row_count"}, {"min", 500}},
      Json{{"check", "schema_compatible"}},
  });
  RETURN_IF_ERROR(datasets->Create(as_admin, demo, "churn", spec).status());
  RequestContext as_alice = as_admin;
  ASSIGN_OR_RETURN(User alice, auth->GetUser("alice"));
  as_alice.principal = Principal{alice.id, alice.name, false, 0};
  int n = 0;
  for (double shift : {0.0, 12.0}) {
    ASSIGN_OR_RETURN(auto up, datasets->BeginUpload(as_alice, demo, "churn",
                                                    absl::StrCat("churn-2025-", 10 + n, ".csv"),
                                                    "auto", DatasetSpec()));
    RETURN_IF_ERROR(up->Append(DemoChurnCsv(2000 + 150 * n, 42 + n, shift)));
    RETURN_IF_ERROR(up->Finish().status());
    ++n;
  }
  RETURN_IF_ERROR(datasets->RecordUsage(as_alice, demo, "churn", "1", "training-run",
                                        "baseline-xgboost", false));
  RETURN_IF_ERROR(SeedDemoExperiment(as_alice, demo));
  // Real training jobs on the first snapshot: queued now, run by the job workers when the
  // server starts, so the demo has trained models with their evaluation (and, once they
  // finish, FinishDemo registers and serves them).
  for (auto [depth, eta, name] :
       {std::tuple{"4", "0.1", "xgboost-depth4"}, std::tuple{"6", "0.3", "xgboost-depth6"}}) {
    ml::TrainSpec spec;
    spec.dataset = "churn";
    spec.version = "1";
    spec.target = "churned";
    spec.params = {{"max_depth", depth}, {"eta", eta}};
    spec.num_rounds = 200;
    spec.experiment = "churn-training";
    spec.run_name = name;
    ASSIGN_OR_RETURN(Job job, training->Submit(as_alice, demo, std::move(spec)));
    demo_jobs_.push_back(job.uuid);
  }
  return absl::OkStatus();
}

absl::Status Platform::FinishDemo(const std::atomic<bool>& stop) {
  ASSIGN_OR_RETURN(ProjectView view, projects->Resolve(SystemContext().principal, "demo"));
  const Project& demo = view.project;
  ASSIGN_OR_RETURN(User alice, auth->GetUser("alice"));
  RequestContext as_alice = SystemContext("demo-seed");
  as_alice.principal = Principal{alice.id, alice.name, false, 0};
  std::vector<std::string> runs;
  for (const auto& id : demo_jobs_) {
    for (;;) {
      if (stop) return absl::OkStatus();
      ASSIGN_OR_RETURN(Job job, jobs->Get(demo, id));
      if (job.status == "succeeded") {
        runs.push_back(job.run_uuid);
        break;
      }
      if (job.status != "queued" && job.status != "running") {
        return absl::AbortedError(absl::StrCat("demo training job ", id, " ", job.status));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  const char* aliases[] = {"champion", "challenger"};
  for (size_t i = 0; i < runs.size() && i < 2; ++i) {
    ASSIGN_OR_RETURN(ModelVersion v, registry->RegisterRun(as_alice, demo, "churn", runs[i],
                                                           i == 0 ? "baseline: depth 4, eta 0.1"
                                                                  : "candidate: depth 6, eta 0.3"));
    RETURN_IF_ERROR(
        registry->SetAlias(as_alice, demo, Role::kEditor, "churn", aliases[i], v.version, false)
            .status());
  }
  EndpointSpec api;
  api.name = "churn-api";
  api.model = "churn";
  api.description = "Churn risk for the retention team";
  api.config.targets = {{"champion", 0, 90}, {"challenger", 0, 10}};
  RETURN_IF_ERROR(serving->Create(as_alice, demo, Role::kEditor, api).status());
  // Nightly batch scoring of the latest snapshot with whatever is champion then.
  ScheduleSpec nightly;
  nightly.name = "churn-nightly";
  nightly.cron = "0 2 * * *";
  nightly.timezone = "Europe/Berlin";
  nightly.spec.model = "churn";
  nightly.spec.dataset = "churn";
  nightly.spec.output = "churn-scored";
  RETURN_IF_ERROR(batch->CreateSchedule(as_alice, demo, nightly).status());
  // Traffic: fresh customers, each scored alone; ground truth for two thirds of them. The
  // second half drifts (prices rose, support calls doubled), as production does, and a
  // client starts sending a plan the model never saw: the Monitoring page shows both.
  const std::string csv = DemoChurnCsv(300, 99, 0);
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  FeedbackItems truth;
  for (size_t i = 1; i < lines.size() && !stop; ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[i], ',');
    if (f.size() != 8) continue;
    const bool drifted = i > lines.size() / 2;
    Json rec{{"plan", f[2]},
             {"tenure_months", std::stod(f[3])},
             {"monthly_charges", std::stod(f[4]) * (drifted ? 1.5 : 1.0) + (drifted ? 15 : 0)},
             {"support_calls", std::stod(f[5]) * (drifted ? 2 : 1) + (drifted ? 1 : 0)},
             {"region", f[6].empty() ? Json(nullptr) : Json(f[6])}};
    ServingService::PredictRequest req;
    req.request_id = absl::StrFormat("demo-%04d", i);
    const Json body{{"instances", Json::array({rec})}};
    RETURN_IF_ERROR(serving->Predict(demo, "churn-api", &body, req).status());
    if (i % 3 != 0) truth.emplace_back(req.request_id, f[7]);
    if (drifted && i % 25 == 0) {
      Json bad = rec;
      bad["plan"] = "platinum";
      const Json refused{{"instances", Json::array({bad})}};
      (void)serving->Predict(demo, "churn-api", &refused, req);  // 400: an unseen category
    }
  }
  if (!stop) {
    // Business value: what the retention team reports back per day.
    std::vector<KpiPoint> kpis;
    const int64_t now = NowMillis();
    for (int d = 0; d < 7; ++d) {
      kpis.push_back({0, "retained_revenue_eur", now - d * 86400000LL, 1200.0 - 90 * d, ""});
    }
    RETURN_IF_ERROR(monitoring->PostKpis(as_alice, demo, "churn-api", kpis));
    // Value derived from ground truth: a churner caught and kept is worth a year of margin,
    // a needless retention offer costs its discount, a churner missed is lost.
    MonitorConfig watch;
    watch.value =
        MonitorConfig::ValueModel{"churn_value_eur", {{"tp", 120}, {"fp", -10}, {"fn", -200}}};
    RETURN_IF_ERROR(monitoring->Put(as_alice, demo, "churn-api", watch).status());
    // Alert rules: one on the drifting price (it fires within a minute), one on errors.
    AlertRuleSpec price;
    price.name = "price-drift";
    price.endpoint = "churn-api";
    price.metric = "feature_drifted";
    price.feature = "monthly_charges";
    price.comparator = ">=";
    price.threshold = 1;
    price.window = "24h";
    price.severity = "warning";
    price.description = "Monthly charges of scored customers moved away from the training data";
    RETURN_IF_ERROR(alerts->CreateRule(as_alice, demo, price).status());
    AlertRuleSpec errors;
    errors.name = "error-rate";
    errors.endpoint = "churn-api";
    errors.metric = "error_rate";
    errors.comparator = ">";
    errors.threshold = 0.2;
    errors.window = "1h";
    errors.for_ms = 5 * 60000;
    errors.severity = "critical";
    RETURN_IF_ERROR(alerts->CreateRule(as_alice, demo, errors).status());
  }
  if (stop || truth.empty()) return absl::OkStatus();
  return serving->StoreFeedback(as_alice, demo, "churn-api", truth);
}

namespace {
// A small SVG line plot of the demo run's learning curves, stored as a run artifact so the
// run page's artifact browser has an image to preview.
std::string CurveSvg(const std::vector<double>& train, const std::vector<double>& valid) {
  auto line = [](const std::vector<double>& ys, const char* colour) {
    std::string pts;
    for (size_t i = 0; i < ys.size(); ++i) {
      absl::StrAppendFormat(
          &pts, "%s%.1f,%.1f", i ? " " : "",
          40 + 300.0 * static_cast<double>(i) / static_cast<double>(ys.size() - 1),
          20 + 160.0 * (0.72 - ys[i]) / 0.5);
    }
    return absl::StrFormat(R"(<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>)",
                           colour, pts);
  };
  return absl::StrCat(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="360" height="220" viewBox="0 0 360 220">)",
      R"(<rect width="360" height="220" fill="white"/>)",
      R"(<line x1="40" y1="180" x2="340" y2="180" stroke="#888"/>)",
      R"(<line x1="40" y1="20" x2="40" y2="180" stroke="#888"/>)", line(train, "#1f77b4"),
      line(valid, "#ff7f0e"),
      R"(<text x="200" y="210" font-size="12" text-anchor="middle">boosting round</text>)",
      R"(<text x="250" y="40" font-size="12" fill="#1f77b4">train</text>)",
      R"(<text x="250" y="56" font-size="12" fill="#ff7f0e">valid</text>)", "</svg>\n");
}
}  // namespace

absl::Status Platform::SeedDemoExperiment(const RequestContext& as_alice, const Project& demo) {
  // An experiment with a small hyper-parameter grid: learning curves, final metrics and the
  // dataset version each run trained on. Training itself is a later capability, so these
  // curves are synthetic, and tagged so.
  ASSIGN_OR_RETURN(Experiment exp, tracking->CreateExperiment(
                                       as_alice, demo, "churn-xgboost",
                                       {{"team", "retention"}, {"kade.demo", "synthetic runs"}}));
  ASSIGN_OR_RETURN(DatasetVersion churn_v1, datasets->GetVersion(demo, "churn", "1", false));
  std::mt19937 rng(7);
  std::normal_distribution<double> jitter(0, 0.004);
  int index = 0;
  int64_t start = NowMillis() - int64_t{6} * 3600 * 1000;
  for (int depth : {3, 6, 9}) {
    for (double eta : {0.05, 0.3}) {
      std::string name = absl::StrFormat("depth%d-eta%.2f", depth, eta);
      int64_t t0 = start + index * 600000;
      ASSIGN_OR_RETURN(RunView run,
                       tracking->CreateRun(as_alice, exp.id, name, t0,
                                           {{"kade.demo", "synthetic"}, {"algorithm", "xgboost"}}));
      // Deeper trees fit faster and overfit more; a small eta learns slowly but steadily.
      double best =
          0.80 + 0.02 * (depth == 6) + 0.01 * (eta < 0.1) - 0.015 * (depth == 9 && eta > 0.1);
      std::vector<MetricPoint> points;
      std::vector<double> train_curve, valid_curve;
      for (int step = 0; step < 60; ++step) {
        double progress = 1 - std::exp(-eta * 0.5 * step);
        double train = 0.69 - 0.40 * progress * (0.8 + depth / 30.0);
        double valid =
            0.69 - 0.33 * progress + (depth == 9 ? 0.0015 * step * eta : 0.0) + jitter(rng);
        int64_t ts = t0 + step * 2000;
        points.push_back({"train/logloss", train, 0, ts, step});
        points.push_back({"valid/logloss", valid, 0, ts, step});
        train_curve.push_back(train);
        valid_curve.push_back(valid);
      }
      double auc = best + jitter(rng);
      int64_t end_ts = t0 + 120000;
      points.push_back({"auc", auc, 0, end_ts, 59});
      points.push_back({"accuracy", 0.70 + (auc - 0.78) * 0.9, 0, end_ts, 59});
      points.push_back({"f1", 0.55 + (auc - 0.78) * 1.2, 0, end_ts, 59});
      RETURN_IF_ERROR(tracking->LogBatch(as_alice, run.run.uuid, points,
                                         {{"max_depth", std::to_string(depth)},
                                          {"eta", absl::StrFormat("%.2f", eta)},
                                          {"n_estimators", "60"},
                                          {"objective", "binary:logistic"}},
                                         {}));
      RETURN_IF_ERROR(
          tracking->LogInputs(as_alice, run.run.uuid,
                              {RunInput{"churn", churn_v1.sha256,
                                        "kade://projects/demo/datasets/churn@1", "train", "{}"}}));
      // Run artifacts: the learning-curve plot and the training configuration.
      const std::pair<std::string, std::string> files[] = {
          {"plots/learning_curve.svg", CurveSvg(train_curve, valid_curve)},
          {"config.json",
           absl::StrFormat("{\"max_depth\": %d, \"eta\": %.2f, \"n_estimators\": 60, "
                           "\"objective\": \"binary:logistic\"}\n",
                           depth, eta)}};
      for (const auto& [file, body] : files) {
        ASSIGN_OR_RETURN(auto up,
                         artifacts->BeginUpload(
                             demo, absl::StrCat("runs/", run.run.uuid, "/artifacts/", file),
                             absl::EndsWith(file, ".svg") ? "image/svg+xml" : "application/json"));
        RETURN_IF_ERROR(up->Append(body));
        RETURN_IF_ERROR(up->Finish(as_alice).status());
      }
      RETURN_IF_ERROR(
          tracking->UpdateRun(as_alice, run.run.uuid, std::string("FINISHED"), end_ts, std::nullopt)
              .status());
      ++index;
    }
  }
  return absl::OkStatus();
}

}  // namespace kade
