// Ports and readiness for tests that start servers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"
#include "tls/tls.h"
#include "tools/ports.h"

namespace betcore::test {

// A port for a server the test starts, reserved for the rest of the test
// process (below the kernel's ephemeral range, under an flock shared with
// every other test and the drill): see tools/ports.h.
using tools::reserve_port;

// True when a server's log says it could not bind its port ("address already
// in use": betcore, etcd and HAProxy all say it in these words, any case).
// The harnesses then start it again on new ports.
bool log_says_address_in_use(const std::string& log);

// The last `n` lines of `text` (a log), for failure messages.
std::string last_lines(const std::string& text, int n = 30);

// How many times a harness starts a server on new ports after a bind failure.
constexpr int kBindAttemptsMax = 3;

// The TLS files betcore's servers are reached with in this test process:
// set (tls::set_default_client) by a test that runs them with TLS, such as
// LocalCluster with ClusterOptions::tls. nullopt: plain HTTP.
std::optional<tls::ClientFiles> tls_client();

// Polls GET `path` on host:port until it answers 200 or `timeout_ms` passes,
// over TLS when tls_client() says so. Returns true once ready. With
// `process`, gives up as soon as it exits. With `last_failure`, stores the
// last answer or error (for the test's message).
bool wait_http_ready(const std::string& host, uint16_t port, const std::string& path,
                     int timeout_ms, Process* process = nullptr,
                     std::string* last_failure = nullptr);

// Polls `ok` every 100 ms for up to `timeout`; true as soon as it holds.
bool eventually(std::chrono::milliseconds timeout, const std::function<bool()>& ok);

// Starts a server process whose SpawnOptions `options(port)` gives for a
// reserved port, until GET `ready_path` answers 200; again on a new port if
// its log says the port was taken (kBindAttemptsMax times). On failure
// records a gtest failure naming `what`, with its log, and returns a Process
// that is not started.
Process start_server(const std::function<SpawnOptions(uint16_t)>& options,
                     const std::string& ready_path, uint16_t& port, const std::string& what);

// The value of the series `name` in a /metrics text whose labels include
// every one of `labels` (e.g. {"endpoint=\"get_payout\""}); -1 when there is none.
double metric(const std::string& text, const std::string& name, const std::vector<std::string>& labels = {});

// `promtool check metrics` (Debian's prometheus package) on the /metrics
// text of 127.0.0.1:`port`: "" when it passes (names, units, types, help),
// else what promtool or the fetch said.
std::string promtool_check_metrics(uint16_t port);

}  // namespace betcore::test
