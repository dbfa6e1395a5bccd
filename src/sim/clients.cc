// The simulated clients' side of the network (clients.h): send, time out,
// retry with the same id, and learn from definite answers.
#include "sim/clients.h"

#include <algorithm>

namespace betcore::sim {

namespace {
constexpr int64_t kClientTimeoutMs = 400;  // plus 0-100 ms of jitter
constexpr int64_t kIdlePollMs = 20;        // a client with nothing to do asks again after this
constexpr int64_t kBackoffMsMax = 200;
}  // namespace

void Clients::start() {
  for (Client& c : clients_) {
    Client* cp = &c;
    run_.world.after(run_.world.rng.between(0, 10), [this, cp] { next_op(*cp); });
  }
}

void Clients::next_op(Client& c) {
  if (workload_done()) return;
  std::optional<Op> op = workload_.next(c);
  if (!op) {
    Client* cp = &c;
    run_.world.after(kIdlePollMs, [this, cp] { next_op(*cp); });
    return;
  }
  issue(std::move(*op));
}

void Clients::issue(Op op) {
  ++issued_;
  ops_.push_back(std::move(op));
  send(ops_.size() - 1);
}

void Clients::send(size_t index) {
  World& world = run_.world;
  Op& op = ops_[index];
  uint64_t attempt = ++attempt_seq_;
  op.attempt = attempt;
  ++op.tries;
  op.last_sent = world.now();
  if (op.first_sent < 0) {
    op.first_sent = world.now();
    op.head_at_send = nodes_.acked_head_at(world.now());
  }
  attempts_[attempt] = index;
  // Behind a load balancer: any node, the one that failed included.
  SimNode* n = &nodes_.at(world.rng.below(nodes_.size()));
  world.after(run_.net_ms(), [this, n, attempt] { deliver(*n, attempt); });
  world.after(kClientTimeoutMs + world.rng.between(0, 100), [this, attempt, index] {
    Op& o = ops_[index];
    if (o.done || o.attempt != attempt) return;
    ++run_.report.client_errors["client_timeout"];
    attempts_.erase(attempt);
    send(index);
  });
}

// The request reaches the node, unless the client gave up on that attempt.
void Clients::deliver(SimNode& n, uint64_t attempt) {
  auto it = attempts_.find(attempt);
  if (it == attempts_.end()) return;
  nodes_.arrive(n, attempt, ops_[it->second]);
}

void Clients::answer(uint64_t attempt, Answer a) {
  auto it = attempts_.find(attempt);
  if (it == attempts_.end()) return;  // a late answer to an attempt given up
  size_t index = it->second;
  Op& op = ops_[index];
  if (op.done || op.attempt != attempt) return;
  run_.world.trace(attempt * 31 + static_cast<uint64_t>(a.kind));
  if (a.kind == AnswerKind::applied || a.kind == AnswerKind::read) {
    attempts_.erase(it);
    op.done = true;
    op.answered_at = run_.world.now();
    op.answer = a;
    if (a.kind == AnswerKind::applied && a.code == domain::Code::ok)
      ++run_.report.writes_acknowledged;
    note_late_alive(op);
    workload_.learn(op, a);
    Client* cp = &clients_[static_cast<size_t>(op.client)];
    run_.world.after(run_.world.rng.between(0, 8), [this, cp] { next_op(*cp); });
    return;
  }
  // Indefinite: retry with the same id, after a jittered backoff, on any node.
  ++run_.report.client_errors[answer_kind_name(a.kind)];
  attempts_.erase(it);
  int64_t backoff = std::min<int64_t>(kBackoffMsMax, 5 << std::min<uint32_t>(op.tries, 5));
  run_.world.after(run_.world.rng.between(backoff / 2, backoff), [this, index] { send(index); });
}

// An alive is applied at its batch's time, not at the time the feed sent it:
// an attempt sent late (a retry after an indefinite answer) that is accepted
// keeps the producer up until its own batch time + limit. How late, at most.
void Clients::note_late_alive(const Op& op) {
  if (!std::holds_alternative<domain::FeedAlive>(op.command)) return;
  if (op.answer.kind != AnswerKind::applied || op.answer.code != domain::Code::ok) return;
  uint64_t& late = run_.report.feed["alive_late_ms_max"];
  late = std::max(late, static_cast<uint64_t>(op.last_sent - op.first_sent));
}

bool Clients::all_answered(std::string& why) const {
  for (const Op& op : ops_) {
    if (!op.done) {
      why = "operation '" + op.what + "' has no definite answer after " + std::to_string(op.tries) +
            " tries";
      return false;
    }
  }
  return true;
}

}  // namespace betcore::sim
