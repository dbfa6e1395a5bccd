// Probing the drill's helper processes over HTTP (probe.h).
#include "drill/probe.h"

#include <sstream>

#include "drill/clock.h"
#include "tools/http_client.h"

namespace betcore::drill {

bool wait_http_ready(tools::Process& p, uint16_t port, const std::string& path, int timeout_ms) {
  const int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline && p.running()) {
    tools::HttpClient c("127.0.0.1", port, {.connect_timeout_ms = 500, .request_timeout_ms = 2000});
    if (c.get(path).status == 200) return true;
    sleep_ms(200);
  }
  return false;
}

double metric_value(const std::string& text, const std::string& name,
                    const std::vector<std::string>& labels) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    if (line[name.size()] != ' ' && line[name.size()] != '{') continue;
    bool all = true;
    for (const std::string& l : labels) all = all && line.find(l) != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return 0;
}

}  // namespace betcore::drill
