// A serving replica (`kade replica`): mirrors one project's endpoints, model versions and
// aliases from a Kade server into its own store and artifact directory, authenticates callers
// with the server, and sends back what it collects (the prediction log and ground-truth
// feedback) from positions kept on disk, so a restart neither loses nor repeats them.
//
// The replica is read-only for the registry: it serves what the server decides. Every change
// a sync applies is written to the replica's audit log as `replica.mirror.*`.
//
// Callers use their tokens for the server. A token the replica has not checked within
// `token_ttl_s` is checked with the server (who it is, whether admin, its role in the
// project); a token the server refuses is revoked here; a server that cannot be reached
// changes nothing (a transient failure is not "no role"). The caches of checked tokens and
// of refused addresses are bounded.
//
// Thread safety: Authenticate and Feedback are thread-safe; SyncOnce, ForwardLog and
// ForwardFeedback are called from one sync thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/json.h"
#include "platform/auth_service.h"
#include "platform/platform.h"
#include "platform/serving_service.h"
#include "store/prediction_log.h"

namespace kade {

// The server a replica mirrors. Errors: Unauthenticated / PermissionDenied / NotFound as the
// server answered them; Unavailable when it could not be reached, was overloaded (429) or
// failed (5xx).
class Upstream {
 public:
  virtual ~Upstream() = default;
  // GET of a JSON document with `token` (empty: the replica's own token).
  virtual absl::StatusOr<Json> GetJson(const std::string& path, const std::string& token) = 0;
  // GET of a file (a model) with the replica's token.
  virtual absl::StatusOr<std::string> GetBytes(const std::string& path) = 0;
  // POST of a JSON body with the replica's token.
  virtual absl::StatusOr<Json> PostJson(const std::string& path, const Json& body) = 0;
  // Where the server is, for messages.
  virtual std::string Describe() const = 0;
};

struct ReplicaOptions {
  std::string project;
  std::string listen;  // this replica's address, sent with forwarded predictions
  int token_ttl_s = 30;
  // After a check that could not reach the server, the next one waits this long.
  int64_t unreachable_retry_ms = 5000;
  size_t max_cached_tokens = 10000;
  size_t max_failure_addresses = 10000;
  int failure_limit = 10;  // refused tokens per address and minute before it is not relayed
};

class ReplicaService : public Authenticator {
 public:
  // `platform` and `upstream` outlive the service. Opens the feedback outbox under the
  // platform's data directory.
  ReplicaService(Platform* platform, Upstream* upstream, ReplicaOptions options);

  // Mirrors the project's models, versions (with their model files, hash-checked), aliases
  // and endpoints; the serving manager picks the changes up as on a server.
  absl::Status SyncOnce();
  // Sends prediction log entries the server does not have yet, oldest first.
  absl::Status ForwardLog();
  // Sends ground truth posted here that the server does not have yet.
  absl::Status ForwardFeedback();

  // Ground truth posted to the replica: queued for the server, and stored as on a server
  // (so the local prediction view shows it).
  absl::Status Feedback(const RequestContext& ctx, const Project& project,
                        absl::string_view endpoint, const FeedbackItems& items);

  absl::StatusOr<Principal> Authenticate(absl::string_view authorization,
                                         absl::string_view remote) override;
  bool MayBlock(absl::string_view authorization, absl::string_view remote) override;

  std::string upstream() const { return upstream_->Describe(); }
  // Sizes of the bounded caches (tests).
  size_t cached_tokens();
  size_t failure_addresses();

 private:
  enum class Check { kFresh, kNeeded, kThrottled };
  Check NeedsCheck(const std::string& hash, absl::string_view remote);
  // Asks the server about a token and mirrors the answer into the local store.
  void CheckWithServer(const std::string& secret, const std::string& hash,
                       absl::string_view remote);
  void NoteRefused(absl::string_view remote);
  absl::Status MirrorModel(const Project& project, const std::string& name, const Json& remote,
                           int64_t* model_id);
  absl::Status MirrorEndpoints(const Project& project, const Json& remote,
                               const std::map<std::string, int64_t>& model_ids);
  absl::StatusOr<Project> LocalProject();

  Platform* p_;
  Upstream* upstream_;
  ReplicaOptions o_;
  std::unique_ptr<PredictionLog> outbox_;  // feedback waiting for the server

  absl::Mutex mu_;
  // Token hash -> when the server last confirmed (or refused) it.
  absl::flat_hash_map<std::string, int64_t> checked_ ABSL_GUARDED_BY(mu_);
  struct Refusals {
    int count = 0;
    int64_t since = 0;
  };
  absl::flat_hash_map<std::string, Refusals> failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kade
