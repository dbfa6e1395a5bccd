// The drill's checks after the faults: convergence, the history, lost writes, every node's state.
#include "drill/checks.h"
#include "drill/cluster.h"
#include "tls/tls.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>

#include "codec/batch.h"
#include "drill/clock.h"
#include "drill/feed_probe.h"
#include "drill/payments.h"
#include "log/etcd/etcd_client.h"
#include "log/etcd/etcd_log.h"
#include "sim/history_check.h"
#include "sim/model.h"
#include "tools/http_client.h"

namespace betcore::drill {
namespace {

using json = nlohmann::json;

// The converge() failure that report.replicas_agree looks for.
constexpr const char* kReplicasDiffer =
    "the nodes ended at one index but with different checkpoints or digests";

// The log against every answer (sim/history_check.h); returns the model
// the log leads to.
sim::Model check_history(const std::vector<DrillOp>& ops, const std::vector<log::Entry>& entries,
                         DrillReport& report) {
  std::vector<sim::LogRecord> records;
  for (const log::Entry& e : entries) records.push_back(sim::LogRecord{e.position.value, e.batch});
  std::vector<sim::HistoryOp> history;
  for (const DrillOp& op : ops) {
    history.push_back(op.h);
    if (!op.h.answered && !op.answer_lost) {
      report.failures.push_back("'" + op.h.what + "' had no definite answer after 90 s of retries");
    }
  }
  sim::Model model;
  // The odds feed's commands and its probe bets, and the payment adapter's
  // withdrawal outcomes and webhook deposits, have no client operation
  // here: each is checked on its own (feed.h, payments.h).
  sim::HistoryCheck hc = sim::check_history(
      records, history, model, report.failures, 20,
      [](const domain::Command& c) { return from_the_feed(c) || from_payments(c); });
  // Acknowledged and not in the log: lost.
  std::set<std::string> logged;
  for (const sim::LogRecord& e : records) {
    codec::DecodedBatch b = codec::decode_batch(e.batch);
    for (const domain::Command& cmd : b.commands) logged.insert(sim::op_key(cmd));
  }
  for (const DrillOp& op : ops) {
    if (!op.h.read && op.h.answered && op.status < 300 && !logged.count(op.h.key)) {
      ++report.acknowledged_lost;
      report.failures.push_back("'" + op.h.what + "' was acknowledged but is not in the log");
    }
  }
  report.log_entries = entries.size();
  report.log_commands = hc.commands;
  report.writes_checked = hc.writes_checked;
  report.reads_checked = hc.reads_checked;
  return model;
}

// Node `i`'s ledger sums to zero and every account is the model's.
void check_node_state(const DrillCluster& c, int i, const sim::Model& model,
                      std::vector<std::string>& failures) {
  tools::HttpClient h(c.node_ip(i), 8080, betcore_http(1000, 5000));
  const std::string& name = c.nodes[static_cast<size_t>(i)].name;
  auto ledger = h.request("GET", "/v1/ledger/balance?stale=true", "", c.admin);
  json lj = json::parse(ledger.body, nullptr, false);
  if (ledger.status != 200 || !lj.is_object() || lj.value("total", int64_t{1}) != 0) {
    failures.push_back(name + ": the ledger does not sum to zero: " + ledger.body.substr(0, 200));
  }
  for (const auto& [id, ma] : model.accounts()) {
    auto r = h.request("GET", "/v1/accounts/" + id + "?stale=true", "", c.admin);
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object()) {
      failures.push_back(name + ": account " + id + " is missing (" + std::to_string(r.status) +
                         ")");
      continue;
    }
    int64_t b = j.value("balance", int64_t{-1}), p = j.value("in_play", int64_t{-1}),
            w = j.value("pending_withdrawals", int64_t{-1}), d = j.value("debt", int64_t{-1});
    if (b != ma.balance || p != ma.in_play || w != ma.pending || d != -ma.receivable || b < 0) {
      failures.push_back(fmt::format(
          "{}: account {} has balance/in play/pending/debt {}/{}/{}/{}, the model {}/{}/{}/{}",
          name, id, b, p, w, d, ma.balance, ma.in_play, ma.pending, -ma.receivable));
    }
  }
}

}  // namespace

uint64_t wait_for_log_head(const DrillCluster& c, const Recorder& recorder) {
  // Through the log's own head(): a cluster loaded by `betcore restore
  // --etcd` numbers positions from its base, not from etcd's revisions.
  log::etcd::EtcdLogOptions o;
  o.node_id = "drill-checker";
  o.cluster = kCluster;
  log::etcd::EtcdLog log(std::make_shared<log::etcd::Client>(log::etcd::ClientOptions{c.endpoint_list(), 2'000, tls::default_client()}), o);
  uint64_t head = 0;
  for (int tries = 0; tries < 120; ++tries) {
    auto r = log.head();
    if (r.ok()) {
      head = std::max(head, r.value().value);
      if (recorder.last() >= head) break;
    }
    sleep_ms(250);
  }
  log.close();
  return head;
}

bool converge(DrillCluster& c, uint64_t log_head, std::vector<std::string>& failures,
              int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string why;
  while (std::chrono::steady_clock::now() < deadline) {
    std::set<uint64_t> applied;
    std::set<std::string> checkpoints;
    bool all = true;
    for (int i = 0; i < kNodes; ++i) {
      tools::HttpClient h(c.node_ip(i), 8080, betcore_http(500, 2000));
      auto r = h.request("GET", "/v1/cluster", "", c.admin);
      json j = json::parse(r.body, nullptr, false);
      if (r.status != 200 || !j.is_object()) {
        all = false;
        why = c.nodes[static_cast<size_t>(i)].name + " does not answer /v1/cluster";
        break;
      }
      applied.insert(j.value("applied_index", uint64_t{0}));
      checkpoints.insert(
          fmt::format("{}:{}", j.value("checkpoint", uint64_t{0}), j.value("state_digest", "")));
    }
    if (all && applied.size() == 1 && *applied.begin() >= log_head) {
      if (checkpoints.size() != 1) failures.push_back(kReplicasDiffer);
      return true;
    }
    if (all) {
      why = fmt::format("applied indexes differ or trail the log ({} distinct)", applied.size());
    }
    sleep_ms(250);
  }
  failures.push_back("the cluster did not converge within " + std::to_string(timeout_ms / 1000) +
                     " s after healing: " + why);
  return false;
}

void check_run(const DrillCluster& c, const std::vector<DrillOp>& ops,
               const std::vector<log::Entry>& entries, bool converged, DrillReport& report) {
  sim::Model model = check_history(ops, entries, report);
  for (int i = 0; i < kNodes; ++i) check_node_state(c, i, model, report.failures);
  // Nodes that never reached one index were never shown to agree.
  report.replicas_agree =
      converged && std::none_of(report.failures.begin(), report.failures.end(),
                                [](const std::string& f) { return f == kReplicasDiffer; });
}

std::vector<OpPoint> ops_for_report(const std::vector<DrillOp>& ops) {
  std::vector<OpPoint> out;
  out.reserve(ops.size());
  for (const DrillOp& op : ops) {
    OpPoint p;
    p.sent_ms = op.h.first_sent_ms;
    p.answered_ms = op.h.answered_ms;
    p.answered = op.h.answered;
    p.read = op.h.read;
    p.acknowledged = !op.h.read && op.h.answered && op.status >= 200 && op.status < 300;
    for (const Attempt& a : op.indefinite) p.errors.emplace_back(a.at_ms, a.kind);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace betcore::drill
