#include "crash/crash_node.h"

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

namespace betcore::crash {

using Clock = std::chrono::steady_clock;

NodeRunner::NodeRunner(NodeConfig config) : config_(std::move(config)), port_(test::reserve_port()) {
  fs::create_directories(config_.logs_dir);
}

fs::path NodeRunner::log_path_of(int run) const {
  return config_.logs_dir / ("run-" + std::to_string(run) + ".log");
}

std::string NodeRunner::log_of(int run) const {
  if (run < 0) return {};
  std::ifstream in(log_path_of(run));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

test::Process NodeRunner::spawn(const std::vector<std::string>& more_args) {
  test::SpawnOptions o;
  o.program = test::betcore_binary().string();
  o.args = {"node",     "--data",   config_.data_dir.string(), "--listen",
            "127.0.0.1:" + std::to_string(port_), "--tokens", config_.tokens_file.string()};
  if (config_.tls_dir.empty()) {
    o.args.push_back("--plain-http");
  } else {
    const std::string d = config_.tls_dir.string();
    o.args.insert(o.args.end(), {"--tls-cert", d + "/node.pem", "--tls-key", d + "/node.key",
                                 "--tls-ca", d + "/ca.pem"});
  }
  o.args.insert(o.args.end(), config_.extra_args.begin(), config_.extra_args.end());
  o.args.insert(o.args.end(), more_args.begin(), more_args.end());
  o.log_path = log_path_of(runs_).string();
  ++runs_;
  return test::Process::spawn(o);
}

bool NodeRunner::start(std::string& why, const std::vector<std::string>& more_args) {
  if (process_.running()) {
    why = "the previous run is still running";
    return false;
  }
  // Only a first run may move: later runs must keep the port that clients,
  // HAProxy and peers already know.
  const bool may_move = runs_ == 0;
  for (int attempt = 1;; ++attempt) {
    process_ = spawn(more_args);
    if (!process_.started()) {
      why = process_.spawn_error();
      return false;
    }
    std::string failure;
    if (test::wait_http_ready("127.0.0.1", port_, "/health/ready", config_.ready_timeout_ms,
                              &process_, &failure)) {
      return true;
    }
    why = "betcore node run " + std::to_string(runs_ - 1) + " on port " + std::to_string(port_) +
          " is not ready: " + failure + "\n--- its log ---\n" + last_log();
    process_.kill(SIGKILL);
    process_.wait(-1);
    if (!may_move || attempt >= test::kBindAttemptsMax || !test::log_says_address_in_use(last_log())) {
      return false;
    }
    port_ = test::reserve_port();  // something outside the reservations took it: move
  }
}

bool NodeRunner::launch(std::string& why, const std::vector<std::string>& more_args) {
  if (process_.running()) {
    why = "the previous run is still running";
    return false;
  }
  process_ = spawn(more_args);
  if (!process_.started()) why = process_.spawn_error();
  return process_.started();
}

std::optional<test::ExitStatus> NodeRunner::start_expecting_exit(
    const std::vector<std::string>& more_args, int timeout_ms, bool& served) {
  served = false;
  process_ = spawn(more_args);
  if (!process_.started()) return test::ExitStatus{};
  tools::HttpClientOptions ho;
  ho.connect_timeout_ms = 200;
  ho.request_timeout_ms = 500;
  tools::HttpClient probe("127.0.0.1", port_, ho);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (auto status = process_.try_wait()) return status;
    if (probe.get("/health/ready").status == 200) served = true;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  process_.kill(SIGKILL);
  process_.wait(-1);
  return std::nullopt;
}

void NodeRunner::kill9() {
  process_.kill(SIGKILL);
  process_.wait(-1);
}

test::ExitStatus NodeRunner::stop(int grace_ms) { return process_.stop(grace_ms); }

std::string Reply::code() const {
  if (json.is_object() && json.contains("error") && json["error"].is_object() &&
      json["error"].contains("code") && json["error"]["code"].is_string()) {
    return json["error"]["code"].get<std::string>();
  }
  return {};
}

std::string Reply::describe() const {
  if (status == 0) return "no answer: " + transport_error;
  return std::to_string(status) + " " + body.substr(0, 600);
}

namespace {

Reply parse(tools::Response r) {
  Reply out;
  out.status = r.status;
  out.transport_error = std::move(r.error);
  out.body = std::move(r.body);
  if (!out.body.empty()) out.json = nlohmann::json::parse(out.body, nullptr, false);
  // Always an object, so that json.value(key, fallback) never throws on a
  // missing or non-JSON answer: the caller's EXPECT then says what came.
  if (!out.json.is_object()) out.json = nlohmann::json::object();
  return out;
}

tools::HttpClientOptions client_options(int request_timeout_ms) {
  tools::HttpClientOptions o;
  o.connect_timeout_ms = 1'000;
  o.request_timeout_ms = request_timeout_ms;
  o.tls = test::tls_client();
  return o;
}

}  // namespace

JsonClient::JsonClient(uint16_t port, int request_timeout_ms)
    : http_("127.0.0.1", port, client_options(request_timeout_ms)) {}

Reply JsonClient::get(std::string_view target, std::string_view token) {
  return parse(http_.get(target, token));
}

Reply JsonClient::post(std::string_view target, const std::string& body, std::string_view token) {
  return parse(http_.post(target, body, token));
}

Reply JsonClient::post_until_definite(std::string_view target, const std::string& body,
                                      std::string_view token, int deadline_ms,
                                      int* indefinite_answers) {
  auto deadline = Clock::now() + std::chrono::milliseconds(deadline_ms);
  for (;;) {
    Reply r = post(target, body, token);
    if (!r.indefinite() || Clock::now() >= deadline) return r;
    if (indefinite_answers) ++*indefinite_answers;
    // Short pauses: the node is back within a few hundred ms of a restart,
    // and the drill wants clients hammering it as it comes up.
    std::this_thread::sleep_for(std::chrono::milliseconds(r.status == 0 ? 10 : 30));
  }
}

std::string rfc3339_from_now(int64_t offset_s) {
  std::time_t t = std::time(nullptr) + static_cast<std::time_t>(offset_s);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<uint64_t> number_after(std::string_view text, std::string_view prefix) {
  size_t at = text.find(prefix);
  if (at == std::string_view::npos) return std::nullopt;
  size_t i = at + prefix.size();
  if (i >= text.size() || text[i] < '0' || text[i] > '9') return std::nullopt;
  uint64_t v = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') v = v * 10 + static_cast<uint64_t>(text[i++] - '0');
  return v;
}

size_t count_of(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  unsigned long long n = std::strtoull(v, &end, 10);
  if (end == v || *end != '\0' || n == 0) return fallback;
  return n;
}

}  // namespace betcore::crash
