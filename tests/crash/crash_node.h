// What the crash drills share: one `betcore node` on one data directory,
// started, SIGKILLed and restarted many times on the same port (each run
// logs to its own file, so a test can ask what *that* run said), and a small
// JSON client over betcore::tools::HttpClient.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/support.h"
#include "tools/http_client.h"

namespace betcore::crash {

namespace fs = std::filesystem;

struct NodeConfig {
  fs::path data_dir;
  fs::path tokens_file;
  fs::path logs_dir;                    // run-<n>.log for each run
  std::vector<std::string> extra_args;  // on every run, e.g. --checkpoint-every-commands
  int ready_timeout_ms = 30'000;
  // HTTPS with DIR/node.{pem,key} and peers checked against DIR/ca.pem
  // (betcore certs --dir DIR --name node); empty: --plain-http.
  fs::path tls_dir = {};
};

// Thread: the test's main thread only (children get SIGKILL when the thread
// that spawned them dies, see support/process.h).
class NodeRunner {
 public:
  explicit NodeRunner(NodeConfig config);

  // Starts run number runs() (with `more_args` on top of the config's) and
  // waits until GET /health/ready answers 200. False, with `why` holding the
  // reason and that run's log, if it exits or is not ready in time.
  bool start(std::string& why, const std::vector<std::string>& more_args = {});

  // Starts run number runs() without waiting for it to be ready. False,
  // with `why`, when it cannot be spawned.
  bool launch(std::string& why, const std::vector<std::string>& more_args = {});

  // Starts a run that is expected to refuse to start: waits up to
  // `timeout_ms` for it to exit. nullopt (and the process is killed) if it
  // was still running; `served` is set if it was ever ready (/health/ready
  // 200). The listener answers from the start, /health/live 200 and every
  // other route 503 while the node opens (docs/operations.md): answering
  // is not serving.
  std::optional<test::ExitStatus> start_expecting_exit(const std::vector<std::string>& more_args,
                                                       int timeout_ms, bool& served);

  // SIGKILL, then reap. The data directory is left exactly as the crash left it.
  void kill9();
  // Sends `sig` (SIGSTOP, SIGCONT...) to the running node.
  bool signal(int sig) { return process_.kill(sig); }
  // SIGTERM (a clean stop) and reap; SIGKILL after `grace_ms`.
  test::ExitStatus stop(int grace_ms = 10'000);
  bool running() { return process_.running(); }

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }  // of the running node
  int runs() const { return runs_; }
  // The whole log of run `run` (0-based), or of the latest run.
  std::string log_of(int run) const;
  std::string last_log() const { return log_of(runs_ - 1); }
  fs::path log_path_of(int run) const;

 private:
  test::Process spawn(const std::vector<std::string>& more_args);

  NodeConfig config_;
  uint16_t port_;
  int runs_ = 0;
  test::Process process_;
};

// An answer, parsed. `json` is an empty object when the body is not a JSON
// object (no answer, or not JSON).
struct Reply {
  int status = 0;  // 0: no HTTP answer (connection refused, reset, timeout)
  std::string body;
  std::string transport_error;
  nlohmann::json json;

  // error.code of an error body, "" otherwise.
  std::string code() const;
  // For failure messages: "201 {...}" or "no answer: <why>".
  std::string describe() const;
  bool indefinite() const { return status == 0 || status == 429 || status >= 500; }
};

// Thread: one thread at a time (one HttpClient inside).
class JsonClient {
 public:
  explicit JsonClient(uint16_t port, int request_timeout_ms = 5'000);

  Reply get(std::string_view target, std::string_view token);
  Reply post(std::string_view target, const std::string& body, std::string_view token);

  // Posts `body` again and again (same id, same bytes) while the answer is
  // indefinite (no answer, 429, 5xx: API.md says retry with the same id),
  // up to `deadline_ms`. `indefinite_answers` counts the indefinite ones.
  Reply post_until_definite(std::string_view target, const std::string& body,
                            std::string_view token, int deadline_ms, int* indefinite_answers);

 private:
  tools::HttpClient http_;
};

// "2024-01-02T03:04:05Z", `offset_s` from now.
std::string rfc3339_from_now(int64_t offset_s);

// The unsigned integer after the first occurrence of `prefix` in `text`, or
// nullopt. Used to read numbers out of the node's log lines.
std::optional<uint64_t> number_after(std::string_view text, std::string_view prefix);

// How many times `needle` occurs in `text`.
size_t count_of(std::string_view text, std::string_view needle);

// $name as a positive integer, or `fallback` when unset or not one.
uint64_t env_u64(const char* name, uint64_t fallback);

}  // namespace betcore::crash
