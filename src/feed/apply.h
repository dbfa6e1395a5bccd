// One feed message's effect on betcore, through its public API: which
// requests it makes, and what betcore's answer means for the message (ack
// it, dead-letter it, or try again).
#pragma once
#include <string>
#include <vector>

#include "feed/feed_message.h"
#include "tools/http_client.h"

namespace betcore::feed {

struct Outcome {
  enum class Kind {
    applied,   // betcore took it: ack
    stale,     // an odds change not newer than the market's last: ack
    not_open,  // the market is closed or settled: ack (normal at a market's end)
    dead,      // betcore refused it for good (400, 404, 409): dead-letter, then ack
    retry,     // betcore busy, unreachable or unsure (0, 429, 5xx, 504): same request again
    fatal,     // our token is refused (401, 403): retry slowly, loudly; an operator must fix it
  };
  Kind kind = Kind::applied;
  std::string reason;  // for dead, retry and fatal: betcore's status and message
};

// Applies `message` (not alive or snapshot_complete: the adapter handles
// those) with requests that are safe to repeat: create calls are retried by
// their ids, writes carry request_id_of(message), and feed prices are
// ordered by the provider's (ts, seq) in the state machine.
Outcome apply_message(tools::HttpClient& betcore, const std::string& token, const Message& message);

// Odds changes (1..256, in delivery order) in one POST /v1/feed-prices
// (docs/api.md): out[i] is messages[i]'s outcome, each as its own request's
// would be. A request betcore did not answer for itself (no answer, 429,
// 5xx, 504; 401/403) gives every message that retry (fatal) outcome: the
// batch is sent again, which is safe as an applied change is then answered
// applied:false. A batch betcore does not take (an older node, a body over
// its limit) goes as single requests, in order, up to the first that must
// be tried again.
std::vector<Outcome> apply_odds_changes(tools::HttpClient& betcore, const std::string& token,
                                        const std::vector<const Message*>& messages);

// The body of POST /v1/producers/{id}/alive: `source_ts` is the alive
// message's own time stamp, so betcore counts the limit from when the
// provider sent it, not from when the request lands.
std::string alive_body(int limit_ms, bool recovered, int64_t source_ts);

}  // namespace betcore::feed
