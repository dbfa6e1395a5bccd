#include "domain/odds.h"

#include <array>

#include "domain/assert.h"

namespace betcore::domain {

std::optional<Odds> parse_odds(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  int64_t whole = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] != '.'; ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return std::nullopt;
    whole = whole * 10 + (c - '0');
  }
  if (i == 0) return std::nullopt;  // ".5"
  int64_t frac = 0;
  int digits = 0;
  if (i < text.size()) {
    ++i;  // '.'
    if (i == text.size()) return std::nullopt;  // "2."
    for (; i < text.size(); ++i) {
      char c = text[i];
      if (c < '0' || c > '9' || digits == 3) return std::nullopt;
      frac = frac * 10 + (c - '0');
      ++digits;
    }
  }
  for (; digits < 3; ++digits) frac *= 10;
  int64_t t = whole * 1000 + frac;
  if (t < kOddsMin || t > kOddsMax) return std::nullopt;
  return Odds{t};
}

std::string format_odds(Odds odds) {
  int64_t whole = odds.thousandths / 1000;
  int64_t frac = odds.thousandths % 1000;
  std::string out = std::to_string(whole);
  if (frac != 0) {
    char buf[4] = {char('0' + frac / 100), char('0' + frac / 10 % 10), char('0' + frac % 10), 0};
    int len = 3;
    while (len > 0 && buf[len - 1] == '0') --len;
    out.push_back('.');
    out.append(buf, len);
  }
  return out;
}

Amount payout_of(Amount stake, Odds odds) {
  BETCORE_ASSERT(stake.minor >= 0 && stake.minor <= kAmountMax);
  BETCORE_ASSERT(odds.thousandths >= 0 && odds.thousandths <= kCombinedOddsMax);
  __int128 p = __int128(stake.minor) * odds.thousandths / 1000;
  return Amount{static_cast<int64_t>(p)};
}

// A little base-10^9 big number: 20 legs of up to 10^6 thousandths is 10^120,
// far past __int128, and the API wants the exact floor of the product.
std::optional<Odds> combine_odds(std::span<const int64_t> legs) {
  BETCORE_ASSERT(!legs.empty() && legs.size() <= kLegsMax);
  constexpr uint64_t kBase = 1'000'000'000;
  std::array<uint64_t, 16> limb{};  // little-endian limbs; 16 x 9 digits > 120 digits
  size_t used = 1;
  limb[0] = 1;
  for (int64_t f : legs) {
    BETCORE_ASSERT(f > 0 && f <= kOddsMax);
    uint64_t carry = 0;
    for (size_t i = 0; i < used; ++i) {
      uint64_t v = limb[i] * static_cast<uint64_t>(f) + carry;
      limb[i] = v % kBase;
      carry = v / kBase;
    }
    while (carry != 0) {
      BETCORE_ASSERT(used < limb.size());
      limb[used++] = carry % kBase;
      carry /= kBase;
    }
  }
  // Divide by 1000^(n-1): floor(floor(x / a) / b) == floor(x / (a*b)).
  for (size_t k = 1; k < legs.size(); ++k) {
    uint64_t rem = 0;
    for (size_t i = used; i-- > 0;) {
      uint64_t v = rem * kBase + limb[i];
      limb[i] = v / 1000;
      rem = v % 1000;
    }
    while (used > 1 && limb[used - 1] == 0) --used;
  }
  if (used > 1) {
    // >= 10^9 thousandths: over the cap (kCombinedOddsMax = 10^8).
    return std::nullopt;
  }
  if (limb[0] > static_cast<uint64_t>(kCombinedOddsMax)) return std::nullopt;
  return Odds{static_cast<int64_t>(limb[0])};
}

}  // namespace betcore::domain
