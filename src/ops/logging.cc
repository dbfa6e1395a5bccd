#include "ops/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/dup_filter_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

namespace betcore::ops {

namespace {

// The value of `--name VALUE` or `--name=VALUE` in argv, if present.
const char* flag_value(int argc, char** argv, std::string_view name) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (a == name && i + 1 < argc) return argv[i + 1];
    if (a.size() > name.size() && a.substr(0, name.size()) == name && a[name.size()] == '=') {
      return argv[i] + name.size() + 1;
    }
  }
  return nullptr;
}

// One JSON object a line: {"time":"...Z","level":"info","message":"..."}.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto t = std::chrono::time_point_cast<std::chrono::milliseconds>(msg.time);
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char when[40];
    const size_t n = std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    const auto ms = t.time_since_epoch().count() % 1000;
    std::snprintf(when + n, sizeof when - n, ".%03dZ", static_cast<int>(ms < 0 ? ms + 1000 : ms));
    const auto level = spdlog::level::to_string_view(msg.level);
    const std::string line = json_log_line(when, std::string(level.data(), level.size()),
                                           std::string(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

std::string json_log_line(const std::string& time, const std::string& level, const std::string& message) {
  nlohmann::ordered_json j;
  j["time"] = time;
  j["level"] = level == "warning" ? "warn" : level;
  j["message"] = message;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

LogSettings log_settings_from(int argc, char** argv) {
  LogSettings s;
  if (const char* v = std::getenv("BETCORE_LOG_LEVEL"); v && *v) s.level = v;
  if (const char* v = std::getenv("BETCORE_LOG_FORMAT"); v && *v) s.format = v;
  if (const char* v = flag_value(argc, argv, "--log-level")) s.level = v;
  if (const char* v = flag_value(argc, argv, "--log-format")) s.format = v;
  return s;
}

bool setup_logging(const LogSettings& settings, std::string& error) {
  const spdlog::level::level_enum level = spdlog::level::from_str(settings.level);
  // from_str answers "off" for anything it does not know.
  if (level == spdlog::level::off && settings.level != "off") {
    error = "--log-level " + settings.level + ": expected trace, debug, info, warn, error, critical or off";
    return false;
  }
  if (settings.format != "text" && settings.format != "json") {
    error = "--log-format " + settings.format + ": expected text or json";
    return false;
  }
  // Identical messages in a row (a node waiting for etcd, say) are folded:
  // the first is written, then "Skipped N duplicate messages.." once another
  // message comes or 60 s have passed.
  auto dedup = std::make_shared<spdlog::sinks::dup_filter_sink_mt>(std::chrono::seconds(60));
  dedup->add_sink(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  auto logger = std::make_shared<spdlog::logger>("betcore", dedup);
  if (settings.format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc));
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return true;
}

}  // namespace betcore::ops
