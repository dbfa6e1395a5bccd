// The odds feed in the state machine: a producer's alive deadline decided on
// the batch time and the provider's stamp, and prices applied in the
// provider's order. `alive` is unstamped (a log written before the stamp),
// `stamped` an alive as the API makes it now.
#include <gtest/gtest.h>

#include "codec/command_codec.h"
#include "codec/snapshot.h"
#include "domain/fingerprint.h"
#include "domain/handlers.h"
#include "domain/testing/fixtures.h"

namespace betcore::domain {
namespace {

using namespace domain::test;

FeedAlive alive(std::string producer, int64_t limit_ms = 5'000, bool recovered = false) {
  return FeedAlive{std::move(producer), limit_ms, recovered};
}

// An alive as the provider stamped it (source_ts): ms after kT0.
FeedAlive stamped(std::string producer, int64_t sent_ms, bool recovered = false, int64_t limit_ms = 5'000) {
  return FeedAlive{std::move(producer), limit_ms, recovered, kT0 + sent_ms};
}

FeedPrices feed(std::string market, int64_t ts, uint64_t seq, std::vector<Sel> sels, std::string producer = "live") {
  FeedPrices f;
  f.market_id = std::move(market);
  f.producer_id = std::move(producer);
  f.source_ts = ts;
  f.source_seq = seq;
  for (auto& s : sels) f.prices.push_back(PriceSpec{s.id, Odds{s.odds}, -1});
  return f;
}

// A book with producer "live" alive for 5 s and market "fm" priced by it.
void fed_book(Book& b) {
  b.standard(10'000);
  ASSERT_TRUE(b.ok(alive("live")));
  CreateMarket m = market("fm", "e1", {{"home", 2000}, {"away", 1800}});
  m.producer_id = "live";
  ASSERT_TRUE(b.ok(m));
}

TEST(Feed, AMarketTakesBetsWhileItsProducerIsAliveAndNotAfter) {
  Book b;
  fed_book(b);
  b.later(4'999);
  EXPECT_TRUE(b.ok(bet("b1", "alice", 100, {leg("fm", "home", 2000)})));
  b.later(1);  // now == alive_until: silent
  EXPECT_TRUE(b.rejected(bet("b2", "alice", 100, {leg("fm", "home", 2000)}), Code::market_not_open));
  // A market priced by hand is not affected.
  EXPECT_TRUE(b.ok(bet("b3", "alice", 100, {leg("m1", "home", 2000)})));
}

TEST(Feed, EachAliveMovesTheDeadline) {
  Book b;
  fed_book(b);
  for (int i = 0; i < 5; ++i) {
    b.later(4'000);
    ASSERT_TRUE(b.ok(alive("live")));
  }
  b.later(4'000);
  EXPECT_TRUE(b.ok(bet("b1", "alice", 100, {leg("fm", "home", 2000)})));
}

TEST(Feed, ADownProducerComesBackOnlyAfterRecovery) {
  Book b;
  fed_book(b);
  b.later(6'000);
  EXPECT_TRUE(b.rejected(alive("live"), Code::conflict));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("fm", "home", 2000)}), Code::market_not_open));
  ASSERT_TRUE(b.ok(alive("live", 5'000, true)));
  EXPECT_EQ(b.s().producers.at(0).recoveries, 1u);
  EXPECT_TRUE(b.ok(bet("b1", "alice", 100, {leg("fm", "home", 2000)})));
  // recovered=true while up changes nothing but the deadline.
  ASSERT_TRUE(b.ok(alive("live", 5'000, true)));
  EXPECT_EQ(b.s().producers.at(0).recoveries, 1u);
}

TEST(Feed, PricesApplyInTheProvidersOrderOnly) {
  Book b;
  fed_book(b);
  Outcome first = b.apply(feed("fm", 1'000, 7, {{"home", 2100}}));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first.duplicate);
  EXPECT_EQ(b.selection("fm", "home").odds.thousandths, 2100);
  // Older, equal (a redelivery) and same-time-lower-sequence: nothing changes.
  const std::string before = b.digest();
  for (const FeedPrices& stale : {feed("fm", 999, 99, {{"home", 1500}}), feed("fm", 1'000, 7, {{"home", 1500}}),
                                  feed("fm", 1'000, 6, {{"home", 1500}})}) {
    Outcome o = b.apply(stale);
    ASSERT_TRUE(o.ok()) << o.message;
    EXPECT_TRUE(o.duplicate);
  }
  EXPECT_EQ(b.digest(), before);
  EXPECT_EQ(b.selection("fm", "home").odds.thousandths, 2100);
  // Same time, later sequence; then later time with a lower sequence.
  ASSERT_TRUE(b.ok(feed("fm", 1'000, 8, {{"home", 2200}})));
  ASSERT_TRUE(b.ok(feed("fm", 1'001, 1, {{"away", 1700}})));
  EXPECT_EQ(b.selection("fm", "home").odds.thousandths, 2200);
  EXPECT_EQ(b.selection("fm", "away").odds.thousandths, 1700);
}

TEST(Feed, BadFeedCommandsAreRefusedAndChangeNothing) {
  Book b;
  fed_book(b);
  EXPECT_TRUE(b.rejected(alive("bad id!"), Code::invalid_request));
  EXPECT_TRUE(b.rejected(alive("live", 999), Code::invalid_request));
  EXPECT_TRUE(b.rejected(alive("live", 600'001), Code::invalid_request));
  EXPECT_TRUE(b.rejected(feed("fm", 0, 1, {{"home", 2100}}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(feed("nope", 5, 1, {{"home", 2100}}), Code::not_found));
  EXPECT_TRUE(b.rejected(feed("fm", 5, 1, {{"home", 2100}}, "nobody"), Code::not_found));
  EXPECT_TRUE(b.rejected(feed("fm", 5, 1, {{"draw", 2100}}), Code::not_found));
  EXPECT_TRUE(b.rejected(feed("fm", 5, 1, {{"home", 1}}), Code::invalid_request));
  CreateMarket m = market("m9", "e1", {{"yes", 2000}});
  m.producer_id = "nobody";
  EXPECT_TRUE(b.rejected(m, Code::not_found));
}

TEST(Feed, TheFeedCannotTakeOverAHandPricedMarket) {
  Book b;
  fed_book(b);
  EXPECT_TRUE(b.rejected(feed("m1", 10, 1, {{"home", 2500}}), Code::conflict));
  b.later(5'000);  // "live" is silent now; m1 is not its market
  EXPECT_TRUE(b.ok(bet("b1", "alice", 100, {leg("m1", "home", 2000)})));
}

TEST(Feed, AnotherProducerTakesAMarketOverInTheProvidersTimeOrder) {
  Book b;
  fed_book(b);
  ASSERT_TRUE(b.ok(alive("prematch", 600'000)));
  ASSERT_TRUE(b.ok(feed("fm", 2'000, 50, {{"home", 2100}}, "prematch")));
  ASSERT_TRUE(b.ok(feed("fm", 2'001, 1, {{"home", 2200}}, "live")));
  EXPECT_TRUE(b.apply(feed("fm", 2'000, 99, {{"home", 1500}}, "prematch")).duplicate);
  EXPECT_EQ(b.selection("fm", "home").odds.thousandths, 2200);
  EXPECT_EQ(b.s().producers.at(b.market_of("fm").producer.value).id, "live");
}

TEST(Feed, AStampFarAheadOfTheClockIsRefusedAndHugeClocksDoNotOverflow) {
  Book b;
  fed_book(b);
  EXPECT_TRUE(b.rejected(feed("fm", kT0 + 60 * 60'000 + 1, 1, {{"home", 2100}}), Code::invalid_request));
  EXPECT_TRUE(b.ok(feed("fm", kT0 + 60 * 60'000, 1, {{"home", 2100}})));
  // A node stamping the end of time: the deadline saturates, never wraps.
  b.at(INT64_MAX - 10);
  ASSERT_TRUE(b.ok(alive("late", 600'000)));
  EXPECT_EQ(b.s().producers.back().alive_until.ms, INT64_MAX);
}

TEST(Feed, ARedeliveryIsHarmlessEvenAfterTheMarketClosed) {
  Book b;
  fed_book(b);
  ASSERT_TRUE(b.ok(feed("fm", 10, 1, {{"home", 2100}})));
  ASSERT_TRUE(b.ok(close_market("fm")));
  Outcome again = b.apply(feed("fm", 10, 1, {{"home", 2100}}));
  ASSERT_TRUE(again.ok()) << again.message;
  EXPECT_TRUE(again.duplicate);
  EXPECT_TRUE(b.rejected(feed("fm", 11, 1, {{"home", 2100}}), Code::market_not_open));
}

// docs/simulation.md, finding 6: a copy committed late (a retry, a request
// queued behind a slow append) counts from the provider's stamp + 1 s of
// allowed skew, not from its batch time, and a copy of an alive already
// taken changes nothing.
TEST(Feed, ALateCopyOfAnAliveDoesNotKeepMarketsOpen) {
  Book b;
  b.standard(10'000);
  ASSERT_TRUE(b.ok(stamped("live", 0)));
  CreateMarket m = market("fm", "e1", {{"home", 2000}, {"away", 1800}});
  m.producer_id = "live";
  ASSERT_TRUE(b.ok(m));
  // Sent at 1 s, committed at 4 s: open until 1 s + 1 s + 5 s, not 4 s + 5 s.
  b.at(kT0 + 4'000);
  Outcome late = b.apply(stamped("live", 1'000));
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(late.duplicate);
  EXPECT_EQ(b.s().producers[0].alive_until.ms, kT0 + 1'000 + kAliveLagMaxMs + 5'000);
  // A second copy of it, or an older alive, changes nothing.
  b.at(kT0 + 5'000);
  Outcome copy = b.apply(stamped("live", 1'000));
  EXPECT_TRUE(copy.ok() && copy.duplicate);
  Outcome older = b.apply(stamped("live", 500));
  EXPECT_TRUE(older.ok() && older.duplicate);
  EXPECT_EQ(b.s().producers[0].alive_until.ms, kT0 + 7'000);
  b.at(kT0 + 7'000);
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("fm", "home", 2000)}), Code::market_not_open));
  // A recovered alive stamped before the outage began (7 s) answers an
  // earlier one: refused. One stamped at or after it, on time, counts from
  // its batch.
  EXPECT_TRUE(b.rejected(stamped("live", 6'500, true), Code::conflict));
  Outcome fresh = b.apply(stamped("live", 7'000, true));
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(b.s().producers[0].alive_until.ms, kT0 + 7'000 + 5'000);
  EXPECT_EQ(b.s().producers[0].last_source_ts, kT0 + 7'000);
}

// docs/simulation.md, finding 6: recovered=true answers one outage only.
TEST(Feed, ALateRecoveredAliveAfterANewOutageDoesNotReopen) {
  Book b;
  b.standard(10'000);
  ASSERT_TRUE(b.ok(stamped("live", 0)));  // up until 5 s
  b.at(kT0 + 6'000);                      // down since 5 s
  ASSERT_TRUE(b.rejected(stamped("live", 5'900), Code::conflict));
  // Recovered, sent at 6 s: accepted; a first attempt of it, sent at 5.5 s
  // (before this recovery was asked for), is still queued.
  ASSERT_TRUE(b.ok(stamped("live", 6'000, true)));
  EXPECT_EQ(b.s().producers[0].recoveries, 1u);
  b.at(kT0 + 20'000);  // down again since 12 s: nothing recovered yet
  // A copy of the accepted recovered alive: a duplicate, changes nothing.
  Outcome copy = b.apply(stamped("live", 6'000, true));
  EXPECT_TRUE(copy.ok() && copy.duplicate);
  EXPECT_TRUE(b.s().producer_down(b.s().producers[0]));
  // A recovered alive never taken, stamped before the new outage: refused.
  EXPECT_TRUE(b.rejected(stamped("live", 11'000, true), Code::conflict));
  // Stamped after it, but too old to keep it up now: refused too.
  EXPECT_TRUE(b.rejected(stamped("live", 13'000, true), Code::conflict));
  EXPECT_TRUE(b.s().producer_down(b.s().producers[0]));
  EXPECT_EQ(b.s().producers[0].recoveries, 1u);
  // The recovery of this outage.
  ASSERT_TRUE(b.ok(stamped("live", 19'800, true)));
  EXPECT_FALSE(b.s().producer_down(b.s().producers[0]));
  EXPECT_EQ(b.s().producers[0].recoveries, 2u);
}

TEST(Feed, AliveStampsAreCheckedAndSurviveASnapshot) {
  Book b;
  EXPECT_TRUE(b.rejected(FeedAlive{"live", 5'000, false, -1}, Code::invalid_request));
  EXPECT_TRUE(b.rejected(stamped("live", 3'600'001), Code::invalid_request));
  ASSERT_TRUE(b.ok(stamped("live", 0)));
  std::string bytes = codec::encode_state(b.s());
  codec::DecodedState back = codec::decode_state(bytes);
  ASSERT_TRUE(back.error.empty()) << back.error;
  EXPECT_EQ(back.state->producers[0].last_source_ts, kT0);
  EXPECT_EQ(codec::encode_state(*back.state), bytes);
}

TEST(Feed, FeedCommandsRoundTripAndAnOptionalProducerKeepsOldFingerprints) {
  CreateMarket m = market("m1", "e1", {{"home", 2000}});
  const uint64_t without = fingerprint(m);
  std::string plain;
  codec::encode_command(m, plain);
  m.producer_id = "live";
  EXPECT_NE(fingerprint(m), without);
  for (const Command& c : std::vector<Command>{m, alive("live", 7'000, true), stamped("live", 9, true),
                                               feed("m1", 12, 3, {{"home", 2100}})}) {
    std::string bytes;
    codec::encode_command(c, bytes);
    size_t pos = 0;
    std::optional<Command> back = codec::decode_command(bytes, &pos);
    ASSERT_TRUE(back.has_value()) << command_name(c);
    std::string again;
    codec::encode_command(*back, again);
    EXPECT_EQ(again, bytes) << command_name(c);
    EXPECT_EQ(fingerprint(*back), fingerprint(c));
  }
  // Without a producer, the record is what it was before the field existed.
  std::string with;
  codec::encode_command(m, with);
  EXPECT_EQ(with.size(), plain.size() + 2 + 4);
}

// An unstamped alive (from a log written before the stamp) is the record it
// was, with its fingerprint; the stamp adds 8 bytes and joins the hash.
TEST(Feed, AnAliveStampIsAnOptionalTrailingField) {
  std::string old_bytes, new_bytes;
  codec::encode_command(alive("live", 7'000), old_bytes);
  codec::encode_command(stamped("live", 1), new_bytes);
  EXPECT_EQ(new_bytes.size(), old_bytes.size() + 8);
  EXPECT_NE(fingerprint(alive("live", 7'000)), fingerprint(FeedAlive{"live", 7'000, false, 5}));
  size_t pos = 0;
  std::optional<Command> back = codec::decode_command(old_bytes, &pos);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(std::get<FeedAlive>(*back).source_ts, 0);
}

}  // namespace
}  // namespace betcore::domain
