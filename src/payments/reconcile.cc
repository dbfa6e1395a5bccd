// One reconciliation pass (reconcile.h).
#include "payments/reconcile.h"

#include <chrono>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

namespace betcore::payments {

using json = nlohmann::json;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct BetcoreWithdrawal {
  std::string status;
  std::string gateway_ref;
  int64_t amount = 0;
};

struct BetcoreDeposit {
  std::string account_id;
  int64_t amount = 0;
};

// Pages through GET `path`?after=&limit= (betcore or gateway) until `next` is
// null. `fetch` returns the body of one page, or "" after setting `error`.
template <class Fetch, class Each>
bool each_page(const char* list_key, Fetch fetch, Each each, std::string& error) {
  std::string after;
  for (int pages = 0; pages < 1000000; ++pages) {
    std::string body = fetch(after);
    if (body.empty()) return false;
    json j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains(list_key) || !j[list_key].is_array()) {
      error = std::string("a page of ") + list_key + " is not understood: " + body.substr(0, 200);
      return false;
    }
    for (const json& row : j[list_key]) each(row);
    if (!j.contains("next") || !j["next"].is_string()) return true;
    after = j["next"].get<std::string>();
  }
  return true;
}

}  // namespace

std::string fail_reason_of(const Payout& payout) {
  std::string reason = "gateway: " + (payout.failure_reason.empty() ? std::string("failed")
                                                                     : payout.failure_reason);
  if (reason.size() > 200) reason.resize(200);
  return reason;
}

size_t ReconcileReport::unrepaired() const {
  size_t n = 0;
  for (const Difference& d : differences) n += d.repaired ? 0 : 1;
  return n;
}

std::string ReconcileReport::to_json() const {
  json diffs = json::array();
  for (const Difference& d : differences) {
    diffs.push_back({{"kind", d.kind}, {"id", d.id}, {"detail", d.detail}, {"repaired", d.repaired}});
  }
  json j{{"checked",
          {{"gateway_payouts", payouts},
           {"gateway_deposits", gateway_deposits},
           {"betcore_withdrawals", withdrawals},
           {"betcore_deposits", deposits}}},
         {"differences", diffs},
         {"unrepaired", unrepaired()}};
  if (!error.empty()) j["error"] = error;
  return j.dump(2);
}

namespace {

// One pass: betcore's lists first, then the gateway's, each compared.
class Reconciler {
 public:
  Reconciler(GatewayClient& gateway, const ReconcileOptions& o)
      : gateway_(gateway), o_(o), betcore_(o.betcore), cutoff_(now_ms() - o.grace_ms) {}

  ReconcileReport run() {
    // Betcore first, then the gateway: whatever betcore finished was paid
    // (or received) at the gateway before, so it is in the later listing.
    if (list_betcore() && check_payouts()) check_deposits();
    return std::move(report_);
  }

 private:
  void add(std::string kind, std::string id, std::string detail, bool repaired = false) {
    report_.differences.push_back({std::move(kind), std::move(id), std::move(detail), repaired});
  }

  auto betcore_page(const std::string& path) {
    return [this, path](const std::string& after) {
      std::string target = path + "?limit=1000";
      if (!after.empty()) target += "&after=" + after;
      tools::Response r = betcore_.get(target, o_.token);
      if (r.status != 200) {
        report_.error = "betcore GET " + target + ": " +
                        (r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body);
        return std::string();
      }
      return r.body;
    };
  }

  auto gateway_page(const std::string& what) {
    return [this, what](const std::string& after) {
      std::string body;
      Call c = gateway_.list(what, after, 1000, &body);
      if (c.result != CallResult::ok) {
        report_.error = "gateway GET /v1/" + what + ": " + std::string(to_string(c.result)) +
                        ": " + c.error;
        return std::string();
      }
      return body;
    };
  }

  bool list_betcore() {
    auto keep_withdrawal = [&](const json& w) {
      BetcoreWithdrawal b;
      b.status = w.value("status", "");
      b.gateway_ref = w.value("gateway_ref", "");
      b.amount = w.value("amount", int64_t{0});
      withdrawals_.emplace(w.value("withdrawal_id", ""), b);
    };
    if (!each_page("withdrawals", betcore_page("/v1/withdrawals"), keep_withdrawal,
                   report_.error)) {
      return false;
    }
    report_.withdrawals = withdrawals_.size();
    auto keep_deposit = [&](const json& d) {
      deposits_.emplace(d.value("payment_ref", ""),
                        BetcoreDeposit{d.value("account_id", ""), d.value("amount", int64_t{0})});
    };
    if (!each_page("deposits", betcore_page("/v1/deposits"), keep_deposit, report_.error)) {
      return false;
    }
    report_.deposits = deposits_.size();
    return true;
  }

  bool check_payouts() {
    std::vector<Payout> payouts;
    auto keep = [&](const json& p) {
      if (auto parsed = parse_payout(p.dump())) payouts.push_back(std::move(*parsed));
    };
    if (!each_page("payouts", gateway_page("payouts"), keep, report_.error)) return false;
    report_.payouts = payouts.size();
    for (const Payout& p : payouts) check_payout(p);
    for (const auto& [id, b] : withdrawals_) {
      if (b.status == "completed" && payout_of_.count(id) == 0) {
        add("completed_without_payout", id,
            "betcore completed it (gateway_ref " + b.gateway_ref +
                ") but the gateway has no payout");
      }
    }
    return true;
  }

  void check_payout(const Payout& p) {
    auto [it, fresh] = payout_of_.emplace(p.reference, p.payout_id);
    if (!fresh) {
      add("duplicate_payout", p.reference,
          "payouts " + it->second + " and " + p.payout_id + " both pay this withdrawal");
    }
    if (p.status == "processing" || p.created_ms > cutoff_) return;  // in flight
    auto w = withdrawals_.find(p.reference);
    if (w == withdrawals_.end()) {
      add("payout_without_withdrawal", p.reference,
          "payout " + p.payout_id + " (" + p.status + ") names no betcore withdrawal");
      return;
    }
    const BetcoreWithdrawal& b = w->second;
    if (b.amount != p.amount) {
      add("payout_amount_mismatch", p.reference,
          "betcore " + std::to_string(b.amount) + ", gateway " + std::to_string(p.amount));
    } else if (b.status == "pending") {
      bool repaired = false;
      if (o_.repair) {
        tools::Response r =
            p.status == "paid"
                ? betcore_.post("/v1/withdrawals/" + p.reference + "/complete",
                                json{{"gateway_ref", p.payout_id}}.dump(), o_.token)
                : betcore_.post("/v1/withdrawals/" + p.reference + "/fail",
                                json{{"reason", fail_reason_of(p)}}.dump(), o_.token);
        repaired = r.status == 200;
      }
      add(p.status == "paid" ? "paid_not_completed" : "failed_not_failed", p.reference,
          "payout " + p.payout_id + " is " + p.status + " at the gateway; betcore still pending",
          repaired);
    } else if (p.status == "paid" && b.status == "failed") {
      add("paid_but_failed", p.reference,
          "the gateway paid payout " + p.payout_id +
              " but betcore failed the withdrawal (the money went back to the balance too)");
    } else if (p.status == "failed" && b.status == "completed") {
      add("failed_but_completed", p.reference,
          "payout " + p.payout_id + " failed but betcore completed the withdrawal");
    } else if (b.status == "completed" && b.gateway_ref != p.payout_id) {
      add("completed_with_other_ref", p.reference,
          "betcore names " + b.gateway_ref + ", the gateway paid " + p.payout_id);
    }
  }

  bool check_deposits() {
    std::set<std::string> at_gateway;
    auto check = [&](const json& g) {
      ++report_.gateway_deposits;
      at_gateway.insert(g.value("payment_id", ""));
      check_deposit(g);
    };
    if (!each_page("deposits", gateway_page("deposits"), check, report_.error)) return false;
    for (const auto& [ref, d] : deposits_) {
      if (ref.rfind(o_.gateway_ref_prefix, 0) == 0 && at_gateway.count(ref) == 0) {
        add("deposit_unknown_to_gateway", ref,
            "betcore credited " + std::to_string(d.amount) + " to " + d.account_id +
                " but the gateway never received it");
      }
    }
    return true;
  }

  void check_deposit(const json& g) {
    if (g.value("status", "succeeded") != "succeeded" ||
        g.value("created_ms", int64_t{0}) > cutoff_) {
      return;
    }
    const std::string id = g.value("payment_id", "");
    const std::string account = g.value("account_id", "");
    const int64_t amount = g.value("amount", int64_t{0});
    auto d = deposits_.find(id);
    if (d == deposits_.end()) {
      // Maybe credited since the listing: a repeat of the credit credits nothing.
      bool repaired = false;
      if (o_.repair) {
        tools::Response r = betcore_.post(
            "/v1/deposits",
            json{{"payment_ref", id}, {"account_id", account}, {"amount", amount}}.dump(),
            o_.token);
        repaired = r.status == 200 || r.status == 201;
      }
      add("deposit_not_credited", id,
          std::to_string(amount) + " for " + account + " received by the gateway", repaired);
    } else if (d->second.account_id != account || d->second.amount != amount) {
      add("deposit_mismatch", id,
          "betcore credited " + std::to_string(d->second.amount) + " to " + d->second.account_id +
              ", the gateway received " + std::to_string(amount) + " for " + account);
    }
  }

  GatewayClient& gateway_;
  const ReconcileOptions& o_;
  tools::HttpClient betcore_;
  const int64_t cutoff_;
  ReconcileReport report_;
  std::map<std::string, BetcoreWithdrawal> withdrawals_;
  std::map<std::string, BetcoreDeposit> deposits_;
  std::map<std::string, std::string> payout_of_;  // withdrawal id -> payout id
};

}  // namespace

ReconcileReport reconcile(GatewayClient& gateway, const ReconcileOptions& options) {
  return Reconciler(gateway, options).run();
}

}  // namespace betcore::payments
