// How every betcore process logs (docs/operations.md, "Logs"): UTC RFC 3339
// time stamps, a level, and either text or one JSON object a line, for a
// log pipeline. Repeats of one message are folded into a count.
#pragma once

#include <string>

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

// The text of one JSON log line (without the newline): time, level, message.
std::string json_log_line(const std::string& time, const std::string& level, const std::string& message);

}  // namespace betcore::ops
