// The drill's final payments check (docs/drill.md "The payments check"):
// after the last heal every withdrawal ends in betcore, the gateway holds
// exactly one payout for each, betcore's outcome is the gateway's, every
// deposit the gateway took is credited, reconciliation finds nothing, and
// the ledger balances.
#include <signal.h>

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>

#include "drill/clock.h"
#include "drill/cluster.h"
#include "drill/payments.h"
#include "tools/http_client.h"

namespace betcore::drill {
namespace {

using nlohmann::json;

constexpr size_t kListedMax = 8;          // differences named in a failure; the rest counted
constexpr int kReconcileTimeoutMs = 120'000;
constexpr int kPagesMax = 10'000;         // 1000 rows a page

// Every row of a paged list (`key`, "next"), or false.
bool read_all(tools::HttpClient& c, const std::string& path, const std::string& token,
              const std::string& key, std::vector<json>& rows) {
  std::string after;
  for (int pages = 0; pages < kPagesMax; ++pages) {
    const char sep = path.find('?') == std::string::npos ? '?' : '&';
    tools::Response r =
        c.get(path + sep + "limit=1000" + (after.empty() ? "" : "&after=" + after), token);
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object() || !j[key].is_array()) return false;
    for (json& row : j[key]) rows.push_back(std::move(row));
    if (!j["next"].is_string()) return true;
    after = j["next"].get<std::string>();
  }
  return false;
}

// One failure for a kind of difference: its count and the first few.
void report(std::vector<std::string>& failures, const std::string& what,
            const std::vector<std::string>& cases) {
  if (cases.empty()) return;
  std::string listed;
  for (size_t i = 0; i < cases.size() && i < kListedMax; ++i) listed += "; " + cases[i];
  failures.push_back(fmt::format("payments: {} {}{}", cases.size(), what, listed));
}

// "" when withdrawal `w` in betcore agrees with its only payout `p`.
std::string outcome_difference(const json& w, const json& p) {
  const std::string status = w.value("status", ""), paid = p.value("status", "");
  const bool agree =
      w.value("amount", int64_t{-1}) == p.value("amount", int64_t{-2}) &&
      ((status == "completed" && paid == "paid" &&
        w.value("gateway_ref", "") == p.value("payout_id", "?")) ||
       (status == "failed" && paid == "failed"));
  return agree ? "" : fmt::format("betcore {} / gateway {}", w.dump(), p.dump());
}

}  // namespace

void DrillPayments::check(const std::vector<std::string>& requested,
                          std::vector<std::string>& failures, int timeout_ms) {
  if (!gateway_.started()) return;
  stop_deposits_.store(true);
  if (depositor_.joinable()) depositor_.join();
  std::string left;
  if (!wait_drained(now_ms() + timeout_ms, left)) {
    failures.push_back(fmt::format("payments: not finished {} s after the last heal: {}",
                                   timeout_ms / 1000, left));
  }
  check_payouts(requested, failures);
  const std::string missing = deposits_not_credited(0);
  if (!missing.empty()) failures.push_back("payments: gateway deposits not credited: " + missing);
  check_reconcile(failures);
  tools::Response l =
      tools::HttpClient("127.0.0.1", cluster_->haproxy_port, betcore_http()).get("/v1/ledger/balance", cluster_->admin);
  json lj = json::parse(l.body, nullptr, false);
  if (l.status != 200 || !lj.is_object() || lj.value("balanced", false) != true ||
      lj.value("total", int64_t{1}) != 0) {
    failures.push_back("payments: the ledger does not balance: " + l.body.substr(0, 300));
  }
}

void DrillPayments::check_payouts(const std::vector<std::string>& requested,
                                  std::vector<std::string>& failures) {
  tools::HttpClient gw("127.0.0.1", gateway_port_, {.request_timeout_ms = 30'000});
  tools::HttpClient bc("127.0.0.1", cluster_->haproxy_port, betcore_http(2'000, 30'000));
  std::vector<json> payouts, withdrawals;
  if (!read_all(gw, "/v1/payouts", api_key_, "payouts", payouts) ||
      !read_all(bc, "/v1/withdrawals", cluster_->admin, "withdrawals", withdrawals)) {
    failures.push_back("payments: the gateway's payouts or betcore's withdrawals are unreadable");
    return;
  }
  std::map<std::string, std::vector<json>> by_ref;  // withdrawal id -> its payouts
  for (json& p : payouts) by_ref[p.value("reference", "")].push_back(std::move(p));
  std::map<std::string, json> by_id;
  for (json& w : withdrawals) {
    std::string id = w.value("withdrawal_id", "");  // before w is moved from
    by_id[id] = std::move(w);
  }
  std::vector<std::string> lost, unpaid, twice, differ, orphans;
  for (const std::string& id : requested) {
    if (!by_id.count(id)) lost.push_back(id);
  }
  for (const auto& [id, w] : by_id) {
    auto p = by_ref.find(id);
    if (w.value("status", "") == "pending") continue;  // wait_drained() said so
    if (p == by_ref.end()) {
      unpaid.push_back(w.dump());
    } else if (p->second.size() != 1) {
      twice.push_back(fmt::format("{}: {} payouts", id, p->second.size()));
    } else if (std::string d = outcome_difference(w, p->second[0]); !d.empty()) {
      differ.push_back(d);
    }
  }
  for (const auto& [ref, ps] : by_ref) {
    if (!by_id.count(ref)) orphans.push_back(ps[0].dump());
  }
  report(failures, "acknowledged withdrawals are not in betcore", lost);
  report(failures, "withdrawals finished in betcore have no payout at the gateway", unpaid);
  report(failures, "withdrawals have more than one payout", twice);
  report(failures, "withdrawals end otherwise in betcore than at the gateway", differ);
  report(failures, "payouts are for no withdrawal in betcore", orphans);
}

void DrillPayments::check_reconcile(std::vector<std::string>& failures) {
  tools::SpawnOptions o;
  o.program = betcore_;
  o.args = adapter_args();
  o.args.insert(o.args.end(), {"--reconcile-once", "--reconcile-grace-ms", "0"});
  o.log_path = (root_ / "reconcile.log").string();
  tools::Process p = tools::Process::spawn(o);
  std::optional<tools::ExitStatus> status = p.wait(kReconcileTimeoutMs);
  if (status && status->success()) return;
  if (!status) p.kill(SIGKILL);
  const std::string out = p.read_log();
  failures.push_back(fmt::format("payments: betcore payments --reconcile-once {}: {}",
                                 status ? status->describe() : "did not finish in 120 s",
                                 out.substr(out.size() > 800 ? out.size() - 800 : 0)));
}

}  // namespace betcore::drill
