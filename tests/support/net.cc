#include "support/net.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "ops/metrics.h"
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

std::optional<tls::ClientFiles> tls_client() {
  tls::ClientFiles f = tls::default_client();
  if (f.ca_file.empty()) return std::nullopt;
  return f;
}

bool wait_http_ready(const std::string& host, uint16_t port, const std::string& path,
                     int timeout_ms, Process* process, std::string* last_failure) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  tools::HttpClientOptions options;
  options.connect_timeout_ms = 500;
  options.request_timeout_ms = 1000;
  options.tls = tls_client();
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

bool eventually(std::chrono::milliseconds timeout, const std::function<bool()>& ok) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return ok();
}

Process start_server(const std::function<SpawnOptions(uint16_t)>& options,
                     const std::string& ready_path, uint16_t& port, const std::string& what) {
  std::string why;
  for (int attempt = 1; attempt <= kBindAttemptsMax; ++attempt) {
    port = reserve_port();
    Process p = Process::spawn(options(port));
    if (wait_http_ready("127.0.0.1", port, ready_path, 30000, &p, &why)) return p;
    p.stop(2000);
    std::string log = p.read_log();
    why = what + " on port " + std::to_string(port) + " is not ready: " + why + "\n" +
          last_lines(log);
    if (!log_says_address_in_use(log)) break;
  }
  ADD_FAILURE() << why;
  return Process();
}

// The value of the series `name` whose labels include every one of `labels`
// (e.g. {"endpoint=\"get_payout\""}); -1 when there is none.
double metric(const std::string& text, const std::string& name, const std::vector<std::string>& labels) {
  return ops::sample_value(text, name, labels).value_or(-1);
}

std::string promtool_check_metrics(uint16_t port) {
  tools::Response r = tools::HttpClient("127.0.0.1", port).get("/metrics");
  if (r.status != 200) return "GET /metrics answered " + std::to_string(r.status) + " " + r.error;
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("betcore-promtool-" + std::to_string(::getpid()) + "-" +
                                                    std::to_string(port));
  fs::create_directories(dir);
  std::ofstream(dir / "metrics.txt") << r.body;
  SpawnOptions o;
  o.program = "/usr/bin/promtool";
  o.args = {"check", "metrics"};
  o.stdin_path = (dir / "metrics.txt").string();
  o.log_path = (dir / "promtool.log").string();
  Process p = Process::spawn(o);
  if (!p.started()) return "cannot run promtool (scripts/install-deps.sh installs it): " + p.spawn_error();
  auto st = p.wait(30'000);
  std::string out = p.read_log();
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (!st) return "promtool did not finish in 30 s";
  if (!st->success() || !out.empty()) return "promtool check metrics: " + (out.empty() ? "failed" : out);
  return "";
}

}  // namespace betcore::test
