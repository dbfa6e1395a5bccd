// Judging a feed outage from its probe bets.
#include "drill/feed_verdict.h"

#include <fmt/format.h>

#include <algorithm>

namespace betcore::drill {

OutageVerdict judge_outage(const std::vector<ProbeSample>& samples,
                           const std::vector<WatchedMarket>& markets, int64_t due_ms) {
  OutageVerdict v;
  int64_t shut_ms = -1;
  bool never_shut = false;
  for (size_t i = 0; i < markets.size(); ++i) {
    const WatchedMarket& m = markets[i];
    int64_t refused_since = -1;  // the first refusal after the last bet taken
    size_t answered_after_due = 0;
    for (const ProbeSample& s : samples) {
      if (s.market != i || s.answer == Bets::unknown) continue;
      const bool refused = s.answer == Bets::refused;
      if (refused && refused_since < 0) refused_since = s.sent_ms;
      if (!refused) refused_since = -1;
      if (!m.must_shut && refused) {
        v.violations.push_back(fmt::format(
            "{} refused a bet sent at {:.1f} s although its own producer was alive", m.id,
            s.sent_ms / 1000.0));
        break;
      }
      if (!m.must_shut || s.sent_ms < due_ms) continue;
      ++answered_after_due;
      if (!refused) {
        v.violations.push_back(fmt::format(
            "{} took a bet sent at {:.1f} s, {} ms after its feed's deadline (limit + 1 s)", m.id,
            s.sent_ms / 1000.0, s.sent_ms - due_ms));
        break;
      }
    }
    if (!m.must_shut) continue;
    if (answered_after_due == 0) {
      v.violations.push_back(
          fmt::format("no probe bet on {} was answered after its feed's deadline", m.id));
    }
    never_shut = never_shut || refused_since < 0;
    shut_ms = std::max(shut_ms, refused_since);
  }
  v.shut_ms = v.violations.empty() && !never_shut ? shut_ms : -1;
  return v;
}

}  // namespace betcore::drill
