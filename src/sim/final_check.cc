// The checks at the end of a run (final_check.h).
#include "sim/final_check.h"

#include <string>
#include <utility>
#include <vector>

#include "domain/ledger.h"
#include "sim/history_check.h"
#include "sim/model.h"

namespace betcore::sim {

namespace {

using CommittedLog = std::vector<std::pair<uint64_t, const std::string*>>;

// 1. The committed log, in order; and every entry a node applied is in it.
CommittedLog committed_log(RunContext& run, Nodes& nodes) {
  CommittedLog log;
  const History& history = nodes.history();
  if (nodes.cluster()) {
    const SharedLog& shared = nodes.shared_log();
    for (const auto& e : shared.entries()) log.emplace_back(e.position, &e.batch);
    for (const auto& [pos, batch] : history.entries) {
      size_t i = shared.lower_bound(pos);
      if (i >= shared.entries().size() || shared.entries()[i].position != pos ||
          shared.entries()[i].batch != batch) {
        run.fail("a node applied an entry at " + std::to_string(pos) +
                 " that the log does not hold");
      }
    }
    return log;
  }
  uint64_t expect = 1;
  for (const auto& [pos, batch] : history.entries) {
    if (pos != expect) {
      run.fail("the file log's history has a hole at position " + std::to_string(expect));
      break;
    }
    ++expect;
    log.emplace_back(pos, &batch);
  }
  uint64_t head = nodes.at(0).applier->applied();
  if (!log.empty() && log.back().first != head) {
    run.fail("the history ends at " + std::to_string(log.back().first) + " but the node applied " +
             std::to_string(head));
  }
  return log;
}

HistoryOp history_op(const Op& op) {
  HistoryOp h;
  h.what = op.what;
  h.read = op.kind == OpKind::read;
  h.account = op.account;
  if (!h.read) h.key = op_key(op.command);
  h.answered = op.done;
  h.first_sent_ms = op.first_sent;
  h.answered_ms = op.answered_at;
  h.code = op.answer.code;
  h.count = op.answer.count;
  h.index = op.answer.index;
  h.found = op.answer.found;
  h.balance = op.answer.balance;
  h.must_include = op.head_at_send;
  return h;
}

std::string slash(int64_t a, int64_t b, int64_t c) {
  return std::to_string(a) + "/" + std::to_string(b) + "/" + std::to_string(c);
}

// The ledger balances: every slot + the house = deposits - withdrawals, and
// the totals are the model's.
void check_money(RunContext& run, const std::string& id, const domain::State& s,
                 const Model& model) {
  domain::LedgerCheck lc = domain::verify_ledger(s);
  if (!lc.ok) run.fail(id + ": the ledger does not balance: " + lc.problem);
  int64_t sum = 0;
  for (const domain::Account& a : s.accounts) {
    if (a.balance.minor < 0 || a.in_play.minor < 0 || a.pending_withdrawals.minor < 0) {
      run.fail(id + ": account " + std::string(a.id) + " has a negative slot");
    }
    sum += a.balance.minor + a.in_play.minor + a.pending_withdrawals.minor + a.receivable.minor;
  }
  int64_t house = 0, deposits = 0, withdrawn = 0;
  for (const domain::CurrencyBook& c : s.currencies) {
    house += c.house.minor;
    deposits += c.deposits_total.minor;
    withdrawn += c.withdrawals_completed_total.minor;
  }
  if (sum + house != deposits - withdrawn) {
    run.fail(id + ": balances + in play + pending + receivable + house = " +
             std::to_string(sum + house) +
             ", deposits - completed withdrawals = " + std::to_string(deposits - withdrawn));
  }
  if (deposits != model.deposits() || withdrawn != model.withdrawals_completed() ||
      house != model.house()) {
    run.fail(id + ": deposits/withdrawn/house " + slash(deposits, withdrawn, house) +
             " but the model has " +
             slash(model.deposits(), model.withdrawals_completed(), model.house()));
  }
}

// Every account's slots and every bet are the model's.
void check_books(RunContext& run, const std::string& id, const domain::State& s,
                 const Model& model) {
  if (s.accounts.size() != model.accounts().size() || s.bets.size() != model.bets()) {
    run.fail(id + ": " + std::to_string(s.accounts.size()) + " accounts and " +
             std::to_string(s.bets.size()) + " bets, the model has " +
             std::to_string(model.accounts().size()) + " and " + std::to_string(model.bets()));
  }
  for (const auto& [account, ma] : model.accounts()) {
    domain::AccountIdx idx = s.account_ids.find(account);
    if (!idx.valid()) {
      run.fail(id + ": account " + account + " is missing");
      continue;
    }
    const domain::Account& a = s.accounts[idx.value];
    if (a.balance.minor != ma.balance || a.in_play.minor != ma.in_play ||
        a.pending_withdrawals.minor != ma.pending || a.receivable.minor != ma.receivable) {
      run.fail(id + ": account " + account + " has balance/in play/pending/receivable " +
               slash(a.balance.minor, a.in_play.minor, a.pending_withdrawals.minor) + "/" +
               std::to_string(a.receivable.minor) + ", the model " +
               slash(ma.balance, ma.in_play, ma.pending) + "/" + std::to_string(ma.receivable));
    }
  }
  for (const domain::Bet& b : s.bets) {
    if (!model.has_bet(std::string(b.id))) {
      run.fail(id + ": bet " + std::string(b.id) + " is not one the model accepted");
    }
  }
}

}  // namespace

void check_run(RunContext& run, Nodes& nodes, const std::deque<Op>& ops) {
  CommittedLog log = committed_log(run, nodes);
  run.report.log_entries = log.size();

  // 2-4. The model, fed the log, against every answer (history_check.h).
  Model model;
  std::vector<LogRecord> records;
  records.reserve(log.size());
  for (const auto& [pos, batch] : log) records.push_back(LogRecord{pos, *batch});
  std::vector<HistoryOp> history;
  history.reserve(ops.size());
  for (const Op& op : ops) {
    ++run.report.ops;
    history.push_back(history_op(op));
  }
  HistoryCheck hc = check_history(records, history, model, run.report.failures);
  run.report.reads_checked = hc.reads_checked;
  const FeedCounts& f = model.feed_counts();
  for (const auto& [name, n] : {std::pair<const char*, uint64_t>{"alives", f.alives},
                                {"alives_refused_down", f.alives_refused_down},
                                {"recoveries", f.recoveries},
                                {"alive_copies_accepted_again", f.alive_copies_accepted_again},
                                {"reopened_by_an_old_alive", f.reopened_by_an_old_alive},
                                {"alives_stale", f.alives_stale},
                                {"alives_refused_old_recovery", f.alives_refused_old_recovery},
                                {"alive_open_past_stamp_ms_max", f.alive_open_past_stamp_ms_max},
                                {"prices_applied", f.prices_applied},
                                {"prices_stale", f.prices_stale},
                                {"bets_on_feed_markets", f.bets_on_feed_markets},
                                {"bets_refused_feed_silent", f.bets_refused_feed_silent}}) {
    run.report.feed[name] = n;
  }
  // docs/simulation.md, finding 6 (fixed): no copy of an alive takes effect
  // twice, and none keeps markets open past its stamp + limit + 1 s.
  if (f.alive_copies_accepted_again != 0 || f.alive_open_past_stamp_ms_max > 1'000) {
    run.fail("alives: " + std::to_string(f.alive_copies_accepted_again) + " copies accepted again; open " +
             std::to_string(f.alive_open_past_stamp_ms_max) + " ms past a stamp + limit");
  }

  // 5. Every replica: the same digest, a balanced ledger, and the model's money.
  std::string first_digest;
  for (const auto& n : nodes.all()) {
    std::string digest;
    const domain::State* s = nodes.final_state(*n, digest);
    if (s == nullptr) {
      run.fail(n->id + " has no state to check");
      continue;
    }
    if (first_digest.empty()) first_digest = digest;
    if (digest != first_digest) {
      run.fail(n->id + " ends with digest " + digest + ", another replica with " + first_digest);
    }
    // Honest nodes never send anchors a replica disagrees with.
    if (n->applier && n->applier->chain_refusals() > 0) {
      run.fail(n->id + " refused " + std::to_string(n->applier->chain_refusals()) +
               " batches for their audit anchors");
    }
    if (s->applied.value > 0 && !s->audit.begun()) {
      run.fail(n->id + " ends without an audit chain");
    }
    check_money(run, n->id, *s, model);
    check_books(run, n->id, *s, model);
  }
}

}  // namespace betcore::sim
