// Quantities of the betting domain, each its own type: mixing an Amount with
// Odds, or an account index with a market index, is a compile error
// (STYLE.md, habit 3). `double` never touches money.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace betcore::domain {

// Money in integer minor units (cents) of the account's currency.
struct Amount {
  int64_t minor = 0;
  auto operator<=>(const Amount&) const = default;
  Amount operator+(Amount o) const { return {minor + o.minor}; }
  Amount operator-(Amount o) const { return {minor - o.minor}; }
  Amount& operator+=(Amount o) { minor += o.minor; return *this; }
  Amount& operator-=(Amount o) { minor -= o.minor; return *this; }
};

// API.md: amounts and stakes are 1 .. 10^13 minor units.
inline constexpr int64_t kAmountMin = 1;
inline constexpr int64_t kAmountMax = 10'000'000'000'000;

// Decimal odds in integer thousandths: "2.10" is 2100.
struct Odds {
  int64_t thousandths = 0;
  auto operator<=>(const Odds&) const = default;
};

// API.md: odds from "1.001" to "1000".
inline constexpr int64_t kOddsMin = 1'001;
inline constexpr int64_t kOddsMax = 1'000'000;
// A multiple's combined odds are capped so that stake x odds always fits in
// int64 with room to spare (10^13 x 10^8 / 10^3 = 10^18 < 9.2 x 10^18).
inline constexpr int64_t kCombinedOddsMax = 100'000'000;
inline constexpr int64_t kOddsOne = 1'000;  // a void leg counts at odds 1

// Milliseconds since the Unix epoch, as stamped by the submitting node.
struct TimeMs {
  int64_t ms = 0;
  auto operator<=>(const TimeMs&) const = default;
};

// A batch's place in the command log (etcd revision or file log position).
struct LogIndex {
  uint64_t value = 0;
  auto operator<=>(const LogIndex&) const = default;
};

// Dense indices into the state's tables, assigned in apply order (and so the
// same on every replica). Never reused.
template <class Tag>
struct Index {
  uint32_t value = kNone;
  static constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
  bool valid() const { return value != kNone; }
  auto operator<=>(const Index&) const = default;
};
using AccountIdx = Index<struct AccountTag>;
using EventIdx = Index<struct EventTag>;
using MarketIdx = Index<struct MarketTag>;
using BetIdx = Index<struct BetTag>;
using DepositIdx = Index<struct DepositTag>;
using WithdrawalIdx = Index<struct WithdrawalTag>;
using CurrencyIdx = Index<struct CurrencyTag>;
using ProducerIdx = Index<struct ProducerTag>;

// API.md: a market has at most this many selections (a bound on every loop).
inline constexpr uint32_t kSelectionsMax = 64;
// API.md: a multiple has 2..20 legs.
inline constexpr uint32_t kLegsMax = 20;
// API.md: ids are 1-64 chars of [A-Za-z0-9_.:-].
inline constexpr uint32_t kIdBytesMax = 64;
// Names and free text (reasons, gateway refs) are bounded too.
inline constexpr uint32_t kTextBytesMax = 256;

}  // namespace betcore::domain
