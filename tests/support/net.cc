#include "support/net.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>

#include "support/process.h"
#include "tools/http_client.h"

namespace betcore::test {

bool log_says_address_in_use(const std::string& log) {
  std::string lower(log);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("address already in use") != std::string::npos;
}

std::string last_lines(const std::string& text, int n) {
  size_t at = text.size();
  if (at > 0 && text[at - 1] == '\n') --at;
  for (int i = 0; i < n && at != std::string::npos && at > 0; ++i) at = text.rfind('\n', at - 1);
  return at == std::string::npos || at == 0 ? text : text.substr(at + 1);
}

bool wait_http_ready(const std::string& host, uint16_t port, const std::string& path,
                     int timeout_ms, Process* process, std::string* last_failure) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  tools::HttpClientOptions options;
  options.connect_timeout_ms = 500;
  options.request_timeout_ms = 1000;
  tools::HttpClient client(host, port, options);
  std::string failure = "not polled";
  for (;;) {
    if (process) {
      if (auto status = process->try_wait()) {
        failure = "the process exited: " + status->describe();
        break;
      }
    }
    tools::Response r = client.get(path);
    if (r.status == 200) return true;
    failure = r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (last_failure) *last_failure = failure;
  return false;
}

}  // namespace betcore::test
