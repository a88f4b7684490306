// Identity: users, API tokens, authentication and the first-start bootstrap.
//
// Tokens are 256-bit random secrets ("kade_" + 43 base64url characters). Only their
// SHA-256 is stored. A high-entropy secret needs no slow password hash, so checking a token
// costs one SHA-256 and, at most once per cache TTL, one indexed lookup. Revocation on this
// process takes effect at once; other processes sharing the database see it within the TTL.
//
// Failed authentication is counted per client address; past the limit within the window
// the address is refused (ResourceExhausted -> 429) until the window ends.
//
// Thread safety: thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "platform/audit_log.h"
#include "platform/context.h"
#include "store/metadata.h"

namespace kade {

// Turns a request's Authorization header into a principal. The server's AuthService looks
// tokens up in its own store; a serving replica's authenticator asks the server it mirrors.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Unauthenticated for a missing, unknown, revoked or expired token; ResourceExhausted when
  // `remote` failed too often recently.
  virtual absl::StatusOr<Principal> Authenticate(absl::string_view authorization,
                                                 absl::string_view remote) = 0;
  // True when Authenticate may wait on the network for this caller: the HTTP server then
  // admits the request on its blocking pool, not on an event-loop thread.
  virtual bool MayBlock(absl::string_view authorization, absl::string_view remote) {
    (void)authorization;
    (void)remote;
    return false;
  }
};

// The changes an admin may make to a user; absent fields stay as they are. Users may change
// their own default project (to one they have a role in; "" for their personal project).
struct UserUpdate {
  std::optional<std::string> display_name;
  std::optional<std::string> email;
  std::optional<bool> admin;
  std::optional<bool> disabled;
  std::optional<std::string> default_project;
};

struct IssuedToken {
  Token token;
  std::string secret;  // shown to the caller once, never stored
};

struct AuthOptions {
  int cache_ttl_s = 5;
  int fail_limit = 20;
  int fail_window_s = 60;
};

class AuthService : public Authenticator {
 public:
  AuthService(MetadataStore* store, AuthOptions options) : store_(store), options_(options) {}

  // Resolves "Bearer <token>" (or a bare token) to a principal. Unauthenticated when the
  // token is missing, unknown, revoked or expired; ResourceExhausted when `remote` has
  // failed too often recently.
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization,
                                         absl::string_view remote) override;

  // On an empty store creates the admin user. Returns the bootstrap token secret when one was
  // generated (empty when `admin_token` was given or the store was already set up). With
  // `reset`, issues a fresh admin token on an existing store.
  absl::StatusOr<std::string> Bootstrap(const std::string& admin_token, bool reset);

  absl::StatusOr<User> CreateUser(const RequestContext& ctx, const User& user);
  absl::StatusOr<std::vector<User>> ListUsers();
  absl::StatusOr<User> GetUser(absl::string_view name);
  // Changes a user (admins only, audited as user.update). The last enabled admin cannot be
  // demoted or disabled. Takes effect on this process at once, on others within the TTL.
  absl::StatusOr<User> UpdateUser(const RequestContext& ctx, absl::string_view name,
                                  const UserUpdate& update);

  // Issues a token for `user_name` (empty = the caller). Non-admins may only issue their own.
  absl::StatusOr<IssuedToken> CreateToken(const RequestContext& ctx, absl::string_view user_name,
                                          absl::string_view token_name,
                                          std::optional<int64_t> expires_at);
  // The caller's tokens; admins may pass another user's name, or "*" for all.
  absl::StatusOr<std::vector<Token>> ListTokens(const RequestContext& ctx,
                                                absl::string_view user_name);
  absl::Status RevokeToken(const RequestContext& ctx, int64_t token_id);

  static std::string HashToken(absl::string_view secret);

  // Drops cached principals (a token, or every token of a user) so the next request reads
  // the store: for changes made to the store outside this service (a replica's mirror).
  void ForgetToken(const std::string& hash);
  void ForgetUser(int64_t user_id);

 private:
  struct CacheEntry {
    Principal principal;
    std::optional<int64_t> expires_at;
    int64_t loaded_at = 0;
  };
  struct Failures {
    int count = 0;
    int64_t window_start = 0;
  };
  absl::StatusOr<IssuedToken> IssueInTx(Transaction& tx, const User& user, absl::string_view name,
                                        std::optional<int64_t> expires_at,
                                        const std::string& fixed_secret);
  absl::Status NoteFailure(absl::string_view remote, absl::Status why);

  MetadataStore* store_;
  AuthOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, CacheEntry> cache_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Failures> failures_ ABSL_GUARDED_BY(mu_);
};

Json UserToJson(const User& u);
Json TokenToJson(const Token& t);

}  // namespace kade
