// The verdict on a feed outage, from the probe bets sent while it lasted:
// pure, so that it is tested without a cluster (feed_verdict_test.cc).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "drill/feed_probe.h"

namespace betcore::drill {

struct ProbeSample {
  size_t market = 0;    // index into the markets watched
  int64_t sent_ms = 0;  // drill time the bet was sent (it is applied at or after it)
  Bets answer = Bets::unknown;
};

struct WatchedMarket {
  std::string id;
  bool must_shut = false;  // its feed is out: bets refused from the deadline on
};

struct OutageVerdict {
  // Drill time from which every probe of every market that must shut was
  // refused (-1: some never was). The report's "detected".
  int64_t shut_ms = -1;
  std::vector<std::string> violations;
};

// Each market that must shut refuses every bet sent at or after `due_ms`
// (the feed deadline: the limit after the last alive, plus 1 s for the
// alive's way through the adapter), and at least one bet was answered
// then, so the refusal was seen; each other market refuses none (its own
// producer is alive). `samples` in the order they were sent.
OutageVerdict judge_outage(const std::vector<ProbeSample>& samples,
                           const std::vector<WatchedMarket>& markets, int64_t due_ms);

}  // namespace betcore::drill
