// The drill's payments: starting the gateway and the adapter, the background
// deposits, reading the adapter's breakers, waiting for the backlog.
#include "drill/payments.h"
#include "drill/cluster.h"

#include <signal.h>

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "drill/clock.h"
#include "drill/probe.h"
#include "ops/metrics.h"
#include "tools/http_client.h"
#include "tools/ports.h"

namespace betcore::drill {
namespace {

using nlohmann::json;

constexpr int kReadyTimeoutMs = 30'000;

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

bool from_payments(const domain::Command& command) {
  return std::visit(
      [](const auto& c) -> bool {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, domain::CompleteWithdrawal> ||
                      std::is_same_v<T, domain::FailWithdrawal>) {
          return true;
        } else if constexpr (std::is_same_v<T, domain::Deposit>) {
          return starts_with(c.payment_ref, "pay_");  // the gateway's ids; the workload's are d…
        } else {
          return false;
        }
      },
      command);
}

std::vector<std::string> requested_withdrawals(const std::vector<DrillOp>& ops) {
  std::vector<std::string> out;
  for (const DrillOp& op : ops) {
    if (!op.h.read && op.status == 201 && starts_with(op.h.key, "withdrawal:")) {
      out.push_back(op.h.key.substr(std::string_view("withdrawal:").size()));
    }
  }
  return out;
}

bool DrillPayments::start(const DrillCluster& cluster, std::string& why) {
  cluster_ = &cluster;
  std::mt19937_64 rng(seed_ * 4243);
  api_key_ = fmt::format("sk_drill_{:016x}", rng());
  {
    std::ofstream s(root_ / "gateway.secrets");
    s << "api_key " << api_key_ << "\nwebhook_secret " << fmt::format("whsec_{:016x}", rng())
      << "\n";
  }
  gateway_port_ = tools::reserve_port();
  adapter_port_ = tools::reserve_port();
  tools::SpawnOptions o;
  o.program = betcore_;
  // 5 % of payouts fail at the gateway (by a hash of the withdrawal id):
  // both outcomes are checked.
  o.args = {"payment-gateway", "--listen", "127.0.0.1:" + std::to_string(gateway_port_),
            "--secrets", (root_ / "gateway.secrets").string(),
            "--webhook-url",
            "http://127.0.0.1:" + std::to_string(adapter_port_) + "/webhooks/gateway",
            "--settle-ms", "100", "--fail-share", "0.05", "--seed", std::to_string(seed_)};
  o.log_path = (root_ / "payment-gateway.log").string();
  gateway_ = tools::Process::spawn(o);
  if (!wait_http_ready(gateway_, gateway_port_, "/control/stats", kReadyTimeoutMs)) {
    why = "betcore payment-gateway did not start; see " + o.log_path;
    return false;
  }
  return start_adapter(why);
}

std::vector<std::string> DrillPayments::adapter_args() const {
  return {"payments", "--betcore", "https://127.0.0.1:" + std::to_string(cluster_->haproxy_port),
          "--tls-ca", cluster_->tls_file("ca.pem"),
          "--tokens", (root_ / "credentials").string(),
          "--gateway", "http://127.0.0.1:" + std::to_string(gateway_port_),
          "--secrets", (root_ / "gateway.secrets").string(),
          "--listen", "127.0.0.1:" + std::to_string(adapter_port_),
          "--state-file", (root_ / "payments.state").string(), "--workers", "16",
          "--gateway-timeout-ms", std::to_string(kPayGatewayTimeoutMs),
          "--breaker-window", std::to_string(kPayBreakerWindow),
          "--breaker-min-calls", std::to_string(kPayBreakerMinCalls),
          "--breaker-wait-ms", std::to_string(kPayBreakerWaitMs),
          "--breaker-half-open-calls", std::to_string(kPayBreakerHalfOpenCalls),
          "--backoff-base-ms", "50", "--backoff-cap-ms", "500", "--reconcile-interval-s", "0"};
}

bool DrillPayments::start_adapter(std::string& why) {
  tools::SpawnOptions o;
  o.program = betcore_;
  o.args = adapter_args();
  o.log_path = (root_ / ("payments." + std::to_string(++adapter_runs_) + ".log")).string();
  adapter_ = tools::Process::spawn(o);
  if (wait_http_ready(adapter_, adapter_port_, "/health/ready", kReadyTimeoutMs)) return true;
  why = "betcore payments did not start; see " + o.log_path;
  return false;
}

void DrillPayments::kill_adapter() {
  adapter_.kill(SIGKILL);
  adapter_.wait(5000);
}

bool DrillPayments::faults(const std::string& body, std::string& why) {
  tools::Response r =
      tools::HttpClient("127.0.0.1", gateway_port_).post("/control/faults", body);
  if (r.ok()) return true;
  why = "gateway /control/faults " + body + ": " +
        (r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body);
  return false;
}

std::string DrillPayments::gateway_stats() {
  tools::Response r = tools::HttpClient("127.0.0.1", gateway_port_).get("/control/stats");
  return r.status == 200 ? r.body : "";
}

BreakerCounts DrillPayments::breaker(const char* endpoint) {
  BreakerCounts b;
  tools::Response r = tools::HttpClient("127.0.0.1", adapter_port_).get("/metrics");
  if (r.status != 200) return b;
  const std::string ep = fmt::format("endpoint=\"{}\"", endpoint);
  // 0 when a series is not there yet (a counter is exposed once counted).
  auto value = [&](const char* name, const std::vector<std::string>& labels) {
    return ops::sample_value(r.body, name, labels).value_or(0);
  };
  b.state = value("betcore_payments_breaker_state", {ep});
  b.opened = value("betcore_payments_breaker_transitions_total", {ep, "to=\"open\""});
  b.half_opened = value("betcore_payments_breaker_transitions_total", {ep, "to=\"half_open\""});
  b.half_open_calls =
      value("betcore_payments_breaker_calls_permitted_total", {ep, "state=\"half_open\""});
  b.failed = value("betcore_payments_gateway_calls_total", {ep, "result=\"failed\""});
  b.not_permitted = value("betcore_payments_gateway_calls_total", {ep, "result=\"not_permitted\""});
  b.last_opened_s = value("betcore_payments_breaker_last_opened_timestamp_seconds", {ep});
  return b;
}

void DrillPayments::start_deposits(std::vector<std::string> accounts) {
  depositor_ = std::thread([this, a = std::move(accounts)] { deposit_loop(a); });
}

void DrillPayments::deposit_loop(std::vector<std::string> accounts) {
  std::mt19937_64 rng(seed_ * 977);
  tools::HttpClient http("127.0.0.1", gateway_port_, {.connect_timeout_ms = 1000});
  for (size_t n = 0; !stop_deposits_.load() && !accounts.empty(); sleep_ms(kPayDepositEveryMs)) {
    if (paused_.load()) continue;
    std::lock_guard lock(deposits_mu_);
    GatewayDeposit d{"", accounts[n++ % accounts.size()], 100 + static_cast<int64_t>(rng() % 900)};
    tools::Response r = http.post(
        "/control/deposits",
        json{{"account_id", d.account_id}, {"amount", d.amount}, {"currency", "EUR"}}.dump());
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 201 || !j.is_object()) continue;
    d.payment_id = j.value("payment_id", "");
    deposits_.push_back(std::move(d));
  }
}

void DrillPayments::pause_deposits() {
  paused_.store(true);
  std::lock_guard lock(deposits_mu_);  // the deposit in flight, if any, is made
}

size_t DrillPayments::deposits_made() {
  std::lock_guard lock(deposits_mu_);
  return deposits_.size();
}

std::string DrillPayments::deposits_not_credited(size_t from) {
  std::vector<GatewayDeposit> made;
  {
    std::lock_guard lock(deposits_mu_);
    if (from < deposits_.size()) made.assign(deposits_.begin() + static_cast<ptrdiff_t>(from), deposits_.end());
  }
  tools::HttpClient c("127.0.0.1", cluster_->haproxy_port, betcore_http());
  std::string out;
  size_t wrong = 0;
  for (const GatewayDeposit& d : made) {
    tools::Response r = c.get("/v1/deposits/" + d.payment_id, cluster_->admin);
    json j = json::parse(r.body, nullptr, false);
    if (r.status == 200 && j.is_object() && j.value("account_id", "") == d.account_id &&
        j.value("amount", int64_t{-1}) == d.amount) {
      continue;
    }
    if (++wrong <= 5) {
      out += fmt::format("{} ({} to {}): betcore {} {}; ", d.payment_id, d.amount, d.account_id,
                         r.status, r.body.substr(0, 120));
    }
  }
  return wrong == 0 ? "" : fmt::format("{} of {} deposits: {}", wrong, made.size(), out);
}

std::vector<std::string> DrillPayments::pending_withdrawals(bool& ok) {
  std::vector<std::string> out;
  tools::HttpClient c("127.0.0.1", cluster_->haproxy_port, betcore_http());
  std::string after;
  ok = false;
  for (int pages = 0; pages < 1000; ++pages) {
    tools::Response r = c.get("/v1/withdrawals?status=pending&limit=1000" +
                                  (after.empty() ? "" : "&after=" + after),
                              cluster_->admin);
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object()) return out;
    for (const json& w : j["withdrawals"]) out.push_back(w.value("withdrawal_id", ""));
    if (!j["next"].is_string()) {
      ok = true;
      return out;
    }
    after = j["next"].get<std::string>();
  }
  return out;
}

bool DrillPayments::wait_drained(int64_t deadline_ms, std::string& left) {
  bool ok = false;
  std::vector<std::string> owed;
  while (!ok && now_ms() < deadline_ms) owed = pending_withdrawals(ok);
  std::set<std::string> still(owed.begin(), owed.end());
  int64_t webhooks_pending = -1;
  do {
    std::vector<std::string> now = pending_withdrawals(ok);
    if (ok) {
      const std::set<std::string> pending(now.begin(), now.end());
      std::erase_if(still, [&](const std::string& id) { return !pending.count(id); });
    }
    json s = json::parse(gateway_stats(), nullptr, false);
    webhooks_pending = s.is_object() ? s.value("webhooks_pending", int64_t{-1}) : -1;
    if (ok && still.empty() && webhooks_pending == 0) return true;
    sleep_ms(250);
  } while (now_ms() < deadline_ms);
  left = fmt::format("{} of {} withdrawals still pending (first: {}), {} webhooks unacknowledged",
                     still.size(), owed.size(), still.empty() ? "-" : *still.begin(),
                     webhooks_pending);
  return false;
}

void DrillPayments::heal_everything(std::vector<std::string>& failures) {
  if (!gateway_.started()) return;
  std::string why;
  if (!faults(R"({"latency_ms":0,"error_share":0,"timeout_share":0,"reset_share":0,)"
              R"("outage_ms":0,"duplicate_share":0,"webhook_delay_ms_max":0})",
              why)) {
    failures.push_back("payments: " + why);
  }
  if (!adapter_.running() && !start_adapter(why)) failures.push_back("payments: " + why);
  resume_deposits();
}

void DrillPayments::stop_all() {
  stop_deposits_.store(true);
  if (depositor_.joinable()) depositor_.join();
  adapter_.stop(3000);
  gateway_.stop(3000);
}

}  // namespace betcore::drill
