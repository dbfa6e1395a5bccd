// Odds arithmetic (API.md: decimal odds with at most 3 decimals, stored as
// integer thousandths; a single pays floor(stake x odds); a multiple's odds are
// the product of its legs' odds rounded down to 1/1000).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "domain/types.h"

namespace betcore::domain {

// "2.1" / "2.10" / "2.100" / "2" -> 2100. nullopt on anything else, including
// more than 3 decimals, signs, exponents, or values outside [1.001, 1000].
std::optional<Odds> parse_odds(std::string_view text);

// 2100 -> "2.1", 2000 -> "2", 1001 -> "1.001": the shortest exact form.
std::string format_odds(Odds odds);

// floor(stake x odds / 1000). REQUIRES: stake <= kAmountMax, odds <= kCombinedOddsMax.
Amount payout_of(Amount stake, Odds odds);

// The exact floor of the product of `legs` (thousandths) in thousandths, or
// nullopt when it exceeds kCombinedOddsMax. Exact for up to kLegsMax legs.
std::optional<Odds> combine_odds(std::span<const int64_t> legs);

}  // namespace betcore::domain
