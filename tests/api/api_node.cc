#include "api_node.h"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "ops/metrics.h"

namespace betcore::apitest {

namespace {

const json& null_json() {
  static const json kNull;
  return kNull;
}

constexpr int kReadyTimeoutMs = 20'000;
constexpr int kStartAttemptsMax = test::kBindAttemptsMax;  // new ports after a bind failure

}  // namespace

std::string Reply::header(std::string_view name) const {
  std::string key(name);
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto it = headers.find(key);
  return it == headers.end() ? std::string() : it->second;
}

const json& Reply::operator[](std::string_view key) const {
  if (!json_body.is_object()) return null_json();
  auto it = json_body.find(key);
  return it == json_body.end() ? null_json() : *it;
}

std::string Reply::describe() const {
  if (status == 0) return "no answer: " + error;
  return std::to_string(status) + " " + body.substr(0, 2000);
}

Reply to_reply(tools::Response r) {
  Reply out;
  out.status = r.status;
  out.body = std::move(r.body);
  out.headers = std::move(r.headers);
  out.error = std::move(r.error);
  out.json_body = json::parse(out.body, nullptr, /*allow_exceptions=*/false);
  return out;
}

ApiNode::ApiNode(NodeConfig config)
    : config_(std::move(config)),
      dir_("betcore-api-test"),
      tokens_(test::write_tokens_file(dir_.path(), config_.punters)) {}

ApiNode::~ApiNode() {
  client_.reset();
  if (process_.running()) process_.stop(5'000);
}

bool ApiNode::start() {
  client_.reset();
  for (int attempt = 0; attempt < kStartAttemptsMax; ++attempt) {
    port_ = test::reserve_port();
    test::SpawnOptions o;
    o.program = test::betcore_binary().string();
    o.args = {"node",
              "--data",
              (dir_ / "data").string(),
              "--listen",
              "127.0.0.1:" + std::to_string(port_),
              "--tokens",
              tokens_.file.string(),
              "--plain-http"};
    o.args.insert(o.args.end(), config_.extra_flags.begin(), config_.extra_flags.end());
    o.log_path = (dir_ / "node.log").string();
    process_ = test::Process::spawn(o);
    if (!process_.started()) {
      why_ = "cannot spawn betcore: " + process_.spawn_error();
      return false;
    }
    std::string failure;
    if (test::wait_http_ready("127.0.0.1", port_, "/health/ready", kReadyTimeoutMs, &process_,
                              &failure)) {
      client_ = std::make_unique<tools::HttpClient>("127.0.0.1", port_);
      why_.clear();
      return true;
    }
    why_ = "betcore node on port " + std::to_string(port_) + " did not become ready in " +
           std::to_string(kReadyTimeoutMs / 1000) + " s: " + failure + "\n--- last lines of " +
           (dir_ / "node.log").string() + " ---\n" + test::last_lines(log());
    if (process_.running()) process_.stop(2'000);
    if (!test::log_says_address_in_use(log())) return false;
  }
  return false;
}

test::ExitStatus ApiNode::stop(int grace_ms) {
  client_.reset();
  return process_.stop(grace_ms);
}

tools::HttpClient ApiNode::client(tools::HttpClientOptions options) const {
  return tools::HttpClient("127.0.0.1", port_, options);
}

Reply ApiNode::call(std::string_view method, std::string_view target, std::string_view body,
                    std::string_view token) {
  if (!client_) client_ = std::make_unique<tools::HttpClient>("127.0.0.1", port_);
  return to_reply(client_->request(method, target, body, token));
}

::testing::AssertionResult HasStatus(const Reply& r, int status) {
  if (r.status == status) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected " << status << ", got " << r.describe();
}

::testing::AssertionResult IsError(const Reply& r, int status, std::string_view code) {
  if (r.status != status) {
    return ::testing::AssertionFailure()
           << "expected " << status << " " << code << ", got " << r.describe();
  }
  const json& e = r["error"];
  // A refusal by the state machine also says where: "index" (the log
  // position of the batch that carried it).
  const bool indexed = e.is_object() && e.contains("index");
  if (!e.is_object() || e.size() != (indexed ? 3u : 2u) || !e.contains("code") || !e.contains("message") ||
      (indexed && !e["index"].is_number_unsigned())) {
    return ::testing::AssertionFailure()
           << "not {\"error\": {\"code\", \"message\"[, \"index\"]}}: " << r.describe();
  }
  if (!e["code"].is_string() || e["code"].get<std::string>() != code) {
    return ::testing::AssertionFailure() << "expected code " << code << ", got " << r.describe();
  }
  if (!e["message"].is_string() || e["message"].get<std::string>().empty()) {
    return ::testing::AssertionFailure() << "empty message: " << r.describe();
  }
  if (r.json_body.size() != 1) {
    return ::testing::AssertionFailure() << "fields beside \"error\": " << r.describe();
  }
  return ::testing::AssertionSuccess();
}

json snapshot(ApiNode& node, const Visible& what) {
  json out = json::object();
  auto read = [&](const std::string& target, const std::string& token) {
    Reply r = node.get(target, token);
    // The status is part of the snapshot: a 404 that became a 200 is a change.
    out[target] = json{{"status", r.status},
                       {"body", r.json_body.is_discarded() ? json(r.body) : r.json_body}};
  };
  for (const auto& a : what.accounts) {
    read("/v1/accounts/" + a, node.admin());
    read("/v1/accounts/" + a + "/bets?limit=1000", node.admin());
  }
  for (const auto& m : what.markets) read("/v1/markets/" + m, node.trader());
  for (const auto& b : what.bets) read("/v1/bets/" + b, node.admin());
  for (const auto& w : what.withdrawals) read("/v1/withdrawals/" + w, node.admin());
  Reply ledger = node.get("/v1/ledger/balance", node.admin());
  json l = ledger.json_body;
  if (l.is_object()) l.erase("index");
  out["ledger"] = json{{"status", ledger.status}, {"body", l}};
  return out;
}

std::optional<double> metric(const std::string& exposition, std::string_view series) {
  // `name{a="x",b="y"}` → the name and its labels, for the one sample reader.
  const size_t brace = series.find('{');
  std::vector<std::string> labels;
  if (brace != std::string_view::npos && series.ends_with('}')) {
    std::string_view inner = series.substr(brace + 1, series.size() - brace - 2);
    for (size_t start = 0; start < inner.size();) {
      size_t end = inner.find("\",", start);
      end = end == std::string_view::npos ? inner.size() : end + 1;
      labels.emplace_back(inner.substr(start, end - start));
      start = end + 1;
    }
  }
  return ops::sample_value(exposition, series.substr(0, brace), labels);
}

}  // namespace betcore::apitest
