// The feed's JSON: every kind written and read back, and refusals that say why.
#include "feed/feed_message.h"

#include <gtest/gtest.h>

namespace betcore::feed {
namespace {

Message sample(Kind kind) {
  Message m;
  m.kind = kind;
  m.producer = "live";
  m.seq = 42;
  m.ts = 1'780'000'000'123;
  m.event_id = "e-1";
  m.market_id = "m-1-1";
  switch (kind) {
    case Kind::alive: m.subscribed = false; break;
    case Kind::fixture:
      m.market_id.clear();
      m.event_name = "A v B";
      m.starts_at = "2027-01-01T20:00:00Z";
      m.markets = {{"m-1-1", "Match", {{"home", "Home", "2.1"}, {"away", "Away", "1.8"}}}};
      break;
    case Kind::odds_change: m.prices = {{"home", "2.2", std::nullopt}, {"away", "1.75", false}}; break;
    case Kind::bet_settlement:
    case Kind::rollback_bet_settlement: m.results = {{"home", "win"}, {"away", "lose"}}; break;
    case Kind::snapshot_complete: m.request_id = "rc-live-1"; break;
    default: m.reason = "goal"; break;
  }
  return m;
}

TEST(FeedMessage, EveryKindSurvivesARoundTrip) {
  for (Kind kind : {Kind::alive, Kind::fixture, Kind::odds_change, Kind::bet_stop, Kind::bet_start,
                    Kind::bet_settlement, Kind::rollback_bet_settlement, Kind::bet_cancel,
                    Kind::snapshot_complete}) {
    Message m = sample(kind);
    std::string json = to_json(m);
    auto back = parse_message(json);
    ASSERT_TRUE(std::holds_alternative<Message>(back))
        << kind_name(kind) << ": " << std::get<std::string>(back) << " in " << json;
    EXPECT_EQ(to_json(std::get<Message>(back)), json) << kind_name(kind);
  }
}

TEST(FeedMessage, RefusalsSayWhatIsWrong) {
  auto why = [](std::string_view body) {
    auto r = parse_message(body);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string("accepted");
  };
  EXPECT_EQ(why("{\"kind\":"), "not JSON");
  EXPECT_EQ(why("[1]"), "not a JSON object");
  EXPECT_EQ(why(R"({"producer":"live"})"), "missing kind");
  EXPECT_EQ(why(R"({"kind":"teleport","producer":"live","seq":1,"ts":1})"), "unknown kind \"teleport\"");
  EXPECT_EQ(why(R"({"kind":"alive","producer":"li ve","seq":1,"ts":1})"),
            "alive: producer is not an id ([A-Za-z0-9_.:-], 1-64 characters)");
  EXPECT_EQ(why(R"({"kind":"alive","producer":"live","seq":-1,"ts":1})"),
            "alive: seq is missing or not an integer >= 0");
  EXPECT_EQ(why(R"({"kind":"odds_change","producer":"live","seq":1,"ts":1,"event_id":"e","market_id":"m","prices":[]})"),
            "odds_change: prices is missing or not an array of 1-64 items");
  EXPECT_EQ(why(R"({"kind":"odds_change","producer":"live","seq":1,"ts":1,"event_id":"e","prices":[{"selection_id":"a","odds":"2"}]})"),
            "odds_change: missing market_id");
  EXPECT_EQ(why(R"({"kind":"bet_stop","producer":"live","seq":1,"ts":1,"market_id":"m"})"),
            "bet_stop: missing event_id");
  EXPECT_EQ(why(R"({"kind":"alive","producer":"live","seq":1,"ts":5})"), "accepted");
}

TEST(FeedMessage, RequestIdsAreStableAndShortEnough) {
  Message m = sample(Kind::bet_settlement);
  EXPECT_EQ(request_id_of(m), "fd:live:1780000000123.42");
  m.producer = std::string(64, 'p');
  std::string id = request_id_of(m);
  EXPECT_EQ(id.size(), 64u);
  EXPECT_TRUE(id.ends_with(":1780000000123.42")) << id;
  EXPECT_EQ(routing_key(sample(Kind::odds_change)), "live.odds_change.e-1");
}

}  // namespace
}  // namespace betcore::feed
