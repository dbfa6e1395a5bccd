// A real `betcore node` process for the HTTP contract tests (design/API.md),
// and the small vocabulary the tests speak to it with: replies parsed as
// JSON, error assertions, and snapshots of the visible state so a test can
// check that a rejected request changed nothing.
#pragma once

#include <signal.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/support.h"
#include "tools/http_client.h"

namespace betcore::apitest {

using nlohmann::json;

// One HTTP answer: the raw exchange plus its body parsed as JSON
// (`json.is_discarded()` when the body is not JSON).
struct Reply {
  int status = 0;  // 0: no answer; `error` says why
  std::string body;
  json json_body = json::value_t::discarded;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string error;

  std::string header(std::string_view name) const;
  // The field `key` of the body object, or null.
  const json& operator[](std::string_view key) const;
  // "<status> <body>" (or the transport error), for failure messages.
  std::string describe() const;
};

Reply to_reply(tools::Response r);

struct NodeConfig {
  // Accounts that get a punter token (a punter token is bound to one account).
  std::vector<std::string> punters;
  // Flags after `--data --listen --tokens`, e.g. {"--queue-commands-max", "1"}.
  std::vector<std::string> extra_flags;
};

// A betcore node on 127.0.0.1:<free port> with its own data dir and tokens.
// Thread: the test's main thread (it spawns and reaps the child); the
// clients() it hands out may be used from other threads, one each.
class ApiNode {
 public:
  explicit ApiNode(NodeConfig config);
  ~ApiNode();

  // Starts the process (again, after stop(), on the same --data) and waits
  // for /health/ready. False with `why()` set on failure.
  bool start();
  // SIGTERM, then waits up to `grace_ms`; the exit status.
  test::ExitStatus stop(int grace_ms = 10'000);
  bool running() { return process_.running(); }
  // SIGHUP: the node reloads its tokens file and TLS certificate.
  bool reload() { return process_.kill(SIGHUP); }
  const std::string& why() const { return why_; }
  std::string log() const { return process_.read_log(); }

  uint16_t port() const { return port_; }
  const test::TestTokens& tokens() const { return tokens_; }
  const std::string& admin() const { return tokens_.admin; }
  const std::string& trader() const { return tokens_.trader; }
  const std::string& payments() const { return tokens_.payments; }
  const std::string& feed() const { return tokens_.feed; }
  const std::string& punter(const std::string& account) const { return tokens_.punter(account); }

  // A new client of this node (for a thread of its own).
  tools::HttpClient client(tools::HttpClientOptions options = {}) const;

  // On the node's own client (main thread only).
  Reply call(std::string_view method, std::string_view target, std::string_view body,
             std::string_view token);
  Reply get(std::string_view target, std::string_view token) {
    return call("GET", target, {}, token);
  }
  Reply post(std::string_view target, const json& body, std::string_view token) {
    return call("POST", target, body.dump(), token);
  }
  Reply post_raw(std::string_view target, std::string_view body, std::string_view token) {
    return call("POST", target, body, token);
  }

 private:
  NodeConfig config_;
  test::TempDir dir_;
  test::TestTokens tokens_;
  uint16_t port_ = 0;
  test::Process process_;
  std::unique_ptr<tools::HttpClient> client_;
  std::string why_;
};

// `r` is the error `status` with error.code `code` and a non-empty message,
// in the shape API.md gives: {"error": {"code": ..., "message": ...}}.
::testing::AssertionResult IsError(const Reply& r, int status, std::string_view code);

// `r` has status `status` (the body is shown when not).
::testing::AssertionResult HasStatus(const Reply& r, int status);

// What a client can see of some accounts and markets, and the ledger (without
// its "index", which a committed rejection still advances). Two equal
// snapshots mean nothing visible changed between them.
struct Visible {
  std::vector<std::string> accounts;
  std::vector<std::string> markets;
  std::vector<std::string> bets;         // ids; read with ?account_id unset (admin)
  std::vector<std::string> withdrawals;  // ids
};
json snapshot(ApiNode& node, const Visible& what);

// The value of the Prometheus sample `series` (name and labels exactly as
// exposed, e.g. `betcore_api_requests_total{code="201",route="deposit"}`),
// or nullopt if /metrics has no such line.
std::optional<double> metric(const std::string& exposition, std::string_view series);

}  // namespace betcore::apitest

// Failure messages name the request that failed.
#define EXPECT_ERROR(reply, status, code) \
  EXPECT_TRUE(::betcore::apitest::IsError((reply), (status), (code)))
#define ASSERT_STATUS(reply, status) ASSERT_TRUE(::betcore::apitest::HasStatus((reply), (status)))
#define EXPECT_STATUS(reply, status) EXPECT_TRUE(::betcore::apitest::HasStatus((reply), (status)))
