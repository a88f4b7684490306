#include "platform/dataset_service.h"

#include <numeric>

#include "ml/drift.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <future>

#include <map>
#include <set>
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/status.h"
#include "core/time.h"
#include "data/ingest.h"
#include "data/quality.h"
#include "data/sketches.h"
#include "platform/audit_log.h"
#include "platform/names.h"
#include "spdlog/spdlog.h"

namespace kade {

namespace {

absl::StatusOr<std::optional<std::vector<std::string>>> StringList(const Json& body,
                                                                   const char* field) {
  if (!body.contains(field) || body[field].is_null())
    return std::optional<std::vector<std::string>>();
  const Json& v = body[field];
  if (!v.is_array())
    return absl::InvalidArgumentError(
        absl::StrCat("field '", field, "' must be a list of strings"));
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("field '", field, "[", i, "]' must be a string"));
    }
    out.push_back(v[i].get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

// Applies `spec` to `d`, validating as it goes.
absl::Status ApplySpec(const DatasetSpec& spec, Dataset* d) {
  if (spec.description) {
    if (spec.description->size() > 4000)
      return absl::InvalidArgumentError("description is longer than 4000 characters");
    d->description = *spec.description;
  }
  if (spec.tags) {
    for (const auto& t : *spec.tags) {
      if (t.empty() || t.size() > 64)
        return absl::InvalidArgumentError("each tag must be 1 to 64 characters");
    }
    d->tags = Json(*spec.tags).dump();
  }
  Json roles = ParseJsonOr(d->roles, Json::object());
  if (spec.target) roles["target"] = *spec.target;
  if (spec.id_column) roles["id"] = *spec.id_column;
  if (spec.timestamp_column) roles["timestamp"] = *spec.timestamp_column;
  if (spec.sensitive) roles["sensitive"] = *spec.sensitive;
  for (auto it = roles.begin(); it != roles.end();) {
    if (it->is_string() && it->get<std::string>().empty())
      it = roles.erase(it);
    else
      ++it;
  }
  d->roles = roles.dump();
  if (spec.schema) {
    if (spec.schema->is_null()) {
      d->pinned_schema.reset();
    } else {
      ASSIGN_OR_RETURN(Schema s, SchemaFromJson(*spec.schema));
      d->pinned_schema = SchemaToJson(s).dump();
    }
  }
  if (spec.checks) {
    ASSIGN_OR_RETURN(auto checks, ParseQualityChecks(*spec.checks));
    d->checks = QualityChecksToJson(checks).dump();
  }
  Json options = ParseJsonOr(d->options, Json::object());
  if (spec.delimiter) {
    std::string delim =
        *spec.delimiter == "\\t" || *spec.delimiter == "tab" ? "\t" : *spec.delimiter;
    if (delim.size() != 1 || delim == "\"" || delim == "\n" || delim == "\r") {
      return absl::InvalidArgumentError(
          "delimiter must be one character (not a quote or line break); use \\t for tab");
    }
    options["delimiter"] = delim;
  }
  if (spec.null_tokens) {
    if (spec.null_tokens->size() > 50) return absl::InvalidArgumentError("at most 50 null tokens");
    options["null_tokens"] = *spec.null_tokens;
  }
  d->options = options.dump();
  return absl::OkStatus();
}

std::string ColumnNames(const Json& schema) {
  std::vector<std::string> names;
  for (const auto& c : schema) names.push_back(c.value("name", ""));
  return absl::StrJoin(names, " ");
}

}  // namespace

absl::StatusOr<DatasetSpec> DatasetSpec::FromJson(const Json& body) {
  RETURN_IF_ERROR(RejectUnknownFields(
      body, {"name", "description", "tags", "target", "id_column", "timestamp_column", "sensitive",
             "schema", "checks", "delimiter", "null_tokens"}));
  DatasetSpec s;
  ASSIGN_OR_RETURN(s.description, OptionalString(body, "description"));
  ASSIGN_OR_RETURN(s.tags, StringList(body, "tags"));
  ASSIGN_OR_RETURN(s.target, OptionalString(body, "target"));
  ASSIGN_OR_RETURN(s.id_column, OptionalString(body, "id_column"));
  ASSIGN_OR_RETURN(s.timestamp_column, OptionalString(body, "timestamp_column"));
  ASSIGN_OR_RETURN(s.sensitive, StringList(body, "sensitive"));
  ASSIGN_OR_RETURN(s.delimiter, OptionalString(body, "delimiter"));
  ASSIGN_OR_RETURN(s.null_tokens, StringList(body, "null_tokens"));
  if (body.contains("schema")) s.schema = body["schema"];
  if (body.contains("checks")) s.checks = body["checks"];
  return s;
}

absl::StatusOr<Dataset> DatasetService::Create(const RequestContext& ctx, const Project& project,
                                               absl::string_view name, const DatasetSpec& spec) {
  RETURN_IF_ERROR(ValidateName("dataset", name));
  Dataset d;
  d.project_id = project.id;
  d.name = std::string(name);
  d.owner = ctx.principal.user_name;
  d.created_at = d.updated_at = NowMillis();
  RETURN_IF_ERROR(ApplySpec(spec, &d));
  Dataset created;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(created, tx.datasets().Create(d));
    RETURN_IF_ERROR(tx.datasets().Index(created, ""));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"dataset.create", absl::StrCat("project/", project.name, "/dataset/", name), project.name,
         Json{{"description", d.description}}});
  }));
  return created;
}

absl::StatusOr<Dataset> DatasetService::Update(const RequestContext& ctx, const Project& project,
                                               absl::string_view name, const DatasetSpec& spec) {
  Dataset updated;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto d, tx.datasets().Find(project.id, name));
    if (!d)
      return absl::NotFoundError(
          absl::StrCat("dataset '", name, "' not found in project '", project.name, "'"));
    RETURN_IF_ERROR(ApplySpec(spec, &*d));
    d->updated_at = NowMillis();
    RETURN_IF_ERROR(tx.datasets().Update(*d));
    std::string columns;
    if (d->latest_version > 0) {
      ASSIGN_OR_RETURN(auto v, tx.datasets().FindVersion(d->id, d->latest_version, false));
      if (v) columns = ColumnNames(ParseJsonOr(v->schema, Json::array()));
    }
    RETURN_IF_ERROR(tx.datasets().Index(*d, columns));
    updated = *d;
    Json detail = Json::object();
    if (spec.schema) detail["schema"] = spec.schema->is_null() ? "unpinned" : "pinned";
    if (spec.checks) detail["checks"] = ParseJsonOr(d->checks, Json::array()).size();
    return AuditLog::AppendInTx(
        tx, ctx,
        {"dataset.update", absl::StrCat("project/", project.name, "/dataset/", name), project.name,
         detail});
  }));
  return updated;
}

absl::StatusOr<Dataset> DatasetService::Get(const Project& project, absl::string_view name) {
  std::optional<Dataset> d;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(d, tx.datasets().Find(project.id, name));
    return absl::OkStatus();
  }));
  if (!d)
    return absl::NotFoundError(
        absl::StrCat("dataset '", name, "' not found in project '", project.name, "'"));
  return *d;
}

absl::StatusOr<std::vector<Dataset>> DatasetService::List(const Project& project,
                                                          absl::string_view query) {
  std::vector<Dataset> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    if (query.empty()) {
      ASSIGN_OR_RETURN(out, tx.datasets().List(project.id));
    } else {
      if (query.size() > 500)
        return absl::InvalidArgumentError("search query is longer than 500 characters");
      // Each word is matched as a prefix, so "chur" finds "churn"; FTS syntax is escaped.
      std::vector<std::string> terms;
      for (absl::string_view w : absl::StrSplit(query, ' ', absl::SkipEmpty())) {
        std::string t(w);
        t.erase(std::remove(t.begin(), t.end(), '"'), t.end());
        if (!t.empty()) terms.push_back(absl::StrCat("\"", t, "\"*"));
      }
      if (terms.empty()) return absl::OkStatus();
      ASSIGN_OR_RETURN(out, tx.datasets().Search(project.id, absl::StrJoin(terms, " ")));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status DatasetService::Delete(const RequestContext& ctx, const Project& project,
                                    absl::string_view name) {
  return store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto d, tx.datasets().Find(project.id, name));
    if (!d)
      return absl::NotFoundError(
          absl::StrCat("dataset '", name, "' not found in project '", project.name, "'"));
    RETURN_IF_ERROR(tx.datasets().Delete(d->id));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"dataset.delete", absl::StrCat("project/", project.name, "/dataset/", name), project.name,
         Json{{"versions", d->latest_version}}});
  });
}

namespace {

class UploadImpl : public DatasetUpload {
 public:
  UploadImpl(MetadataStore* store, ArtifactStore* blobs, RequestContext ctx, Project project,
             Dataset dataset, bool exists, std::unique_ptr<BlobWriter> writer, IngestOptions io,
             std::vector<QualityCheck> checks, std::vector<std::string> null_tokens,
             std::string filename, uint64_t max_upload, Json source)
      : store_(store),
        blobs_(blobs),
        ctx_(std::move(ctx)),
        project_(std::move(project)),
        dataset_(std::move(dataset)),
        exists_(exists),
        writer_(std::move(writer)),
        quality_(std::move(checks), std::move(null_tokens)),
        filename_(std::move(filename)),
        source_(std::move(source)),
        max_upload_(max_upload) {
    io.extra_sinks.push_back(&quality_);
    ingest_ = std::make_unique<Ingest>(std::move(io));
  }

  absl::Status Append(absl::string_view chunk) override {
    if (writer_->bytes_written() + chunk.size() > max_upload_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("upload exceeds the limit of ", max_upload_, " bytes"));
    }
    // Hashing and writing the raw bytes overlaps with parsing and profiling them.
    std::future<absl::Status> stored =
        std::async(std::launch::async, [this, chunk] { return writer_->Append(chunk); });
    absl::Status parsed = ingest_->Feed(chunk);
    absl::Status written = stored.get();
    RETURN_IF_ERROR(written);
    return parsed;
  }

  absl::StatusOr<std::pair<DatasetVersion, bool>> Finish() override {
    ASSIGN_OR_RETURN(IngestResult r, ingest_->Finish());
    ASSIGN_OR_RETURN(BlobInfo blob, writer_->Commit());
    std::pair<DatasetVersion, bool> out;
    absl::Status recorded = store_->Write([&](Transaction& tx) -> absl::Status {
      // A refused upload of the same bytes may have removed the blob meanwhile (below).
      RETURN_IF_ERROR(blobs_->Stat(blob.sha256).status());
      ASSIGN_OR_RETURN(auto current, tx.datasets().Find(project_.id, dataset_.name));
      if (!current) {
        if (exists_)
          return absl::NotFoundError(
              absl::StrCat("dataset '", dataset_.name, "' was deleted during the upload"));
        ASSIGN_OR_RETURN(current, tx.datasets().Create(dataset_));
        RETURN_IF_ERROR(AuditLog::AppendInTx(
            tx, ctx_,
            {"dataset.create", absl::StrCat("project/", project_.name, "/dataset/", dataset_.name),
             project_.name, Json{{"by_upload", true}}}));
      }
      ASSIGN_OR_RETURN(auto same, tx.datasets().FindVersionBySha(current->id, blob.sha256, false));
      if (same) {
        out = {*same, false};
        return absl::OkStatus();
      }
      std::optional<Schema> previous;
      if (current->latest_version > 0) {
        ASSIGN_OR_RETURN(auto pv,
                         tx.datasets().FindVersion(current->id, current->latest_version, false));
        if (pv) {
          auto ps = SchemaFromJson(ParseJsonOr(pv->schema, Json::array()));
          if (ps.ok()) previous = *ps;
        }
      }
      Json report = quality_.Report(r.rows, r.schema, r.profile, previous, NowMillis() * 1000);
      DatasetVersion v;
      v.dataset_id = current->id;
      ASSIGN_OR_RETURN(v.version, tx.datasets().NextVersionNumber(current->id));
      v.sha256 = blob.sha256;
      v.size = static_cast<int64_t>(blob.size);
      v.format = TableFormatName(r.format);
      v.compression = r.compression;
      v.rows = r.rows;
      v.columns = static_cast<int64_t>(r.schema.size());
      v.schema = SchemaToJson(r.schema).dump();
      v.profile = r.profile.dump(-1, ' ', false, Json::error_handler_t::replace);
      v.quality = report.dump(-1, ' ', false, Json::error_handler_t::replace);
      v.quality_status = report["status"].get<std::string>();
      Json source = source_.is_object() ? source_
                                        : Json{{"kind", "upload"},
                                               {"by", ctx_.principal.user_name},
                                               {"filename", filename_},
                                               {"request_id", ctx_.request_id}};
      v.source = source.dump(-1, ' ', false, Json::error_handler_t::replace);
      v.created_at = NowMillis();
      v.created_by = ctx_.principal.user_name;
      ASSIGN_OR_RETURN(v, tx.datasets().AddVersion(v));
      RETURN_IF_ERROR(tx.datasets().Index(*current, ColumnNames(SchemaToJson(r.schema))));
      out = {v, true};
      return AuditLog::AppendInTx(
          tx, ctx_,
          {"dataset.version.create",
           absl::StrCat("project/", project_.name, "/dataset/", dataset_.name, "@", v.version),
           project_.name,
           Json{{"sha256", v.sha256}, {"rows", v.rows}, {"quality", v.quality_status}}});
    });
    if (!recorded.ok() && blob.created) {
      // Nothing refers to the bytes this upload stored: remove them, unless another record
      // took them up meanwhile (checked in a write, so no upload records them concurrently).
      absl::Status removed = store_->Write([&](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(auto refs, tx.ReferencedBlobs());
        for (const auto& r : refs) {
          if (r == blob.sha256) return absl::OkStatus();
        }
        return blobs_->Remove(blob.sha256);
      });
      if (!removed.ok()) {
        spdlog::warn("could not remove the blob of a refused upload ({}): {}", blob.sha256,
                     std::string(removed.message()));
      }
    }
    RETURN_IF_ERROR(recorded);
    return out;
  }

 private:
  MetadataStore* store_;
  ArtifactStore* blobs_;
  RequestContext ctx_;
  Project project_;
  Dataset dataset_;
  bool exists_;
  std::unique_ptr<BlobWriter> writer_;
  QualityEvaluator quality_;
  std::unique_ptr<Ingest> ingest_;
  std::string filename_;
  Json source_;  // lineage given by the caller (a batch job); null: an upload
  uint64_t max_upload_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DatasetUpload>> DatasetService::BeginUpload(
    const RequestContext& ctx, const Project& project, absl::string_view name,
    absl::string_view filename, absl::string_view format, const DatasetSpec& spec,
    const Json& source) {
  RETURN_IF_ERROR(ValidateName("dataset", name));
  if (filename.size() > 255)
    return absl::InvalidArgumentError("filename is longer than 255 characters");
  auto fmt = ParseTableFormat(format);
  if (!fmt)
    return absl::InvalidArgumentError(
        absl::StrCat("format '", format, "' is not auto, csv, tsv or jsonl"));
  std::optional<Dataset> existing;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(existing, tx.datasets().Find(project.id, name));
    return absl::OkStatus();
  }));
  Dataset d;
  if (existing) {
    d = *existing;
  } else {
    d.project_id = project.id;
    d.name = std::string(name);
    d.owner = ctx.principal.user_name;
    d.created_at = d.updated_at = NowMillis();
  }
  RETURN_IF_ERROR(ApplySpec(spec, &d));
  IngestOptions io;
  io.format = *fmt;
  io.filename = std::string(filename);
  io.max_decompressed_bytes = limits_.max_decompressed_bytes;
  io.max_columns = static_cast<size_t>(std::max(1, limits_.max_columns));
  Json options = ParseJsonOr(d.options, Json::object());
  if (options.contains("delimiter")) io.delimiter = options["delimiter"].get<std::string>()[0];
  if (options.contains("null_tokens"))
    io.profile.null_tokens = options["null_tokens"].get<std::vector<std::string>>();
  Json roles = ParseJsonOr(d.roles, Json::object());
  io.profile.target = roles.value("target", "");
  if (d.pinned_schema) {
    ASSIGN_OR_RETURN(Schema s, SchemaFromJson(ParseJsonOr(*d.pinned_schema, Json::array())));
    io.profile.pinned = s;
  }
  ASSIGN_OR_RETURN(auto checks, ParseQualityChecks(ParseJsonOr(d.checks, Json::array())));
  ASSIGN_OR_RETURN(auto writer, blobs_->NewWriter());
  std::vector<std::string> nulls = io.profile.null_tokens;
  return std::unique_ptr<DatasetUpload>(
      new UploadImpl(store_, blobs_, ctx, project, d, existing.has_value(), std::move(writer),
                     std::move(io), std::move(checks), std::move(nulls), std::string(filename),
                     limits_.max_upload_bytes, source));
}

absl::StatusOr<DatasetVersion> DatasetService::GetVersion(const Project& project,
                                                          absl::string_view name,
                                                          absl::string_view ref,
                                                          bool with_profile) {
  std::optional<DatasetVersion> v;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto d, tx.datasets().Find(project.id, name));
    if (!d)
      return absl::NotFoundError(
          absl::StrCat("dataset '", name, "' not found in project '", project.name, "'"));
    absl::string_view r = ref;
    int64_t number = 0;
    if (r == "latest" || r.empty()) {
      if (d->latest_version == 0)
        return absl::NotFoundError(absl::StrCat("dataset '", name, "' has no versions yet"));
      ASSIGN_OR_RETURN(v, tx.datasets().FindVersion(d->id, d->latest_version, with_profile));
    } else if (absl::ConsumePrefix(&r, "sha256:") || IsSha256Hex(r)) {
      if (!IsSha256Hex(r))
        return absl::InvalidArgumentError("a content hash is 64 lowercase hex digits");
      ASSIGN_OR_RETURN(v, tx.datasets().FindVersionBySha(d->id, r, with_profile));
    } else if (absl::SimpleAtoi(r, &number) && number > 0) {
      ASSIGN_OR_RETURN(v, tx.datasets().FindVersion(d->id, number, with_profile));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("version '", ref, "' is not a number, 'latest' or 'sha256:<hash>'"));
    }
    return absl::OkStatus();
  }));
  if (!v) return absl::NotFoundError(absl::StrCat("dataset '", name, "' has no version ", ref));
  return *v;
}

absl::StatusOr<std::vector<DatasetVersion>> DatasetService::Versions(const Project& project,
                                                                     absl::string_view name) {
  ASSIGN_OR_RETURN(Dataset d, Get(project, name));
  std::vector<DatasetVersion> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, tx.datasets().ListVersions(d.id));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::pair<DatasetVersion, std::string>> DatasetService::OpenOriginal(
    const Project& project, absl::string_view name, absl::string_view ref) {
  ASSIGN_OR_RETURN(DatasetVersion v, GetVersion(project, name, ref, false));
  absl::Status s = blobs_->Verify(v.sha256);
  if (absl::IsNotFound(s))
    return absl::DataLossError(absl::StrCat("the bytes of ", name, "@", v.version, " are missing"));
  RETURN_IF_ERROR(s);
  return std::make_pair(v, blobs_->LocalPath(v.sha256));
}

namespace {
// Collects rows [offset, offset + limit) of the selected columns, then stops the read.
class PreviewSink : public RecordSink {
 public:
  PreviewSink(int64_t offset, int64_t limit, std::vector<std::string> wanted)
      : offset_(offset), limit_(limit), wanted_(std::move(wanted)) {}
  absl::Status OnHeader(const std::vector<std::string>& columns) override {
    if (wanted_.empty()) wanted_ = columns;
    for (const auto& w : wanted_) {
      auto it = std::find(columns.begin(), columns.end(), w);
      if (it == columns.end())
        return absl::InvalidArgumentError(absl::StrCat("no column '", w, "'"));
      index_.push_back(static_cast<size_t>(it - columns.begin()));
    }
    return absl::OkStatus();
  }
  absl::Status OnBlock(const RowBlock& block) override {
    for (size_t r = 0; r < block.rows(); ++r, ++seen_) {
      if (seen_ < offset_) continue;
      if (static_cast<int64_t>(rows_.size()) >= limit_) return absl::CancelledError("enough rows");
      Json row = Json::array();
      for (size_t c : index_) {
        row.push_back(block.Present(r, c) ? Json(std::string(block.Field(r, c))) : Json(nullptr));
      }
      rows_.push_back(std::move(row));
    }
    return absl::OkStatus();
  }
  Json Result() const { return Json{{"columns", wanted_}, {"rows", rows_}, {"offset", offset_}}; }

 private:
  int64_t offset_, limit_;
  std::vector<std::string> wanted_;
  std::vector<size_t> index_;
  int64_t seen_ = 0;
  Json rows_ = Json::array();
};
}  // namespace

absl::Status DatasetService::Scan(const Project& project, absl::string_view name,
                                  absl::string_view ref, RecordSink* sink) {
  ASSIGN_OR_RETURN(Dataset dataset, Get(project, name));
  ASSIGN_OR_RETURN(auto original, OpenOriginal(project, name, ref));
  IngestOptions io;
  io.compute_profile = false;
  io.format = ParseTableFormat(original.first.format).value_or(TableFormat::kAuto);
  Json options = Json::parse(dataset.options, nullptr, false);
  if (options.is_object() && options.contains("delimiter") && options["delimiter"].is_string() &&
      !options["delimiter"].get<std::string>().empty()) {
    io.delimiter = options["delimiter"].get<std::string>()[0];
  }
  io.extra_sinks.push_back(sink);
  Ingest ingest(io);
  std::ifstream in(original.second, std::ios::binary);
  std::string buf(1 << 20, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) {
      RETURN_IF_ERROR(ingest.Feed(absl::string_view(buf.data(), static_cast<size_t>(in.gcount()))));
    }
  }
  return ingest.Finish().status();
}

absl::StatusOr<Json> DatasetService::Preview(const Project& project, absl::string_view name,
                                             absl::string_view ref, int64_t offset, int64_t limit,
                                             const std::vector<std::string>& columns) {
  if (offset < 0 || limit < 1 || limit > 1000) {
    return absl::InvalidArgumentError("offset must be >= 0 and limit between 1 and 1000");
  }
  ASSIGN_OR_RETURN(Dataset d, Get(project, name));
  ASSIGN_OR_RETURN(DatasetVersion v, GetVersion(project, name, ref, false));
  ASSIGN_OR_RETURN(auto reader, blobs_->Open(v.sha256));
  PreviewSink sink(offset, limit, columns);
  IngestOptions io;
  io.compute_profile = false;
  io.format = ParseTableFormat(v.format).value_or(TableFormat::kAuto);
  Json options = ParseJsonOr(d.options, Json::object());
  if (options.contains("delimiter")) io.delimiter = options["delimiter"].get<std::string>()[0];
  io.extra_sinks.push_back(&sink);
  Ingest ingest(io);
  std::string buf(1 << 16, '\0');
  absl::Status st;
  for (;;) {
    absl::StatusOr<size_t> n = reader->Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    st = ingest.Feed(absl::string_view(buf.data(), *n));
    if (!st.ok()) break;
  }
  if (st.ok()) st = ingest.Finish().status();
  if (!st.ok() && !absl::IsCancelled(st)) return st;
  Json out = sink.Result();
  out["version"] = v.version;
  out["total_rows"] = v.rows;
  return out;
}

namespace {

const Json* FindColumn(const Json& profile, const std::string& name) {
  for (const auto& c : profile["columns"]) {
    if (c["name"] == name) return &c;
  }
  return nullptr;
}

// A finite figure as a number, an infinite one (a constant reference that moved) as "inf".
Json Figure(double v) { return std::isfinite(v) ? Json(v) : Json("inf"); }

// Drift of a numeric column between two profiles, from their KLL sketches (no rescan): KS,
// normalised Wasserstein, PSI and Jensen–Shannon on the reference's deciles, decided with
// Evidently's defaults (ml::DefaultDriftMethod).
std::optional<Json> NumericDrift(const Json& ca, const Json& cb) {
  auto ka = KllSketch::FromJson(ca["sketch"]["kll"]), kb = KllSketch::FromJson(cb["sketch"]["kll"]);
  if (!ka.ok() || !kb.ok() || ka->count() == 0 || kb->count() == 0) return std::nullopt;
  const ml::WeightedSample ra = ml::FromSketch(*ka), rb = ml::FromSketch(*kb);
  const double na = static_cast<double>(ka->count()), nb = static_cast<double>(kb->count());
  std::vector<double> edges;
  for (int i = 1; i < 10; ++i) {
    const double q = ka->Quantile(i / 10.0);
    if (edges.empty() || q > edges.back()) edges.push_back(q);
  }
  // Numeric columns are tested by KS even with few distinct values (docs/monitoring.md).
  const std::string method = na <= 1000 ? "ks" : "wasserstein";
  ml::DriftTest t = ml::NumericDrift(ra, rb, na, nb, edges, method, 0);
  return Json{{"method", t.method},
              {"threshold", t.threshold},
              {"ks_statistic", t.stats["ks_statistic"]},
              {"ks_p_value", t.stats["ks"]},
              {"wasserstein_normed", Figure(t.stats["wasserstein"])},
              {"psi", t.stats["psi"]},
              {"jensenshannon", t.stats["jensenshannon"]},
              {"value", Figure(t.value)},
              {"drifted", t.drifted}};
}

// The same for a categorical column from its top values (the rest counted as one "other"
// category): chi-square (p < 0.05) for a reference of at most 1,000 rows, else
// Jensen–Shannon (>= 0.1); PSI and L-infinity alongside.
Json CategoricalDrift(const Json& ca, const Json& cb, std::vector<std::string>* fresh,
                      std::vector<std::string>* gone) {
  auto counts = [](const Json& c) {
    std::map<std::string, int64_t> out;
    int64_t n = c["count"].get<int64_t>() - c["nulls"].get<int64_t>(), seen = 0;
    for (const auto& t : c["top"]) {
      out[t["value"].get<std::string>()] = t["count"].get<int64_t>();
      seen += t["count"].get<int64_t>();
    }
    if (n > seen) out["\x01other"] = n - seen;
    return out;
  };
  const auto a = counts(ca), b = counts(cb);
  for (const auto& [k, v] : b) {
    if (!a.count(k) && k != "\x01other") fresh->push_back(k);
  }
  for (const auto& [k, v] : a) {
    if (!b.count(k) && k != "\x01other") gone->push_back(k);
  }
  double n = 0, tv = 0;
  for (const auto& [k, v] : a) n += static_cast<double>(v);
  ml::DriftTest t = ml::CategoricalDrift(a, b, n <= 1000 ? "chisquare" : "jensenshannon", 0);
  const ml::AlignedCategories al = ml::AlignCategories(a, b);
  const auto sa = ml::Shares(al.reference_counts), sb = ml::Shares(al.current_counts);
  for (size_t i = 0; i < sa.size(); ++i) tv += std::fabs(sa[i] - sb[i]);
  return Json{{"method", t.method},
              {"threshold", t.threshold},
              {"chisquare_p_value", t.stats["chisquare"]},
              {"jensenshannon", t.stats["jensenshannon"]},
              {"psi", t.stats["psi"]},
              {"l_infinity", t.stats["l_infinity"]},
              {"value", t.value},
              {"drifted", t.drifted},
              {"total_variation", tv / 2}};
}

}  // namespace

absl::StatusOr<Json> DatasetService::Diff(const Project& project, absl::string_view name,
                                          absl::string_view from, absl::string_view to) {
  return DiffAcross(project, name, from, name, to);
}

absl::StatusOr<Json> DatasetService::DiffAcross(const Project& project,
                                                absl::string_view from_name,
                                                absl::string_view from, absl::string_view name,
                                                absl::string_view to) {
  ASSIGN_OR_RETURN(DatasetVersion a, GetVersion(project, from_name, from, true));
  ASSIGN_OR_RETURN(DatasetVersion b, GetVersion(project, name, to, true));
  Json sa = ParseJsonOr(a.schema, Json::array()), sb = ParseJsonOr(b.schema, Json::array());
  Json pa = ParseJsonOr(a.profile, Json::object()), pb = ParseJsonOr(b.profile, Json::object());
  auto type_of = [](const Json& schema, const std::string& col) -> std::string {
    for (const auto& c : schema) {
      if (c["name"] == col) return c["type"].get<std::string>();
    }
    return "";
  };
  Json added = Json::array(), removed = Json::array(), changed = Json::array(),
       columns = Json::array();
  int checked = 0, drifted = 0;
  for (const auto& c : sb) {
    if (type_of(sa, c["name"]).empty()) added.push_back(c);
  }
  for (const auto& c : sa) {
    std::string n = c["name"];
    std::string tb = type_of(sb, n);
    if (tb.empty()) {
      removed.push_back(c);
      continue;
    }
    if (tb != c["type"]) changed.push_back(Json{{"name", n}, {"from", c["type"]}, {"to", tb}});
    const Json* ca = FindColumn(pa, n);
    const Json* cb = FindColumn(pb, n);
    if (!ca || !cb) continue;
    Json col{{"name", n},
             {"null_fraction", {{"from", (*ca)["null_fraction"]}, {"to", (*cb)["null_fraction"]}}},
             {"distinct", {{"from", (*ca)["distinct"]}, {"to", (*cb)["distinct"]}}}};
    if (ca->contains("mean") && cb->contains("mean")) {
      col["mean"] = {{"from", (*ca)["mean"]}, {"to", (*cb)["mean"]}};
      col["std"] = {{"from", (*ca)["std"]}, {"to", (*cb)["std"]}};
      if (ca->contains("sketch") && cb->contains("sketch") && (*ca)["sketch"].contains("kll") &&
          (*cb)["sketch"].contains("kll")) {
        if (auto d = NumericDrift(*ca, *cb)) {
          col["ks_statistic"] = (*d)["ks_statistic"];
          col["shifted"] = (*d)["drifted"];
          col["drift"] = *std::move(d);
        }
      }
    } else if (ca->contains("top") && cb->contains("top") &&
               ((*ca)["type"] == "categorical" || (*ca)["type"] == "bool")) {
      std::vector<std::string> fresh, gone;
      Json d = CategoricalDrift(*ca, *cb, &fresh, &gone);
      col["total_variation"] = d["total_variation"];
      col["shifted"] = d["drifted"];
      col["new_top_values"] = fresh;
      col["dropped_top_values"] = gone;
      d.erase("total_variation");
      col["drift"] = std::move(d);
    }
    if (col.contains("drift")) {
      ++checked;
      drifted += col["drift"]["drifted"].get<bool>() ? 1 : 0;
    }
    columns.push_back(col);
  }
  // Dataset drift as Evidently declares it: at least half of the checked columns drift.
  const double share = checked > 0 ? static_cast<double>(drifted) / checked : 0;
  return Json{{"dataset", std::string(name)},
              {"from_dataset", std::string(from_name)},
              {"from", a.version},
              {"to", b.version},
              {"rows", {{"from", a.rows}, {"to", b.rows}, {"change", b.rows - a.rows}}},
              {"schema", {{"added", added}, {"removed", removed}, {"type_changed", changed}}},
              {"columns", columns},
              {"drift",
               {{"columns_checked", checked},
                {"columns_drifted", drifted},
                {"share", share},
                {"dataset_drift", checked > 0 && share >= 0.5}}}};
}

absl::StatusOr<Json> DatasetService::Lineage(const Project& project, absl::string_view name,
                                             absl::string_view ref) {
  ASSIGN_OR_RETURN(DatasetVersion v, GetVersion(project, name, ref, false));
  std::vector<DatasetUsage> used;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(used, tx.datasets().ListUsage(v.id));
    return absl::OkStatus();
  }));
  Json users = Json::array();
  for (const auto& u : used) {
    users.push_back(Json{{"kind", u.kind},
                         {"ref", u.ref},
                         {"forced", u.forced},
                         {"at", FormatRfc3339Millis(u.created_at)},
                         {"by", u.created_by}});
  }
  return Json{{"version", absl::StrCat(name, "@", v.version)},
              {"source", ParseJsonOr(v.source, Json::object())},
              {"used_by", users}};
}

absl::Status DatasetService::RecordUsage(const RequestContext& ctx, const Project& project,
                                         absl::string_view name, absl::string_view ref,
                                         absl::string_view kind, absl::string_view usage_ref,
                                         bool force) {
  ASSIGN_OR_RETURN(DatasetVersion v, GetVersion(project, name, ref, false));
  if (v.quality_status == "failed" && !force) {
    return absl::FailedPreconditionError(
        absl::StrCat(name, "@", v.version,
                     " failed a blocking quality check; pass force to use it anyway (audited)"));
  }
  return store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.datasets().AddUsage(
        DatasetUsage{v.id, std::string(kind), std::string(usage_ref),
                     force && v.quality_status == "failed", NowMillis(), ctx.principal.user_name}));
    Json detail{{"kind", kind}, {"ref", usage_ref}};
    bool forced = force && v.quality_status == "failed";
    if (forced) detail["forced_past_failed_quality"] = true;
    return AuditLog::AppendInTx(
        tx, ctx,
        {forced ? "dataset.version.use_forced" : "dataset.version.use",
         absl::StrCat("project/", project.name, "/dataset/", name, "@", v.version), project.name,
         detail});
  });
}

Json DatasetToJson(const Dataset& d) {
  Json j{{"name", d.name},
         {"description", d.description},
         {"owner", d.owner},
         {"tags", ParseJsonOr(d.tags, Json::array())},
         {"roles", ParseJsonOr(d.roles, Json::object())},
         {"pinned_schema", d.pinned_schema ? ParseJsonOr(*d.pinned_schema, Json()) : Json(nullptr)},
         {"checks", ParseJsonOr(d.checks, Json::array())},
         {"options", ParseJsonOr(d.options, Json::object())},
         {"latest_version", d.latest_version},
         {"rows", d.latest_rows},
         {"created_at", FormatRfc3339Millis(d.created_at)},
         {"updated_at", FormatRfc3339Millis(d.updated_at)}};
  return j;
}

Json DatasetVersionToJson(const Dataset& d, const DatasetVersion& v, bool with_profile) {
  Json j{{"dataset", d.name},
         {"version", v.version},
         {"ref", absl::StrCat(d.name, "@", v.version)},
         {"sha256", v.sha256},
         {"size", v.size},
         {"format", v.format},
         {"compression", v.compression},
         {"rows", v.rows},
         {"columns", v.columns},
         {"schema", ParseJsonOr(v.schema, Json::array())},
         {"quality_status", v.quality_status},
         {"quality", ParseJsonOr(v.quality, Json::object())},
         {"source", ParseJsonOr(v.source, Json::object())},
         {"created_at", FormatRfc3339Millis(v.created_at)},
         {"created_by", v.created_by}};
  if (with_profile) j["profile"] = ParseJsonOr(v.profile, Json::object());
  return j;
}

}  // namespace kade
