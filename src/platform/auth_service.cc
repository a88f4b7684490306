#include "platform/auth_service.h"
#include "absl/strings/string_view.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/crypto.h"
#include "core/status.h"
#include "core/time.h"
#include "platform/names.h"

namespace kade {

namespace {
constexpr size_t kMaxCacheEntries = 100000;
constexpr size_t kMaxFailureEntries = 100000;
constexpr int64_t kLastUsedResolutionMs = 60000;
}  // namespace

std::string AuthService::HashToken(absl::string_view secret) { return Sha256Hex(secret); }

absl::Status AuthService::NoteFailure(absl::string_view remote, absl::Status why) {
  absl::MutexLock lock(&mu_);
  int64_t now = NowMillis();
  if (failures_.size() > kMaxFailureEntries) failures_.clear();
  Failures& f = failures_[remote];
  if (now - f.window_start > options_.fail_window_s * 1000LL) {
    f.window_start = now;
    f.count = 0;
  }
  ++f.count;
  if (f.count > options_.fail_limit) {
    // Past the limit the answer no longer says why the token failed, only when to retry.
    int64_t wait = (f.window_start + options_.fail_window_s * 1000LL - now + 999) / 1000;
    return WithRetryAfter(
        absl::ResourceExhaustedError(absl::StrCat(
            "too many failed authentication attempts from this address; retry in ", wait, " s")),
        wait);
  }
  return why;
}

// Only failed attempts are throttled: a valid token is answered even from an address that
// is over the limit, so one attacker behind a shared proxy or NAT cannot lock everybody out.
// Guessing stays as slow as before, since every wrong guess from that address is a 429.
absl::StatusOr<Principal> AuthService::Authenticate(absl::string_view authorization,
                                                    absl::string_view remote) {
  int64_t now = NowMillis();
  absl::string_view secret = absl::StripAsciiWhitespace(authorization);
  if (secret.empty()) {
    return absl::UnauthenticatedError("missing API token: send 'Authorization: Bearer <token>'");
  }
  if (absl::StartsWithIgnoreCase(secret, "bearer ")) {
    secret = absl::StripLeadingAsciiWhitespace(secret.substr(7));
  } else {
    return NoteFailure(
        remote, absl::UnauthenticatedError("the Authorization header must use the Bearer scheme"));
  }
  if (secret.size() > 512) {
    return NoteFailure(remote, absl::UnauthenticatedError("invalid API token"));
  }
  std::string hash = HashToken(secret);
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(hash);
    if (it != cache_.end() && now - it->second.loaded_at < options_.cache_ttl_s * 1000LL) {
      if (it->second.expires_at && *it->second.expires_at <= now) {
        cache_.erase(it);
      } else {
        return it->second.principal;
      }
    }
  }
  std::optional<Token> token;
  std::optional<User> user;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(token, tx.tokens().FindByHash(hash));
    if (token) {
      ASSIGN_OR_RETURN(user, tx.users().FindById(token->user_id));
    }
    return absl::OkStatus();
  }));
  if (!token || !user) return NoteFailure(remote, absl::UnauthenticatedError("invalid API token"));
  if (token->revoked_at) {
    return NoteFailure(remote, absl::UnauthenticatedError(
                                   absl::StrCat("API token '", token->name, "' has been revoked")));
  }
  if (token->expires_at && *token->expires_at <= now) {
    return NoteFailure(remote, absl::UnauthenticatedError(
                                   absl::StrCat("API token '", token->name, "' has expired")));
  }
  if (user->disabled) {
    return NoteFailure(
        remote, absl::UnauthenticatedError(absl::StrCat("user '", user->name, "' is disabled")));
  }
  Principal p{user->id, user->name, user->is_admin, token->id};
  if (!token->last_used_at || now - *token->last_used_at > kLastUsedResolutionMs) {
    // Best effort: a failure to record last use must not fail the request.
    (void)store_->Write([&](Transaction& tx) { return tx.tokens().TouchLastUsed(token->id, now); });
  }
  absl::MutexLock lock(&mu_);
  if (cache_.size() > kMaxCacheEntries) cache_.clear();
  cache_[hash] = CacheEntry{p, token->expires_at, now};
  return p;
}

absl::StatusOr<IssuedToken> AuthService::IssueInTx(Transaction& tx, const User& user,
                                                   absl::string_view name,
                                                   std::optional<int64_t> expires_at,
                                                   const std::string& fixed_secret) {
  IssuedToken out;
  out.secret =
      fixed_secret.empty() ? absl::StrCat("kade_", Base64UrlEncode(RandomBytes(32))) : fixed_secret;
  Token t;
  t.user_id = user.id;
  t.user_name = user.name;
  t.name = std::string(name);
  t.token_hash = HashToken(out.secret);
  t.prefix = out.secret.substr(0, 12);
  t.created_at = NowMillis();
  t.expires_at = expires_at;
  absl::StatusOr<Token> created = tx.tokens().Create(t);
  if (absl::IsAlreadyExists(created.status())) {
    return absl::AlreadyExistsError("that token is already registered");
  }
  RETURN_IF_ERROR(created.status());
  out.token = *created;
  out.token.user_name = user.name;
  return out;
}

absl::StatusOr<std::string> AuthService::Bootstrap(const std::string& admin_token, bool reset) {
  std::string printed;
  RequestContext ctx = SystemContext("bootstrap");
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(int64_t users, tx.users().Count());
    std::optional<User> admin;
    if (users == 0) {
      User u;
      u.name = "admin";
      u.display_name = "Administrator";
      u.is_admin = true;
      u.created_at = NowMillis();
      ASSIGN_OR_RETURN(admin, tx.users().Create(u));
      RETURN_IF_ERROR(AuditLog::AppendInTx(
          tx, ctx, {"user.create", "user/admin", "", Json{{"admin", true}, {"bootstrap", true}}}));
    } else if (reset) {
      ASSIGN_OR_RETURN(admin, tx.users().FindByName("admin"));
      if (!admin) return absl::NotFoundError("there is no user 'admin' to reset a token for");
    } else {
      return absl::OkStatus();
    }
    if (!admin_token.empty() && !reset) {
      absl::StatusOr<IssuedToken> t = IssueInTx(tx, *admin, "bootstrap", std::nullopt, admin_token);
      RETURN_IF_ERROR(t.status());
    } else {
      ASSIGN_OR_RETURN(IssuedToken t,
                       IssueInTx(tx, *admin, reset ? "reset" : "bootstrap", std::nullopt, ""));
      printed = t.secret;
    }
    return AuditLog::AppendInTx(
        tx, ctx, {"token.create", "user/admin", "", Json{{"name", reset ? "reset" : "bootstrap"}}});
  }));
  return printed;
}

absl::StatusOr<User> AuthService::CreateUser(const RequestContext& ctx, const User& input) {
  RETURN_IF_ERROR(ValidateName("user", input.name));
  if (input.display_name.size() > 200 || input.email.size() > 320) {
    return absl::InvalidArgumentError("display name or email is too long");
  }
  User created;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    User u = input;
    u.created_at = NowMillis();
    ASSIGN_OR_RETURN(created, tx.users().Create(u));
    return AuditLog::AppendInTx(
        tx, ctx, {"user.create", absl::StrCat("user/", u.name), "", Json{{"admin", u.is_admin}}});
  }));
  return created;
}

absl::StatusOr<std::vector<User>> AuthService::ListUsers() {
  std::vector<User> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, tx.users().List());
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<User> AuthService::GetUser(absl::string_view name) {
  std::optional<User> u;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(u, tx.users().FindByName(name));
    return absl::OkStatus();
  }));
  if (!u) return absl::NotFoundError(absl::StrCat("user '", name, "' not found"));
  return *u;
}

absl::StatusOr<IssuedToken> AuthService::CreateToken(const RequestContext& ctx,
                                                     absl::string_view user_name,
                                                     absl::string_view token_name,
                                                     std::optional<int64_t> expires_at) {
  std::string target = user_name.empty() ? ctx.principal.user_name : std::string(user_name);
  if (target != ctx.principal.user_name && !ctx.principal.is_admin) {
    return absl::PermissionDeniedError("only a platform admin can create tokens for other users");
  }
  if (token_name.empty() || token_name.size() > 100) {
    return absl::InvalidArgumentError("token name must be 1 to 100 characters");
  }
  for (char c : token_name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("token name must not contain control characters");
    }
  }
  if (expires_at && *expires_at <= NowMillis()) {
    return absl::InvalidArgumentError("expiry must be in the future");
  }
  IssuedToken issued;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto user, tx.users().FindByName(target));
    if (!user) return absl::NotFoundError(absl::StrCat("user '", target, "' not found"));
    ASSIGN_OR_RETURN(issued, IssueInTx(tx, *user, token_name, expires_at, ""));
    Json detail{{"name", token_name}, {"token_id", issued.token.id}};
    if (expires_at) detail["expires_at"] = FormatRfc3339Millis(*expires_at);
    return AuditLog::AppendInTx(tx, ctx,
                                {"token.create", absl::StrCat("user/", target), "", detail});
  }));
  return issued;
}

absl::StatusOr<std::vector<Token>> AuthService::ListTokens(const RequestContext& ctx,
                                                           absl::string_view user_name) {
  std::string target = user_name.empty() ? ctx.principal.user_name : std::string(user_name);
  if (target != ctx.principal.user_name && !ctx.principal.is_admin) {
    return absl::PermissionDeniedError("only a platform admin can list other users' tokens");
  }
  std::vector<Token> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    if (target == "*") {
      ASSIGN_OR_RETURN(out, tx.tokens().ListAll());
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(auto user, tx.users().FindByName(target));
    if (!user) return absl::NotFoundError(absl::StrCat("user '", target, "' not found"));
    ASSIGN_OR_RETURN(out, tx.tokens().ListForUser(user->id));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status AuthService::RevokeToken(const RequestContext& ctx, int64_t token_id) {
  std::string hash;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto token, tx.tokens().FindById(token_id));
    // Another user's token is reported as absent to non-admins: ids do not leak.
    if (!token || (token->user_id != ctx.principal.user_id && !ctx.principal.is_admin)) {
      return absl::NotFoundError(absl::StrCat("token ", token_id, " not found"));
    }
    if (token->revoked_at) {
      return absl::FailedPreconditionError(absl::StrCat("token ", token_id, " is already revoked"));
    }
    RETURN_IF_ERROR(tx.tokens().Revoke(token_id, NowMillis()));
    hash = token->token_hash;
    return AuditLog::AppendInTx(tx, ctx,
                                {"token.revoke", absl::StrCat("user/", token->user_name), "",
                                 Json{{"token_id", token_id}, {"name", token->name}}});
  }));
  absl::MutexLock lock(&mu_);
  cache_.erase(hash);
  return absl::OkStatus();
}

absl::StatusOr<User> AuthService::UpdateUser(const RequestContext& ctx, absl::string_view name,
                                             const UserUpdate& update) {
  const bool own_default_only = name == ctx.principal.user_name && !update.display_name &&
                                !update.email && !update.admin && !update.disabled &&
                                update.default_project;
  if (!ctx.principal.is_admin && !own_default_only) {
    return absl::PermissionDeniedError(
        "only admins change users (a user may change their own default_project)");
  }
  if ((update.display_name && update.display_name->size() > 200) ||
      (update.email && update.email->size() > 320)) {
    return absl::InvalidArgumentError("display name or email is too long");
  }
  User out;
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto found, tx.users().FindByName(name));
    if (!found) return absl::NotFoundError(absl::StrCat("user '", name, "' not found"));
    User u = *found;
    if (update.display_name) u.display_name = *update.display_name;
    if (update.email) u.email = *update.email;
    if (update.admin) u.is_admin = *update.admin;
    if (update.disabled) u.disabled = *update.disabled;
    if (update.default_project && !update.default_project->empty()) {
      ASSIGN_OR_RETURN(auto project, tx.projects().FindByName(*update.default_project));
      std::optional<Role> role;
      if (project) {
        ASSIGN_OR_RETURN(role, tx.members().RoleOf(project->id, u.id));
      }
      // The user must be able to use it (admins may point anyone at any existing project;
      // a project the user cannot see reads as missing, as everywhere).
      if (!project || (!role && !u.is_admin && !ctx.principal.is_admin)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "default_project: project '", *update.default_project, "' does not exist"));
      }
    }
    if (update.default_project) u.default_project = *update.default_project;
    const bool was_admin = found->is_admin && !found->disabled;
    if (was_admin && !(u.is_admin && !u.disabled)) {
      ASSIGN_OR_RETURN(auto all, tx.users().List());
      int admins = 0;
      for (const auto& other : all) admins += other.is_admin && !other.disabled;
      if (admins <= 1) {
        return absl::FailedPreconditionError(absl::StrCat(
            "user '", name, "' is the last enabled admin: make another user admin first"));
      }
    }
    RETURN_IF_ERROR(tx.users().Update(u));
    Json detail = Json::object();
    if (update.admin) detail["admin"] = *update.admin;
    if (update.disabled) detail["disabled"] = *update.disabled;
    if (update.display_name) detail["display_name"] = *update.display_name;
    if (update.email) detail["email"] = *update.email;
    if (update.default_project) detail["default_project"] = *update.default_project;
    out = u;
    return AuditLog::AppendInTx(tx, ctx,
                                {"user.update", absl::StrCat("user/", u.name), "", detail});
  }));
  ForgetUser(out.id);  // its cached principals carry the old flags
  return out;
}

void AuthService::ForgetToken(const std::string& hash) {
  absl::MutexLock lock(&mu_);
  cache_.erase(hash);
}

void AuthService::ForgetUser(int64_t user_id) {
  absl::MutexLock lock(&mu_);
  absl::erase_if(cache_, [&](const auto& kv) { return kv.second.principal.user_id == user_id; });
}

Json UserToJson(const User& u) {
  return Json{{"name", u.name},
              {"display_name", u.display_name},
              {"email", u.email},
              {"admin", u.is_admin},
              {"disabled", u.disabled},
              {"created_at", FormatRfc3339Millis(u.created_at)},
              {"default_project", u.default_project}};
}

Json TokenToJson(const Token& t) {
  Json j{{"id", t.id},
         {"user", t.user_name},
         {"name", t.name},
         {"prefix", t.prefix},
         {"created_at", FormatRfc3339Millis(t.created_at)},
         {"expires_at", nullptr},
         {"revoked_at", nullptr},
         {"last_used_at", nullptr}};
  if (t.expires_at) j["expires_at"] = FormatRfc3339Millis(*t.expires_at);
  if (t.revoked_at) j["revoked_at"] = FormatRfc3339Millis(*t.revoked_at);
  if (t.last_used_at) j["last_used_at"] = FormatRfc3339Millis(*t.last_used_at);
  bool expired = t.expires_at && *t.expires_at <= NowMillis();
  j["status"] = t.revoked_at ? "revoked" : expired ? "expired" : "active";
  return j;
}

}  // namespace kade
