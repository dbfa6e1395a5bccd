// One feed message's effect on betcore, through its public API: which
// requests it makes, and what betcore's answer means for the message (ack
// it, dead-letter it, or try again).
#pragma once
#include <string>

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

// The body of POST /v1/producers/{id}/alive.
std::string alive_body(int limit_ms, bool recovered);

}  // namespace betcore::feed
