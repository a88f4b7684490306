#include "api/http_server.h"
#include "absl/strings/string_view.h"

#include <chrono>
#include <future>
#include <limits>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "api/asio.h"
#include "api/metrics.h"
#include "api/router.h"
#include "api/static_files.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/time.h"
#include "spdlog/spdlog.h"

namespace kade {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

struct Session {
  explicit Session(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  bool busy = false;  // touched only on the session's strand
};

bool ValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Paths that belong to an API: a GET there with no route is a 404 in that API's protocol,
// never the UI's index.html (a client that mistypes a URL must not receive a web page).
bool IsApiPath(absl::string_view path) {
  if (absl::StartsWith(path, "/projects/")) {
    absl::string_view rest = path.substr(10);
    size_t slash = rest.find('/');
    if (slash == absl::string_view::npos) return false;
    rest = rest.substr(slash);
    return absl::StartsWith(rest, "/api/") || absl::StartsWith(rest, "/ajax-api/");
  }
  return absl::StartsWith(path, "/api/") || absl::StartsWith(path, "/ajax-api/") ||
         absl::StartsWith(path, "/v2/") || path == "/v2" || path == "/metrics" ||
         path == "/healthz" || path == "/readyz" || path == "/health";
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions opt;
  Router* router;
  Metrics* metrics;
  StaticFiles* ui;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::atomic<bool> draining{false};
  std::atomic<int> session_count{0};
  std::atomic<uint64_t> request_counter{0};
  std::string id_prefix = HexEncode(RandomBytes(4));
  uint16_t bound_port = 0;
  absl::Mutex mu;
  absl::flat_hash_map<Session*, std::weak_ptr<Session>> sessions ABSL_GUARDED_BY(mu);
  // Blocking work (file I/O, hashing, whole-table scans) runs here, so event-loop threads
  // keep serving other connections meanwhile.
  net::thread_pool blocking_pool{
      static_cast<size_t>(std::max(16u, std::thread::hardware_concurrency() * 2))};

  // Runs `fn` on the blocking pool and resumes the calling coroutine on its own executor.
  template <typename F>
  net::awaitable<std::invoke_result_t<F>> OnPool(F fn) {
    using R = std::invoke_result_t<F>;
    co_return co_await net::co_spawn(
        blocking_pool.get_executor(),
        [fn = std::move(fn)]() mutable -> net::awaitable<R> { co_return fn(); },
        net::use_awaitable);
  }

  // Waits, without holding a thread, for `change` to be committed by the metadata store's
  // committer thread; resumes on the calling coroutine's executor with the result.
  net::awaitable<absl::Status> CommitAsync(std::function<absl::Status(Transaction&)> change) {
    auto ex = co_await net::this_coro::executor;
    MetadataStore* store = router->platform()->store.get();
    // Everything the initiation needs is held by shared pointers in a named object: GCC 12
    // destroys some temporaries of a co_await expression twice, so none with owned state
    // may appear in it.
    auto owned = std::make_shared<std::function<absl::Status(Transaction&)>>(std::move(change));
    auto initiate = [store, ex, owned](auto handler) {
      auto h = std::make_shared<decltype(handler)>(std::move(handler));
      store->WriteAsync(std::move(*owned), [h, ex](absl::Status st) {
        net::post(ex, [h, st]() mutable { std::move (*h)(st); });
      });
    };
    absl::Status st =
        co_await net::async_initiate<decltype(net::use_awaitable), void(absl::Status)>(
            initiate, net::use_awaitable);
    co_return st;
  }

  // A deferred-write route: admit and check on the event loop, queue the change for the
  // group commit and answer once it is durable.
  net::awaitable<HttpResponse> RunDeferred(const Route& route, const RouteMatch& match,
                                           const HttpRequest& req) {
    absl::StatusOr<RouteContext> rc = absl::InternalError("not admitted");
    if (router->AdmitBlocks(req)) {
      rc = co_await OnPool([&] { return router->Admit(match, req); });
    } else {
      rc = router->Admit(match, req);
    }
    if (!rc.ok()) {
      co_return route.mlflow_errors ? HttpResponse::MlflowError(rc.status())
                                    : HttpResponse::Error(rc.status());
    }
    absl::StatusOr<DeferredWrite> w = absl::InternalError("handler did not run");
    try {
      w = route.deferred(*rc);
    } catch (const std::exception& e) {
      w = absl::InternalError(absl::StrCat("unexpected error: ", e.what()));
    }
    absl::StatusOr<HttpResponse> result = absl::InternalError("change did not run");
    if (!w.ok()) {
      result = w.status();
    } else {
      absl::Status st = co_await CommitAsync(std::move(w->change));
      if (st.ok()) {
        result = w->respond();
      } else {
        result = st;
      }
    }
    if (!result.ok() && !route.audit_action.empty()) {
      // Recording the refusal is itself a (synchronous) write: off the event loop.
      co_return co_await OnPool(
          [this, &route, &rc, &result] { return router->Render(route, *rc, std::move(result)); });
    }
    co_return router->Render(route, *rc, std::move(result));
  }

  Impl(HttpServerOptions o, Router* r, Metrics* m, StaticFiles* u)
      : opt(std::move(o)), router(r), metrics(m), ui(u) {}

  net::awaitable<void> Listener();
  net::awaitable<void> Serve(std::shared_ptr<Session> s);
  net::awaitable<void> ServeRequests(std::shared_ptr<Session> s);
  net::awaitable<void> Drain();
  void BeginShutdown();

  std::string NextRequestId() {
    return absl::StrCat(id_prefix, "-",
                        absl::Hex(request_counter.fetch_add(1) + 1, absl::kZeroPad8));
  }

  net::awaitable<uint64_t> Write(Session& s, HttpResponse& r, unsigned version, bool keep_alive,
                                 const std::string& request_id, bool head, beast::error_code& ec);

  void LogAccess(const HttpRequest& req, const std::string& route, const HttpResponse& resp,
                 uint64_t bytes, double seconds) {
    std::string line;
    line.reserve(256);
    line += "{\"ts\":";
    AppendJsonString(&line, FormatRfc3339Millis(NowMillis()));
    line += ",\"msg\":\"request\",\"request_id\":";
    AppendJsonString(&line, req.request_id);
    line += ",\"remote\":";
    AppendJsonString(&line, req.remote);
    line += ",\"method\":";
    AppendJsonString(&line, req.method);
    line += ",\"path\":";
    AppendJsonString(&line, req.path);
    line += ",\"route\":";
    AppendJsonString(&line, route);
    absl::StrAppend(&line, ",\"status\":", resp.status, ",\"bytes\":", bytes,
                    ",\"duration_ms\":", absl::StrFormat("%.3f", seconds * 1000.0), ",\"user\":");
    AppendJsonString(&line, resp.user);
    line += "}";
    AccessLog(line);
  }
};

net::awaitable<uint64_t> HttpServer::Impl::Write(Session& s, HttpResponse& r, unsigned version,
                                                 bool keep_alive, const std::string& request_id,
                                                 bool head, beast::error_code& ec) {
  auto token = net::redirect_error(net::use_awaitable, ec);
  auto set_common = [&](auto& res) {
    res.set(http::field::server, "kade");
    res.set("X-Request-Id", request_id);
    res.set(http::field::content_type, r.content_type);
    res.set("X-Content-Type-Options", "nosniff");
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep_alive);
  };
  s.stream.expires_after(std::chrono::seconds(opt.write_timeout_s));
  if (!r.file_path.empty()) {
    http::response<http::file_body> res{static_cast<http::status>(r.status), version};
    beast::error_code fec;
    res.body().open(r.file_path.c_str(), beast::file_mode::scan, fec);
    if (!fec) {
      set_common(res);
      res.prepare_payload();
      uint64_t n = res.body().size();
      if (head) {
        http::response_serializer<http::file_body> sr{res};
        sr.split(true);
        co_await http::async_write_header(s.stream, sr, token);
        co_return 0;
      }
      co_await http::async_write(s.stream, res, token);
      co_return n;
    }
    r = HttpResponse::Error(absl::InternalError(absl::StrCat("cannot open file: ", fec.message())));
  }
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  set_common(res);
  uint64_t n = r.body.size();
  res.body() = head ? std::string() : std::move(r.body);
  res.prepare_payload();
  if (head) res.content_length(n);
  co_await http::async_write(s.stream, res, token);
  co_return n;
}

// Every session, however it ends (an error, an exception thrown by a handler or by Beast),
// takes its gauges down and leaves the session table, so shutdown never waits on it.
net::awaitable<void> HttpServer::Impl::Serve(std::shared_ptr<Session> s) {
  metrics->IncConnections();
  struct Cleanup {
    Impl* im;
    Session* s;
    ~Cleanup() {
      {
        absl::MutexLock lock(&im->mu);
        im->sessions.erase(s);
      }
      im->session_count.fetch_sub(1);
      im->metrics->DecConnections();
    }
  } cleanup{this, s.get()};
  try {
    co_await ServeRequests(s);
  } catch (const std::exception& e) {
    spdlog::error("connection ended by an unexpected error: {}", e.what());
  } catch (...) {
    spdlog::error("connection ended by an unexpected non-standard exception");
  }
  beast::error_code sec;
  s->stream.socket().shutdown(tcp::socket::shutdown_send, sec);
  s->stream.close();
}

net::awaitable<void> HttpServer::Impl::ServeRequests(std::shared_ptr<Session> s) {
  beast::error_code ec;
  auto token = net::redirect_error(net::use_awaitable, ec);
  beast::flat_buffer buffer;
  std::string remote;
  {
    beast::error_code e2;
    auto ep = s->stream.socket().remote_endpoint(e2);
    if (!e2) remote = ep.address().to_string();
  }
  for (;;) {
    if (draining.load()) break;
    http::request_parser<http::empty_body> hp;
    hp.header_limit(16 * 1024);
    hp.body_limit(std::numeric_limits<std::uint64_t>::max());  // checked per route below
    s->busy = false;
    s->stream.expires_after(std::chrono::seconds(opt.idle_timeout_s));
    co_await http::async_read_header(s->stream, buffer, hp, token);
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message) {
        HttpResponse bad =
            ec == http::error::header_limit
                ? HttpResponse::Error(WithHttpStatus(
                      absl::InvalidArgumentError("request headers are larger than 16 KiB"), 431))
                : HttpResponse::Error(absl::InvalidArgumentError(
                      absl::StrCat("malformed HTTP request: ", ec.message())));
        beast::error_code wec;
        co_await Write(*s, bad, 11, false, NextRequestId(), false, wec);
      }
      break;
    }
    s->busy = true;
    metrics->IncInFlight();
    struct InFlight {
      Metrics* m;
      bool on = true;
      void Done() {
        if (on) m->DecInFlight();
        on = false;
      }
      ~InFlight() { Done(); }
    } in_flight{metrics};
    auto start = std::chrono::steady_clock::now();
    auto& hreq = hp.get();

    HttpRequest req;
    req.method = std::string(hreq.method_string());
    req.target = std::string(hreq.target());
    req.remote = remote;
    std::string rid(hreq["X-Request-Id"]);
    req.request_id = ValidRequestId(rid) ? std::string(rid) : NextRequestId();
    req.authorization = std::string(hreq[http::field::authorization]);
    req.content_type = std::string(hreq[http::field::content_type]);
    req.model_version = std::string(hreq["X-Kade-Model-Version"]);
    size_t q = req.target.find('?');
    req.path = req.target.substr(0, q);
    bool keep = hreq.keep_alive() && !draining.load();
    bool head = hreq.method() == http::verb::head;
    unsigned version = hreq.version();
    bool expect_continue =
        absl::EqualsIgnoreCase(std::string(hreq[http::field::expect]), "100-continue");
    std::optional<uint64_t> content_length;
    if (auto cl = hp.content_length()) content_length = *cl;

    HttpResponse resp;
    std::string route_name = "unmatched";
    absl::Status query_status =
        q == std::string::npos
            ? absl::OkStatus()
            : ParseQuery(absl::string_view(req.target).substr(q + 1), &req.query);
    RouteMatch match = router->Match(req.method, req.path);
    bool body_pending = !hp.is_done();

    if (!query_status.ok()) {
      resp = HttpResponse::Error(query_status);
    } else if (match.route != nullptr && match.route->upload) {
      // Streamed body: admit first (no body is read for a refused caller).
      route_name = match.route->pattern;
      absl::StatusOr<RouteContext> rc = absl::InternalError("not admitted");
      if (router->AdmitBlocks(req)) {
        rc = co_await OnPool([&] { return router->Admit(match, req); });
      } else {
        rc = router->Admit(match, req);
      }
      std::unique_ptr<UploadSink> sink;
      absl::Status st = rc.status();
      if (st.ok()) {
        absl::StatusOr<std::unique_ptr<UploadSink>> made = absl::InternalError("no upload");
        try {
          made = match.route->upload(*rc);
        } catch (const std::exception& e) {
          spdlog::error("request {} failed: {}", req.request_id, e.what());
          made = absl::InternalError("unexpected server error");
        }
        if (made.ok()) {
          sink = std::move(*made);
        } else {
          st = made.status();
          router->AuditFailure(*match.route, *rc, st);
        }
      }
      if (st.ok() && content_length && *content_length > opt.max_upload_bytes) {
        st = WithHttpStatus(absl::ResourceExhaustedError(absl::StrCat(
                                "upload of ", *content_length, " bytes exceeds the limit of ",
                                opt.max_upload_bytes, " bytes")),
                            413);
        router->AuditFailure(*match.route, *rc, st);
      }
      if (st.ok()) {
        if (expect_continue) {
          http::response<http::empty_body> cont{http::status::continue_, version};
          s->stream.expires_after(std::chrono::seconds(opt.write_timeout_s));
          co_await http::async_write(s->stream, cont, token);
        }
        http::request_parser<http::buffer_body> bp(std::move(hp));
        bp.body_limit(opt.max_upload_bytes);
        // Two 1 MiB buffers: while the sink processes one on the blocking pool, the next
        // is read from the socket, so receiving overlaps with storing and parsing.
        std::vector<char> chunks[2] = {std::vector<char>(1024 * 1024),
                                       std::vector<char>(1024 * 1024)};
        int cur = 0;
        size_t filled = 0;
        // Beast reads at most the free space of `buffer` per read (and at most 64 KiB); a
        // buffer grown only to the header size meant a 4 KiB read, an epoll wait and a timer
        // re-arm per 4 KiB of upload.
        buffer.reserve(64 * 1024);
        std::future<absl::Status> pending;
        UploadSink* sk = sink.get();
        auto wait_pending = [&]() -> net::awaitable<absl::Status> {
          if (!pending.valid()) co_return absl::OkStatus();
          co_return co_await OnPool([&pending] { return pending.get(); });
        };
        while (st.ok() && !ec && !bp.is_done()) {
          std::vector<char>& chunk = chunks[cur];
          bp.get().body().data = chunk.data() + filled;
          bp.get().body().size = chunk.size() - filled;
          s->stream.expires_after(std::chrono::seconds(opt.read_timeout_s));
          co_await http::async_read(s->stream, buffer, bp, token);
          if (ec == http::error::need_buffer) ec = {};
          if (ec == http::error::body_limit) {
            st =
                WithHttpStatus(absl::ResourceExhaustedError(absl::StrCat(
                                   "upload exceeds the limit of ", opt.max_upload_bytes, " bytes")),
                               413);
            ec = {};
            break;
          }
          if (ec) break;
          filled = chunk.size() - bp.get().body().size;
          if (filled == chunk.size() || (bp.is_done() && filled > 0)) {
            st = co_await wait_pending();  // the other buffer is free again
            if (!st.ok()) break;
            auto done = std::make_shared<std::promise<absl::Status>>();
            pending = done->get_future();
            const char* data = chunk.data();
            size_t n = filled;
            net::post(blocking_pool, [sk, data, n, done] {
              absl::Status r;
              try {
                r = sk->Append(absl::string_view(data, n));
              } catch (const std::exception& e) {
                r = absl::InternalError(absl::StrCat("upload failed: ", e.what()));
              }
              done->set_value(r);
            });
            cur ^= 1;
            filled = 0;
          }
        }
        {
          absl::Status last = co_await wait_pending();
          if (st.ok()) st = last;
        }
        if (ec) {
          // The client went away or stalled mid-upload; nothing was recorded.
          in_flight.Done();
          spdlog::info("upload {} aborted: {}", req.request_id, ec.message());
          break;
        }
        if (st.ok()) {
          UploadSink* sk = sink.get();
          absl::StatusOr<HttpResponse> done =
              co_await OnPool([sk]() -> absl::StatusOr<HttpResponse> {
                try {
                  return sk->Finish();
                } catch (const std::exception& e) {
                  return absl::InternalError(absl::StrCat("upload failed: ", e.what()));
                }
              });
          if (done.ok()) {
            resp = std::move(*done);
          } else {
            st = done.status();
          }
        }
        if (!st.ok()) {
          router->AuditFailure(*match.route, *rc, st);
          keep = keep && bp.is_done();
        }
      } else {
        keep = false;  // body left unread
      }
      if (!st.ok()) {
        resp = match.route->mlflow_errors ? HttpResponse::MlflowError(st) : HttpResponse::Error(st);
      }
      if (rc.ok()) resp.user = rc->ctx.principal.user_name;
    } else {
      if (content_length && *content_length > opt.max_body_bytes) {
        resp = HttpResponse::Error(WithHttpStatus(
            absl::ResourceExhaustedError(absl::StrCat("request body of ", *content_length,
                                                      " bytes exceeds the limit of ",
                                                      opt.max_body_bytes, " bytes")),
            413));
        keep = false;
      } else {
        http::request_parser<http::string_body> bp(std::move(hp));
        bp.body_limit(opt.max_body_bytes);
        if (body_pending) {
          if (expect_continue) {
            http::response<http::empty_body> cont{http::status::continue_, version};
            co_await http::async_write(s->stream, cont, token);
          }
          s->stream.expires_after(std::chrono::seconds(opt.read_timeout_s));
          co_await http::async_read(s->stream, buffer, bp, token);
        }
        if (ec == http::error::body_limit) {
          ec = {};
          resp = HttpResponse::Error(WithHttpStatus(
              absl::ResourceExhaustedError(
                  absl::StrCat("request body exceeds the limit of ", opt.max_body_bytes, " bytes")),
              413));
          keep = false;
        } else if (ec) {
          in_flight.Done();
          break;
        } else {
          req.body = std::move(bp.get().body());
          if (match.route == nullptr && (req.method == "GET" || req.method == "HEAD") &&
              !IsApiPath(req.path) && ui != nullptr) {
            route_name = "ui";
            resp = ui->Serve(req.path);
          } else {
            auto handle = [this, &req, &route_name]() -> HttpResponse {
              try {
                return router->Handle(req, &route_name);
              } catch (const std::exception& e) {
                spdlog::error("request {} failed: {}", req.request_id, e.what());
                return HttpResponse::Error(absl::InternalError("unexpected server error"));
              }
            };
            if (match.route != nullptr && match.route->deferred) {
              route_name = match.route->pattern;
              resp = co_await RunDeferred(*match.route, match, req);
            } else if (match.route != nullptr &&
                       (match.route->blocking || router->AdmitBlocks(req))) {
              resp = co_await OnPool(handle);
            } else {
              resp = handle();
            }
          }
        }
      }
    }

    if (!absl::StartsWith(resp.content_type, "text/html") && resp.file_path.empty()) {
      bool cache_set = false;
      for (const auto& h : resp.headers) cache_set = cache_set || h.first == "Cache-Control";
      if (!cache_set) resp.headers.emplace_back("Cache-Control", "no-store");
    }
    int status = resp.status;
    uint64_t bytes = co_await Write(*s, resp, version, keep, req.request_id, head, ec);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics->Observe(route_name, req.method, status, secs);
    in_flight.Done();
    resp.status = status;
    LogAccess(req, route_name, resp, bytes, secs);
    if (ec || !keep) break;
  }
}

net::awaitable<void> HttpServer::Impl::Listener() {
  for (;;) {
    beast::error_code ec;
    tcp::socket sock = co_await acceptor.async_accept(net::make_strand(ioc),
                                                      net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (draining.load() || ec == net::error::operation_aborted) co_return;
      spdlog::warn("accept failed: {}", ec.message());
      // Out of file descriptors and similar: back off instead of spinning.
      net::steady_timer t(ioc, std::chrono::milliseconds(50));
      co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    auto s = std::make_shared<Session>(std::move(sock));
    {
      absl::MutexLock lock(&mu);
      sessions.emplace(s.get(), s);
    }
    session_count.fetch_add(1);
    auto ex = s->stream.get_executor();
    net::co_spawn(ex, Serve(std::move(s)), net::detached);
  }
}

net::awaitable<void> HttpServer::Impl::Drain() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(opt.shutdown_grace_s);
  net::steady_timer t(ioc);
  beast::error_code ec;
  while (session_count.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    // Close connections that sit idle between requests; busy ones close after their response.
    std::vector<std::weak_ptr<Session>> all;
    {
      absl::MutexLock lock(&mu);
      for (auto& [p, w] : sessions) all.push_back(w);
    }
    for (auto& w : all) {
      if (auto s = w.lock()) {
        net::post(s->stream.get_executor(), [w] {
          if (auto s2 = w.lock()) {
            if (!s2->busy) s2->stream.cancel();
          }
        });
      }
    }
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  if (session_count.load() > 0) {
    spdlog::warn("shutdown grace period over; closing {} connection(s)", session_count.load());
  }
  ioc.stop();
}

void HttpServer::Impl::BeginShutdown() {
  if (draining.exchange(true)) return;
  net::post(ioc, [this] {
    spdlog::info("shutting down: no new connections; finishing in-flight requests");
    beast::error_code ec;
    acceptor.close(ec);
    net::co_spawn(ioc, Drain(), net::detached);
  });
}

HttpServer::HttpServer(HttpServerOptions options, Router* router, Metrics* metrics, StaticFiles* ui)
    : impl_(std::make_unique<Impl>(std::move(options), router, metrics, ui)) {}

HttpServer::~HttpServer() = default;

absl::Status HttpServer::Listen() {
  beast::error_code ec;
  auto addr = net::ip::make_address(impl_->opt.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid listen address '", impl_->opt.host, "'"));
  }
  tcp::endpoint ep(addr, impl_->opt.port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", impl_->opt.host, ":",
                                               impl_->opt.port, ": ", ec.message()));
  }
  impl_->bound_port = a.local_endpoint().port();
  return absl::OkStatus();
}

uint16_t HttpServer::port() const { return impl_->bound_port; }

bool HttpServer::draining() const { return impl_->draining.load(); }

void HttpServer::Shutdown() { impl_->BeginShutdown(); }

void HttpServer::Run() {
  Impl* im = impl_.get();
  std::unique_ptr<net::signal_set> signals;
  if (im->opt.handle_signals) {
    signals = std::make_unique<net::signal_set>(im->ioc, SIGINT, SIGTERM);
    signals->async_wait([im](const beast::error_code& ec, int) {
      if (!ec) im->BeginShutdown();
    });
  }
  net::co_spawn(im->ioc, im->Listener(), net::detached);
  int n = im->opt.threads > 0 ? im->opt.threads
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> workers;
  for (int i = 1; i < n; ++i) {
    workers.emplace_back([im] {
      NameThread("kade-http");
      im->ioc.run();
    });
  }
  im->ioc.run();
  for (auto& t : workers) t.join();
}

}  // namespace kade
