// One reconciliation pass (reconcile.h).
#include "payments/reconcile.h"

#include <chrono>
#include <map>
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

ReconcileReport reconcile(GatewayClient& gateway, const ReconcileOptions& o) {
  ReconcileReport report;
  tools::HttpClient betcore(o.betcore);
  const int64_t cutoff = now_ms() - o.grace_ms;
  auto add = [&](std::string kind, std::string id, std::string detail, bool repaired = false) {
    report.differences.push_back({std::move(kind), std::move(id), std::move(detail), repaired});
  };
  auto betcore_page = [&](const std::string& path) {
    return [&, path](const std::string& after) {
      std::string target = path + (path.find('?') == std::string::npos ? "?" : "&") + "limit=1000";
      if (!after.empty()) target += "&after=" + after;
      tools::Response r = betcore.get(target, o.token);
      if (r.status != 200) {
        report.error = "betcore GET " + target + ": " +
                       (r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body);
        return std::string();
      }
      return r.body;
    };
  };
  auto gateway_page = [&](const std::string& what) {
    return [&, what](const std::string& after) {
      std::string body;
      Call c = gateway.list(what, after, 1000, &body);
      if (c.result != CallResult::ok) {
        report.error = "gateway GET /v1/" + what + ": " + std::string(to_string(c.result)) + ": " +
                       c.error;
        return std::string();
      }
      return body;
    };
  };

  // Betcore first, then the gateway: whatever betcore finished was paid (or
  // received) at the gateway before, so it is in the later listing.
  std::map<std::string, BetcoreWithdrawal> withdrawals;
  if (!each_page(
          "withdrawals", betcore_page("/v1/withdrawals"),
          [&](const json& w) {
            BetcoreWithdrawal b;
            b.status = w.value("status", "");
            b.gateway_ref = w.value("gateway_ref", "");
            b.amount = w.value("amount", int64_t{0});
            withdrawals.emplace(w.value("withdrawal_id", ""), b);
          },
          report.error)) {
    return report;
  }
  report.withdrawals = withdrawals.size();
  std::map<std::string, BetcoreDeposit> deposits;
  if (!each_page(
          "deposits", betcore_page("/v1/deposits"),
          [&](const json& d) {
            deposits.emplace(d.value("payment_ref", ""),
                             BetcoreDeposit{d.value("account_id", ""), d.value("amount", int64_t{0})});
          },
          report.error)) {
    return report;
  }
  report.deposits = deposits.size();

  std::map<std::string, std::string> payout_of;  // withdrawal id -> payout id
  std::vector<Payout> payouts;
  if (!each_page(
          "payouts", gateway_page("payouts"),
          [&](const json& p) {
            if (auto parsed = parse_payout(p.dump())) payouts.push_back(std::move(*parsed));
          },
          report.error)) {
    return report;
  }
  report.payouts = payouts.size();
  for (const Payout& p : payouts) {
    auto [it, fresh] = payout_of.emplace(p.reference, p.payout_id);
    if (!fresh) {
      add("duplicate_payout", p.reference,
          "payouts " + it->second + " and " + p.payout_id + " both pay this withdrawal");
    }
    if (p.status == "processing" || p.created_ms > cutoff) continue;  // in flight
    auto w = withdrawals.find(p.reference);
    if (w == withdrawals.end()) {
      add("payout_without_withdrawal", p.reference,
          "payout " + p.payout_id + " (" + p.status + ") names no betcore withdrawal");
      continue;
    }
    BetcoreWithdrawal& b = w->second;
    if (b.amount != p.amount) {
      add("payout_amount_mismatch", p.reference,
          "betcore " + std::to_string(b.amount) + ", gateway " + std::to_string(p.amount));
      continue;
    }
    if (b.status == "pending") {
      bool repaired = false;
      if (o.repair) {
        tools::Response r =
            p.status == "paid"
                ? betcore.post("/v1/withdrawals/" + p.reference + "/complete",
                               json{{"gateway_ref", p.payout_id}}.dump(), o.token)
                : betcore.post("/v1/withdrawals/" + p.reference + "/fail",
                               json{{"reason", fail_reason_of(p)}}.dump(), o.token);
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
  for (const auto& [id, b] : withdrawals) {
    if (b.status == "completed" && payout_of.count(id) == 0) {
      add("completed_without_payout", id,
          "betcore completed it (gateway_ref " + b.gateway_ref + ") but the gateway has no payout");
    }
  }

  std::map<std::string, bool> at_gateway;
  if (!each_page(
          "deposits", gateway_page("deposits"),
          [&](const json& g) {
            ++report.gateway_deposits;
            const std::string id = g.value("payment_id", "");
            at_gateway[id] = true;
            if (g.value("status", "succeeded") != "succeeded" ||
                g.value("created_ms", int64_t{0}) > cutoff) {
              return;
            }
            const std::string account = g.value("account_id", "");
            const int64_t amount = g.value("amount", int64_t{0});
            auto d = deposits.find(id);
            if (d == deposits.end()) {
              // Maybe credited since the listing: the answer says, and a
              // repeat of the credit credits nothing.
              bool repaired = false;
              if (o.repair) {
                tools::Response r = betcore.post(
                    "/v1/deposits",
                    json{{"payment_ref", id}, {"account_id", account}, {"amount", amount}}.dump(),
                    o.token);
                repaired = r.status == 200 || r.status == 201;
              }
              add("deposit_not_credited", id,
                  std::to_string(amount) + " for " + account + " received by the gateway",
                  repaired);
            } else if (d->second.account_id != account || d->second.amount != amount) {
              add("deposit_mismatch", id,
                  "betcore credited " + std::to_string(d->second.amount) + " to " +
                      d->second.account_id + ", the gateway received " + std::to_string(amount) +
                      " for " + account);
            }
          },
          report.error)) {
    return report;
  }
  for (const auto& [ref, d] : deposits) {
    if (ref.rfind(o.gateway_ref_prefix, 0) == 0 && at_gateway.count(ref) == 0) {
      add("deposit_unknown_to_gateway", ref,
          "betcore credited " + std::to_string(d.amount) + " to " + d.account_id +
              " but the gateway never received it");
    }
  }
  return report;
}

}  // namespace betcore::payments
