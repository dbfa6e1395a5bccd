#include "ops/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/dup_filter_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>
#include <vector>

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

// A line with fields travels through spdlog as one payload:
// kFielded, the message, kPart, the fields as text, kPart, the fields as JSON
// object members. Only log() makes payloads that begin with kFielded, and the
// two parts never hold kPart (JSON escapes it; the text replaces it).
constexpr char kFielded = '\x1e';
constexpr char kPart = '\x1f';

struct Parts {
  std::string_view message, text, members;
  bool fielded = false;
};

Parts split(std::string_view payload) {
  Parts p{payload, {}, {}};
  if (payload.empty() || payload.front() != kFielded) return p;
  const size_t second = payload.rfind(kPart);
  const size_t first = second == 0 || second == std::string_view::npos ? std::string_view::npos
                                                                        : payload.rfind(kPart, second - 1);
  if (first == std::string_view::npos || first == 0) return p;
  return Parts{payload.substr(1, first - 1), payload.substr(first + 1, second - first - 1),
               payload.substr(second + 1), true};
}

std::mutex context_mu;
// Every JSON line's own fields ("pid", "process", "node"), guarded by
// context_mu, and as JSON object members.
std::vector<std::pair<std::string, std::string>> context;
std::string context_members;

// The message with its fields as key=value, in the pattern of `inner`.
class TextFormatter final : public spdlog::formatter {
 public:
  explicit TextFormatter(std::unique_ptr<spdlog::formatter> inner) : inner_(std::move(inner)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const Parts parts = split(std::string_view(msg.payload.data(), msg.payload.size()));
    if (!parts.fielded) return inner_->format(msg, dest);
    std::string joined(parts.message);
    if (!parts.text.empty()) joined.append(" ").append(parts.text);
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(joined.data(), joined.size());
    inner_->format(copy, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>(inner_->clone());
  }

 private:
  std::unique_ptr<spdlog::formatter> inner_;
};

// One JSON object a line: {"time":"...Z","level":"info","message":"...","fields":{...}}.
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
    const Parts parts = split(std::string_view(msg.payload.data(), msg.payload.size()));
    std::string members;
    {
      std::lock_guard lock(context_mu);
      members = context_members;
    }
    if (!parts.members.empty()) members.append(",").append(parts.members);
    const std::string line =
        json_log_line(when, std::string(level.data(), level.size()), std::string(parts.message), members);
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

std::string json_log_line(const std::string& time, const std::string& level, const std::string& message,
                          const std::string& fields_members) {
  nlohmann::ordered_json j;
  j["time"] = time;
  j["level"] = level == "warning" ? "warn" : level;
  j["message"] = message;
  std::string line = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  line.pop_back();  // the closing brace
  return line + ",\"fields\":{" + fields_members + "}}";
}

namespace {

// "key":value, for a JSON object.
std::string member(std::string_view key, const std::string& text, bool number) {
  nlohmann::json k = std::string(key);
  std::string out = k.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + ":";
  if (number) return out + text;
  nlohmann::json v = text;
  return out + v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void log(spdlog::level::level_enum level, std::string_view message, std::initializer_list<LogField> fields) {
  std::string text, members;
  for (const LogField& f : fields) {
    if (!text.empty()) {
      text += ' ';
      members += ',';
    }
    std::string value = f.text;
    for (char& c : value) c = static_cast<unsigned char>(c) < 0x20 ? ' ' : c;  // one line, no separators
    const bool quote = value.empty() || value.find_first_of(" \"=") != std::string::npos;
    text.append(f.key).append("=").append(quote ? member("", value, false).substr(3) : value);
    members += member(f.key, f.text, f.number);
  }
  std::string payload(1, kFielded);
  payload.append(message).append(1, kPart).append(text).append(1, kPart).append(members);
  spdlog::log(level, "{}", payload);
}

namespace {

// Sets one of every JSON line's fields to `json_member` ("key":value).
void set_context_member(std::string_view key, std::string json_member) {
  std::lock_guard lock(context_mu);
  auto it = std::find_if(context.begin(), context.end(), [&](const auto& kv) { return kv.first == key; });
  if (it == context.end()) {
    context.emplace_back(key, std::move(json_member));
  } else {
    it->second = std::move(json_member);
  }
  context_members.clear();
  for (const auto& [k, m] : context) context_members += (context_members.empty() ? "" : ",") + m;
}

}  // namespace

void set_log_context(std::string_view key, std::string_view value) {
  set_context_member(key, member(key, std::string(value), false));
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
    logger->set_formatter(std::make_unique<TextFormatter>(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc)));
  }
  set_context_member("pid", member("pid", std::to_string(::getpid()), true));
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return true;
}

}  // namespace betcore::ops
