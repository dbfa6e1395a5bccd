// Odds arithmetic (API.md, Conventions: decimal odds with at most 3
// decimals from "1.001" to "1000"; a single pays floor(stake x odds); a
// multiple's odds are the product of its legs' odds rounded down to 1/1000).
#include "domain/odds.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace betcore::domain {
namespace {

std::optional<int64_t> parsed(std::string_view s) {
  auto o = parse_odds(s);
  if (!o) return std::nullopt;
  return o->thousandths;
}

TEST(ParseOdds, AcceptsUpToThreeDecimalsInRange) {
  EXPECT_EQ(parsed("2.10"), 2100);
  EXPECT_EQ(parsed("2.1"), 2100);
  EXPECT_EQ(parsed("2.100"), 2100);
  EXPECT_EQ(parsed("2"), 2000);
  EXPECT_EQ(parsed("1.001"), 1001);
  EXPECT_EQ(parsed("1.01"), 1010);
  EXPECT_EQ(parsed("1000"), 1'000'000);
  EXPECT_EQ(parsed("1000.000"), 1'000'000);
  EXPECT_EQ(parsed("999.999"), 999'999);
  EXPECT_EQ(parsed("3.333"), 3333);
  EXPECT_EQ(parsed("02.5"), 2500);
}

TEST(ParseOdds, RefusesEverythingElse) {
  for (const char* bad : {"1.0001", "1", "1.0", "1.000", "0.999", "0", "1000.001", "1001", "-2", "+2",
                          "2.", ".5", "1e3", "2e0", " 2", "2 ", "", ".", "2..1", "2.1.1", "1,5",
                          "0x10", "2.1a", "abc", "inf", "nan", "99999999999999", "1000000000000",
                          "\xef\xbc\x92"}) {
    EXPECT_FALSE(parse_odds(bad).has_value()) << "'" << bad << "'";
  }
  EXPECT_FALSE(parse_odds(std::string_view("2\0", 2)).has_value());
}

TEST(FormatOdds, IsTheShortestExactForm) {
  EXPECT_EQ(format_odds(Odds{2100}), "2.1");
  EXPECT_EQ(format_odds(Odds{2000}), "2");
  EXPECT_EQ(format_odds(Odds{1001}), "1.001");
  EXPECT_EQ(format_odds(Odds{1010}), "1.01");
  EXPECT_EQ(format_odds(Odds{3333}), "3.333");
  EXPECT_EQ(format_odds(Odds{1'000'000}), "1000");
  EXPECT_EQ(format_odds(Odds{100'000'000}), "100000");
  EXPECT_EQ(format_odds(Odds{2368}), "2.368");
}

TEST(FormatOdds, RoundTripsEveryValidValue) {
  for (int64_t t = kOddsMin; t <= kOddsMax; ++t) {
    auto back = parse_odds(format_odds(Odds{t}));
    ASSERT_TRUE(back.has_value()) << t;
    ASSERT_EQ(back->thousandths, t);
  }
}

TEST(PayoutOf, IsTheFloorOfStakeTimesOdds) {
  EXPECT_EQ(payout_of(Amount{1000}, Odds{2100}).minor, 2100);
  EXPECT_EQ(payout_of(Amount{333}, Odds{1333}).minor, 443);   // 443.889
  EXPECT_EQ(payout_of(Amount{1}, Odds{1999}).minor, 1);       // 1.999
  EXPECT_EQ(payout_of(Amount{999}, Odds{1001}).minor, 999);   // 999.999
  EXPECT_EQ(payout_of(Amount{1000}, Odds{1001}).minor, 1001);
  EXPECT_EQ(payout_of(Amount{0}, Odds{5000}).minor, 0);
  // The largest stake at the largest combined odds fits: 10^13 x 10^5 = 10^18.
  EXPECT_EQ(payout_of(Amount{kAmountMax}, Odds{kCombinedOddsMax}).minor, 1'000'000'000'000'000'000);
  EXPECT_EQ(payout_of(Amount{kAmountMax}, Odds{kOddsMax}).minor, 10'000'000'000'000'000);
  EXPECT_EQ(payout_of(Amount{kAmountMax - 1}, Odds{1001}).minor, 10'009'999'999'998);  // .999 floored
}

std::optional<int64_t> combined(std::vector<int64_t> legs) {
  auto o = combine_odds(legs);
  if (!o) return std::nullopt;
  return o->thousandths;
}

TEST(CombineOdds, IsTheExactFloorOfTheProduct) {
  EXPECT_EQ(combined({2000}), 2000);
  EXPECT_EQ(combined({1500, 1500, 1500}), 3375);         // 3.375 exactly
  EXPECT_EQ(combined({1333, 1333, 1333}), 2368);         // 2.368593..., stepwise: 2.367
  EXPECT_EQ(combined({1333, 1333}), 1776);               // 1.776889
  EXPECT_EQ(combined({1001, 1001}), 1002);               // 1.002001
  EXPECT_EQ(combined({1999, 1999}), 3996);               // 3.996001
  EXPECT_EQ(combined({1000, 1000, 1000, 2500}), 2500);   // void legs at odds 1
  EXPECT_EQ(combined(std::vector<int64_t>(20, 1001)), 1020);  // 1.0202...
  EXPECT_EQ(combined(std::vector<int64_t>(20, 1000)), 1000);
  // 1999^16 is about 6.5e52, far past __int128: still exact to the last digit.
  EXPECT_EQ(combined(std::vector<int64_t>(16, 1999)), 65'013'673);  // 65013.673...
  EXPECT_EQ(combined(std::vector<int64_t>(20, 1999)), std::nullopt);  // 1038139.89...: over the cap
}

TEST(CombineOdds, RefusesProductsOverTheCap) {
  EXPECT_EQ(combined({100'000, 1'000'000}), kCombinedOddsMax);  // 100 x 1000 = 100000
  EXPECT_EQ(combined({100'001, 1'000'000}), std::nullopt);
  EXPECT_EQ(combined({1'000'000, 1'000'000}), std::nullopt);
  EXPECT_EQ(combined(std::vector<int64_t>(20, 1'000'000)), std::nullopt);  // 10^60: no overflow
  EXPECT_EQ(combined(std::vector<int64_t>(20, 2000)), std::nullopt);        // 2^20 > 10^5
  EXPECT_EQ(combined(std::vector<int64_t>(16, 2000)), 65'536'000);
}

// Against a slow but obviously right reference: the product in __int128
// while it fits, divided once.
TEST(CombineOdds, MatchesAReferenceOnRandomLegs) {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 100'000; ++iter) {
    const size_t n = 1 + rng() % 5;
    std::vector<int64_t> legs(n);
    for (auto& f : legs) f = kOddsMin + static_cast<int64_t>(rng() % (iter % 2 ? 9'000 : 999'000));
    unsigned __int128 p = 1;
    unsigned __int128 d = 1;
    for (int64_t f : legs) p *= static_cast<unsigned __int128>(f);
    for (size_t i = 1; i < n; ++i) d *= 1000;
    unsigned __int128 want = p / d;
    auto got = combine_odds(legs);
    if (want > static_cast<unsigned __int128>(kCombinedOddsMax)) {
      ASSERT_FALSE(got.has_value()) << iter;
    } else {
      ASSERT_TRUE(got.has_value()) << iter;
      ASSERT_EQ(static_cast<unsigned __int128>(got->thousandths), want) << iter;
    }
  }
}

}  // namespace
}  // namespace betcore::domain
