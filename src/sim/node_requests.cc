// How a simulated node answers a client's request: reads wait until the node
// has applied the log head, writes go through the submitter, and answers
// cross the network (where a fault can lose them).
#include <algorithm>

#include "sim/nodes.h"

namespace betcore::sim {

namespace {
constexpr int64_t kReadTimeoutMs = 300;
}  // namespace

void Nodes::arrive(SimNode& n, uint64_t attempt, const Op& op) {
  if (!n.up) {
    send_answer(attempt, Answer{AnswerKind::refused});
    return;
  }
  if (!n.ready()) {
    respond(n, attempt, Answer{AnswerKind::unavailable});
    return;
  }
  if (op.kind == OpKind::read) {
    auto head = n.log->head();
    if (!head.ok()) {
      respond(n, attempt, Answer{AnswerKind::unavailable});
      return;
    }
    uint64_t required = run_.config.sabotage == "stale_reads" ? 0 : head.value().value;
    n.reads.push_back(
        PendingRead{attempt, op.account, required, run_.world.now() + kReadTimeoutMs});
    return;
  }
  SimNode* np = &n;
  bool ack_unknown = run_.config.sabotage == "ack_unknown";
  node::SubmitStatus st =
      n.submitter->submit(op.encoded, [np, attempt, ack_unknown](const node::WriteResult& r) {
        Answer a;
        switch (r.kind) {
          case node::WriteResult::Kind::applied:
            a.kind = AnswerKind::applied;
            a.code = r.outcome->code;
            a.duplicate = r.outcome->duplicate;
            a.count = r.outcome->count;
            a.index = r.index;
            break;
          case node::WriteResult::Kind::outcome_unknown:
            // Sabotage (checker tests): claims success.
            a.kind = ack_unknown ? AnswerKind::applied : AnswerKind::unknown;
            break;
          case node::WriteResult::Kind::unavailable:
            a.kind = AnswerKind::unavailable;
            break;
        }
        np->outbox.push_back(Outgoing{attempt, a});
      });
  if (st == node::SubmitStatus::overloaded) respond(n, attempt, Answer{AnswerKind::overloaded});
  if (st == node::SubmitStatus::unavailable) respond(n, attempt, Answer{AnswerKind::unavailable});
}

// Reads that waited for a position: answered once it is applied, or timed out.
void Nodes::answer_reads(SimNode& n) {
  if (!n.up || n.reads.empty()) return;
  std::vector<PendingRead> waiting;
  for (PendingRead& r : n.reads) {
    if (n.applier->applied() >= r.required) {
      Answer a;
      a.kind = AnswerKind::read;
      n.applier->read(r.required, 0, [&](const domain::State* s) {
        a.index = s->applied.value;
        domain::AccountIdx idx = s->account_ids.find(r.account);
        a.found = idx.valid();
        if (a.found) a.balance = s->accounts[idx.value].balance.minor;
      });
      n.outbox.push_back(Outgoing{r.attempt, a});
    } else if (run_.world.now() >= r.deadline) {
      n.outbox.push_back(Outgoing{r.attempt, Answer{AnswerKind::read_timeout}});
    } else {
      waiting.push_back(r);
    }
  }
  n.reads.swap(waiting);
}

void Nodes::flush(SimNode& n) {
  if (n.outbox.empty()) return;
  // Callbacks ran in hash-map order in places (orphaned waiters): answer in
  // attempt order so the run stays the same for a seed.
  std::vector<Outgoing> out;
  out.swap(n.outbox);
  std::sort(out.begin(), out.end(),
            [](const Outgoing& a, const Outgoing& b) { return a.attempt < b.attempt; });
  for (Outgoing& o : out) respond(n, o.attempt, o.answer);
}

void Nodes::respond(SimNode& n, uint64_t attempt, Answer a) {
  // Lost: the client times out.
  if (run_.world.now() < n.response_drop_until && run_.world.rng.chance(700)) return;
  send_answer(attempt, a);
}

void Nodes::send_answer(uint64_t attempt, Answer a) {
  run_.world.after(run_.net_ms(), [this, attempt, a] { answer_sink_(attempt, a); });
}

}  // namespace betcore::sim
