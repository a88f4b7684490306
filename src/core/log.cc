#include "core/log.h"

#include <pthread.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "spdlog/async.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace kade {
namespace {
std::shared_ptr<spdlog::logger>& AccessLogger() {
  static auto* logger = new std::shared_ptr<spdlog::logger>();
  return *logger;
}
}  // namespace

absl::Status InitLogging(const std::string& level, const std::string& access_log) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat("unknown log level '", level, "'"));
  }
  auto app = spdlog::stderr_logger_mt("kade");
  app->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  app->set_level(lvl);
  spdlog::set_default_logger(app);

  if (access_log == "off" || access_log.empty()) return absl::OkStatus();
  try {
    spdlog::init_thread_pool(16384, 1);
    std::shared_ptr<spdlog::logger> logger;
    if (access_log == "stdout") {
      logger = spdlog::create_async_nb<spdlog::sinks::stdout_sink_mt>("access");
    } else {
      logger = spdlog::create_async_nb<spdlog::sinks::basic_file_sink_mt>("access", access_log);
    }
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::info);
    AccessLogger() = logger;
    // Lines reach the file within a second without a write per request.
    spdlog::flush_every(std::chrono::seconds(1));
  } catch (const spdlog::spdlog_ex& e) {
    return absl::InvalidArgumentError(absl::StrCat("cannot open access log: ", e.what()));
  }
  return absl::OkStatus();
}

void AccessLog(const std::string& json_line) {
  auto& logger = AccessLogger();
  if (logger) logger->info(json_line);
}

void FlushLogs() {
  if (AccessLogger()) AccessLogger()->flush();
  spdlog::default_logger()->flush();
}

void NameThread(const char* name) {
  std::string n(name);
  n.resize(std::min<size_t>(n.size(), 15));  // the kernel keeps 15 characters
  pthread_setname_np(pthread_self(), n.c_str());
}

}  // namespace kade
