#include "cli/client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/asio.h"
#include "boost/asio/ssl.hpp"
#include "boost/beast/ssl.hpp"
#include "core/status.h"

namespace kade {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string ConfigPath() {
  if (const char* x = std::getenv("KADE_CONFIG"); x && *x) return x;
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  std::string base =
      xdg && *xdg ? std::string(xdg)
                  : absl::StrCat(std::getenv("HOME") ? std::getenv("HOME") : ".", "/.config");
  return base + "/kade/config.json";
}

absl::StatusOr<ClientConfigFile> LoadClientConfig() {
  ClientConfigFile cfg;
  std::ifstream in(ConfigPath());
  if (!in) return cfg;
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = ParseJsonObject(ss.str());
  if (!j.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", ConfigPath(), ": ", j.status().message()));
  }
  cfg.url = j->value("url", "");
  cfg.token = j->value("token", "");
  return cfg;
}

absl::Status SaveClientConfig(const ClientConfigFile& cfg) {
  std::string path = ConfigPath();
  std::string dir = path.substr(0, path.rfind('/'));
  std::string parent = dir.substr(0, dir.rfind('/'));
  ::mkdir(parent.c_str(), 0700);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create ", dir));
  }
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("cannot write ", tmp));
  ::fchmod(fd, 0600);
  std::string text = Json{{"url", cfg.url}, {"token", cfg.token}}.dump(2) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return absl::FailedPreconditionError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

absl::Status Client::Resolve() {
  if (opts_.url.empty()) {
    if (const char* u = std::getenv("KADE_URL")) opts_.url = u;
  }
  if (opts_.token.empty()) {
    if (const char* t = std::getenv("KADE_TOKEN")) opts_.token = t;
  }
  if (opts_.url.empty() || opts_.token.empty()) {
    ASSIGN_OR_RETURN(ClientConfigFile cfg, LoadClientConfig());
    if (opts_.url.empty()) opts_.url = cfg.url;
    if (opts_.token.empty()) opts_.token = cfg.token;
  }
  if (opts_.url.empty()) opts_.url = "http://127.0.0.1:8080";
  if (opts_.token.empty()) {
    return absl::UnauthenticatedError("no API token: run `kade login` or set KADE_TOKEN");
  }
  return absl::OkStatus();
}

namespace {
struct Endpoint {
  std::string host, port, prefix;
};

absl::StatusOr<Endpoint> ParseBaseUrl(const std::string& base_url, bool* https = nullptr) {
  std::string rest = base_url;
  if (absl::StartsWith(rest, "https://")) {
    if (https == nullptr) {
      return absl::InvalidArgumentError(
          "https URLs are not supported for uploads and downloads yet; use http");
    }
    *https = true;
    rest = rest.substr(8);
  }
  if (absl::StartsWith(rest, "http://")) rest = rest.substr(7);
  std::string prefix;
  if (size_t slash = rest.find('/'); slash != std::string::npos) {
    prefix = rest.substr(slash);
    rest = rest.substr(0, slash);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  }
  Endpoint e{rest, https != nullptr && *https ? "443" : "80", prefix};
  if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    e.host = rest.substr(0, colon);
    e.port = rest.substr(colon + 1);
  }
  return e;
}

// Connects `stream` to the endpoint and returns a request header for `target` with the
// common fields set. Throws on connection failure (callers catch at their boundary).
template <typename Body>
http::request<Body> Connect(beast::tcp_stream& stream, net::io_context& ioc, const Endpoint& ep,
                            http::verb method, const std::string& target,
                            const std::string& token) {
  net::ip::tcp::resolver resolver(ioc);
  stream.expires_never();
  stream.connect(resolver.resolve(ep.host, ep.port));
  http::request<Body> req{method, ep.prefix + target, 11};
  req.set(http::field::host, ep.host);
  req.set(http::field::user_agent, "kade-cli");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  return req;
}
}  // namespace

namespace {

// Writes the request and reads the answer on a connected (plain or TLS) stream.
template <typename Stream>
RawResponse Exchange(Stream& stream, const Endpoint& ep, const std::string& method,
                     const std::string& target, const std::string& body, const std::string& token,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
  const std::string& host = ep.host;
  const std::string path = ep.prefix + target;
  http::request<http::string_body> req{http::string_to_verb(method), path.empty() ? "/" : path, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "kade-cli");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  for (const auto& [k, v] : headers) req.set(k, v);
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ull << 30);
  beast::error_code ec;
  http::read(stream, buffer, parser, ec);
  // A TLS peer that closes without close_notify ends a body that runs to the end of the
  // connection as a plain close would.
  if (ec == net::ssl::error::stream_truncated && !parser.is_done()) {
    ec = {};
    parser.put_eof(ec);
  }
  if (ec) throw beast::system_error(ec);
  return RawResponse{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

}  // namespace

absl::StatusOr<RawResponse> HttpRequestRaw(
    const std::string& base_url, const std::string& method, const std::string& target,
    const std::string& body, const std::string& token, int timeout_s,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  bool https = false;
  ASSIGN_OR_RETURN(Endpoint ep, ParseBaseUrl(base_url, &https));
  const std::string& host = ep.host;
  const std::string& port = ep.port;
  if (https) {
    // TLS with the system's trust store (plus KADE_CA_FILE, a PEM bundle, when set), the
    // server's name checked against its certificate, and SNI.
    try {
      net::io_context ioc;
      net::ssl::context ctx(net::ssl::context::tls_client);
      ctx.set_default_verify_paths();
      if (const char* ca = std::getenv("KADE_CA_FILE"); ca && *ca) ctx.load_verify_file(ca);
      ctx.set_verify_mode(net::ssl::verify_peer);
      beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
      if (!SSL_set_tlsext_host_name(stream.native_handle(), host.c_str())) {
        return absl::UnavailableError(absl::StrCat("cannot set the TLS server name ", host));
      }
      stream.set_verify_callback(net::ssl::host_name_verification(host));
      net::ip::tcp::resolver resolver(ioc);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(timeout_s));
      beast::get_lowest_layer(stream).connect(resolver.resolve(host, port));
      stream.handshake(net::ssl::stream_base::client);
      RawResponse out = Exchange(stream, ep, method, target, body, token, headers);
      beast::error_code ec;
      stream.shutdown(ec);  // many servers close without a TLS close_notify: not an error here
      return out;
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("cannot reach ", base_url, ": ", e.what()));
    }
  }
  try {
    net::io_context ioc;
    net::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(timeout_s));
    stream.connect(resolver.resolve(host, port));
    RawResponse out = Exchange(stream, ep, method, target, body, token, headers);
    beast::error_code ec;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    return out;
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot reach Kade at ", base_url, ": ", e.what()));
  }
}

absl::StatusOr<RawResponse> HttpUploadFile(const std::string& base_url, const std::string& method,
                                           const std::string& target, const std::string& path,
                                           const std::string& token) {
  ASSIGN_OR_RETURN(Endpoint ep, ParseBaseUrl(base_url));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  struct stat st;
  ::fstat(fd, &st);
  try {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    auto req =
        Connect<http::empty_body>(stream, ioc, ep, http::string_to_verb(method), target, token);
    req.set(http::field::content_type, "application/octet-stream");
    req.content_length(static_cast<uint64_t>(st.st_size));
    http::request_serializer<http::empty_body> sr{req};
    http::write_header(stream, sr);
    std::string buf(1 << 20, '\0');
    beast::error_code wec;
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n <= 0) break;
      net::write(stream.socket(), net::buffer(buf.data(), static_cast<size_t>(n)), wec);
      if (wec) break;  // the server answered early (an error); read its answer below
    }
    ::close(fd);
    fd = -1;
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    http::read(stream, buffer, parser);
    return RawResponse{static_cast<int>(parser.get().result_int()), parser.get().body()};
  } catch (const std::exception& e) {
    if (fd >= 0) ::close(fd);
    return absl::UnavailableError(absl::StrCat("upload to ", base_url, " failed: ", e.what()));
  }
}

absl::StatusOr<RawResponse> HttpDownloadFile(const std::string& base_url, const std::string& target,
                                             const std::string& path, const std::string& token) {
  ASSIGN_OR_RETURN(Endpoint ep, ParseBaseUrl(base_url));
  try {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    auto req = Connect<http::empty_body>(stream, ioc, ep, http::verb::get, target, token);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> head;
    head.body_limit(std::numeric_limits<std::uint64_t>::max());
    http::read_header(stream, buffer, head);
    int status = static_cast<int>(head.get().result_int());
    if (status != 200) {
      http::response_parser<http::string_body> err(std::move(head));
      http::read(stream, buffer, err);
      return RawResponse{status, err.get().body()};
    }
    http::response_parser<http::file_body> body(std::move(head));
    body.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec;
    std::string tmp = path + ".part";
    body.get().body().open(tmp.c_str(), beast::file_mode::write, ec);
    if (ec)
      return absl::FailedPreconditionError(absl::StrCat("cannot write ", tmp, ": ", ec.message()));
    http::read(stream, buffer, body);
    body.get().body().close();
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      return absl::FailedPreconditionError(absl::StrCat("cannot write ", path));
    }
    return RawResponse{status, ""};
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("download from ", base_url, " failed: ", e.what()));
  }
}

absl::Status StatusFromResponse(const RawResponse& r) {
  if (r.status >= 200 && r.status < 300) return absl::OkStatus();
  Json j = Json::parse(r.body, nullptr, false);
  std::string msg = r.body;
  std::string code;
  if (!j.is_discarded() && j.contains("error")) {
    msg = j["error"].value("message", r.body);
    code = j["error"].value("code", "");
  } else if (!j.is_discarded() && j.is_object() && j.contains("error_code")) {  // MLflow's shape
    msg = j.value("message", r.body);
    code = j.value("error_code", "");
  }
  absl::StatusCode sc = r.status == 401   ? absl::StatusCode::kUnauthenticated
                        : r.status == 403 ? absl::StatusCode::kPermissionDenied
                        : r.status == 404 ? absl::StatusCode::kNotFound
                        : r.status == 409 ? absl::StatusCode::kAlreadyExists
                        : r.status < 500  ? absl::StatusCode::kInvalidArgument
                                          : absl::StatusCode::kInternal;
  return absl::Status(sc,
                      absl::StrCat(msg, " (HTTP ", r.status, code.empty() ? "" : " ", code, ")"));
}

absl::StatusOr<Json> Client::Call(const std::string& method, const std::string& path,
                                  const Json* body) {
  ASSIGN_OR_RETURN(RawResponse r, HttpRequestRaw(opts_.url, method, path,
                                                 body ? body->dump() : std::string(), opts_.token));
  if (r.status >= 200 && r.status < 300) {
    Json j = Json::parse(r.body, nullptr, false);
    if (j.is_discarded()) return Json(r.body);
    return j;
  }
  return StatusFromResponse(r);
}

std::string JsonCell(const Json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < header.size(); ++i) {
      std::string cell = i < row.size() ? row[i] : "";
      line += cell;
      if (i + 1 < header.size()) line += std::string(width[i] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  };
  std::vector<std::string> upper;
  for (auto h : header) {
    for (auto& c : h) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    upper.push_back(h);
  }
  print_row(upper);
  for (const auto& row : rows) print_row(row);
  if (rows.empty()) std::cout << "(none)\n";
}

absl::StatusOr<int64_t> ParseDurationSeconds(const std::string& text) {
  if (text.empty()) return absl::InvalidArgumentError("empty duration");
  int64_t mult = 1;
  std::string num = text;
  switch (text.back()) {
    case 's':
      mult = 1;
      num.pop_back();
      break;
    case 'm':
      mult = 60;
      num.pop_back();
      break;
    case 'h':
      mult = 3600;
      num.pop_back();
      break;
    case 'd':
      mult = 86400;
      num.pop_back();
      break;
    default:
      break;
  }
  int64_t v = 0;
  if (!absl::SimpleAtoi(num, &v) || v < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "duration '", text, "' is not like 30d, 12h, 45m, 90s or a number of seconds"));
  }
  return v * mult;
}

int WithClient(const ClientOptions& opts, const std::function<absl::Status(Client&)>& fn) {
  Client c(opts);
  if (auto s = c.Resolve(); !s.ok()) return Report(s);
  return Report(fn(c));
}

int Report(const absl::Status& status) {
  if (status.ok()) return 0;
  std::cerr << "kade: " << status.message() << "\n";
  return 1;
}

}  // namespace kade
