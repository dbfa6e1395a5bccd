// The simulated clients' side of the network: each operation is sent to a
// random node (as a load balancer would), and an indefinite answer or a
// timeout is retried with the same id after a jittered backoff, until a
// definite answer arrives. What they send comes from the Workload.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "sim/messages.h"
#include "sim/nodes.h"
#include "sim/run_context.h"
#include "sim/workload.h"

namespace betcore::sim {

class Clients {
 public:
  Clients(RunContext& run, Nodes& nodes)
      : run_(run), nodes_(nodes), workload_(run.world), clients_(Workload::make_clients()) {}

  // Each client's first operation, a few ms from now.
  void start();
  // A node's answer to one attempt (stale attempts are ignored).
  void answer(uint64_t attempt, Answer a);

  bool workload_done() const { return issued_ >= run_.config.ops; }
  // True when every operation has a definite answer; else names one that has not.
  bool all_answered(std::string& why) const;
  // Every operation, in the order issued.
  const std::deque<Op>& ops() const { return ops_; }

 private:
  void next_op(Client& c);
  void issue(Op op);
  void send(size_t index);
  void deliver(SimNode& n, uint64_t attempt);
  void note_late_alive(const Op& op);

  RunContext& run_;
  Nodes& nodes_;
  Workload workload_;
  std::vector<Client> clients_;
  std::deque<Op> ops_;                   // every operation, in the order issued
  std::map<uint64_t, size_t> attempts_;  // attempt -> index in ops_
  uint64_t attempt_seq_ = 0;
  uint64_t issued_ = 0;
};

}  // namespace betcore::sim
