// How every betcore process logs (docs/operations.md, "Logs"): UTC RFC 3339
// time stamps, a level, and either text or one JSON object a line, for a
// log pipeline. Repeats of one message are folded into a count.
#pragma once

#include <spdlog/common.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace betcore::ops {

struct LogSettings {
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  std::string format = "text";  // text or json
};

// --log-level and --log-format from the command line (anywhere in it, in
// either `--flag VALUE` or `--flag=VALUE` form), else BETCORE_LOG_LEVEL and
// BETCORE_LOG_FORMAT, else the defaults. Read before the command line is
// parsed, so the parser's own messages and every command log alike.
LogSettings log_settings_from(int argc, char** argv);

// Installs the logger; false with `error` saying what to change when a
// setting is not one of its values.
bool setup_logging(const LogSettings& settings, std::string& error);

// One field of a log line: a string, or an integer (a number in JSON).
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), text(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), text(v) {}
  LogField(std::string_view k, const char* v) : key(k), text(v) {}
  template <class T, class = std::enable_if_t<std::is_integral_v<T>>>
  LogField(std::string_view k, T v) : key(k), text(std::to_string(v)), number(true) {}

  std::string_view key;
  std::string text;
  bool number = false;
};

// A line with fields, for a pipeline to select on without parsing the
// message: with --log-format json they are members of the line's "fields"
// object; in text they follow the message as key=value.
void log(spdlog::level::level_enum level, std::string_view message, std::initializer_list<LogField> fields);

// A field of every JSON line from now on (the process's role, the node's
// id). Every JSON line also has "pid".
void set_log_context(std::string_view key, std::string_view value);

// The text of one JSON log line (without the newline): time, level,
// message, and a "fields" object of `fields_members` (JSON object members
// without the braces: "\"route\":\"x\",\"status\":503", or "").
std::string json_log_line(const std::string& time, const std::string& level, const std::string& message,
                          const std::string& fields_members = "");

}  // namespace betcore::ops
