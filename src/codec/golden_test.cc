// Golden files: a command log and a snapshot written by the code of
// 2026-12-04 (src/codec/testdata), which every later build must read and
// write byte for byte the same. The log is a deployed node's history and the
// snapshot its checkpoint: a change that moved one byte of the command
// records, the batch, the snapshot, a fingerprint or an answer would make a
// new build disagree with the replicas and the files it meets. Run
// `golden_test --write DIR SET` (SET: base or feed) to write a set again only for a deliberate,
// versioned format change (see docs/snapshot-format.md).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "codec/batch.h"
#include "codec/binary.h"
#include "codec/command_codec.h"
#include "codec/snapshot.h"
#include "domain/fingerprint.h"
#include "domain/state_machine.h"
#include "domain/testing/fixtures.h"

namespace betcore::codec {
namespace {

using namespace domain;
using namespace domain::test;

struct GoldenBatch {
  int64_t stamped_ms;
  std::vector<Command> commands;
};

template <class T>
T with_request_id(T c, std::string id) {
  c.request_id = std::move(id);
  return c;
}

// A history through every command, every enum value and every optional
// field: accepted, refused (remembered by client id), retried and
// conflicting; a stamp older than the clock; a resettlement that leaves a
// receivable.
std::vector<GoldenBatch> scenario() {
  UpdatePrices inactive = prices("m3", {{"no", 1400}});
  inactive.prices[0].active = 0;
  UpdatePrices active = prices("m2", {{"yes", 1600}, {"no", 1450}});
  active.prices[0].active = 1;
  CreateMarket limited = market("m4", "e2", {{"yes", 2500}, {"no", 2500}});
  limited.min_stake = Amount{10};
  limited.max_stake = Amount{50'000};
  limited.max_liability = Amount{1'000'000};
  return {
      {kT0,
       {open_account("alice"), deposit("dep-alice-0", "alice", 100'000), event("e1"),
        market("m1", "e1", {{"home", 2000}, {"draw", 3500}, {"away", 4000}}),
        open_account("bob", "GBP", 5'000), open_account("carol", "EUR", 100'000),
        open_account("bad id!", "EUR")}},
      {kT0 + kHourMs,
       {deposit("bob-1", "bob", 4'000), deposit("carol-1", "carol", 10'000), deposit("bob-2", "bob", 1'000),
        deposit("bob-3", "bob", 1), exclude("bob", kT0 + 7 * kDayMs), withdraw("w-pending", "alice", 1'000),
        withdraw("w-done", "alice", 2'000), withdraw("w-failed", "alice", 3'000),
        withdraw("w-over", "alice", 10'000'000), complete("w-done", "gw-9"), fail("w-failed", "closed"),
        complete("w-done", "gw-9"), event("e2", "Second \xc3\xa9", kT0 + 2 * kDayMs),
        market("m2", "e2", {{"yes", 1500}, {"no", 1500}}), market("m3", "e2", {{"yes", 1333}, {"no", 1333}}),
        limited, with_request_id(inactive, "r-price"), active}},
      {kT0 + kHourMs + 60'000,
       {bet("s1", "alice", 1'000, {leg("m1", "home", 2000)}),
        bet("s2", "carol", 500, {leg("m1", "away", 4000)}),
        bet("x1", "alice", 300, {leg("m1", "draw", 3500), leg("m2", "yes", 1500), leg("m3", "yes", 1333)}, true),
        bet("x2", "carol", 200, {leg("m2", "no", 1450), leg("m4", "yes", 2500)}),
        bet("s3", "carol", 700, {leg("m4", "no", 2500)}), bet("s1", "alice", 1'000, {leg("m1", "home", 2000)}),
        bet("s1", "alice", 999, {leg("m1", "home", 2000)}), bet("s4", "alice", 100, {leg("nope", "home", 2000)}),
        bet("s5", "alice", 100, {leg("m3", "no", 1400)}), bet("s6", "bob", 100, {leg("m1", "home", 2000)})}},
      {kT0 + 10 * 60'000,  // older than the clock: time holds
       {with_request_id(settle("m1", {{"home", kLose}, {"draw", kWin}, {"away", kWin}}), "r-settle"),
        withdraw("w-all", "carol", 10'600)}},
      {kT0 + 2 * kHourMs,
       {with_request_id(resettle("m1", {{"home", kWin}, {"draw", kWin}, {"away", kLose}}), "r-resettle"),
        with_request_id(resettle("m1", {{"home", kWin}, {"draw", kWin}, {"away", kLose}}), "r-resettle"),
        settle("m2", {{"yes", kWin}, {"no", kVoid}}),
        with_request_id(suspend("m3"), "r-suspend"), with_request_id(suspend("m3"), "r-suspend"),
        with_request_id(resume("m3"), "r-suspend"), close_market("m4"),
        ChangeMarketStatus{"m2", MarketAction::close, "", ""}}},
  };
}

// A history through the odds feed (written 2026-12-04, with the feed):
// producers up, down and recovered, markets born fed and taken over, prices
// in and out of the provider's order, and bets refused on a silent feed.
std::vector<GoldenBatch> feed_scenario() {
  CreateMarket fed = market("fm", "e1", {{"home", 2000}, {"away", 1800}});
  fed.producer_id = "live";
  auto prices_at = [](std::string m, std::string producer, int64_t ts, uint64_t seq, std::vector<Sel> sels) {
    FeedPrices f{std::move(m), std::move(producer), ts, seq, {}};
    for (auto& s : sels) f.prices.push_back(PriceSpec{s.id, Odds{s.odds}, -1});
    return f;
  };
  FeedPrices off = prices_at("fm", "live", 1'000, 3, {{"away", 1750}});
  CreateMarket pm = market("pm", "e1", {{"yes", 1500}, {"no", 2500}});
  pm.producer_id = "prematch";
  off.prices[0].active = 0;
  return {
      {kT0,
       {open_account("alice"), deposit("dep-alice-0", "alice", 100'000), event("e1"),
        market("m1", "e1", {{"home", 2000}, {"draw", 3500}, {"away", 4000}}), FeedAlive{"live", 5'000, false},
        FeedAlive{"prematch", 600'000, true}, fed, FeedAlive{"bad id!", 5'000, false}}},
      {kT0 + 1'000,
       {prices_at("fm", "live", 1'000, 2, {{"home", 2100}}), prices_at("fm", "live", 999, 9, {{"home", 1500}}),
        prices_at("fm", "live", 1'000, 2, {{"home", 1500}}), off,
        prices_at("m1", "prematch", 500, 1, {{"draw", 3600}}), pm,
        prices_at("pm", "prematch", 500, 1, {{"yes", 1600}}), prices_at("pm", "live", 501, 1, {{"yes", 1650}}),
        prices_at("nope", "live", 5, 1, {{"home", 2000}}),
        bet("b1", "alice", 100, {leg("fm", "home", 2100)})}},
      {kT0 + 6'000,
       {bet("b2", "alice", 100, {leg("fm", "home", 2100)}), FeedAlive{"live", 5'000, false},
        FeedAlive{"live", 5'000, true}, bet("b3", "alice", 100, {leg("fm", "home", 2100)}),
        bet("b4", "alice", 100, {leg("m1", "draw", 3500)}), bet("b5", "alice", 100, {leg("pm", "yes", 1650)})}},
  };
}

struct GoldenSet {
  const char* name;
  std::vector<GoldenBatch> (*scenario)();
  std::string dir() const { return std::string(BETCORE_GOLDEN_DIR) + (*name == '\0' ? "" : "/" + std::string(name)); }
};
const GoldenSet kSets[] = {{"", scenario}, {"feed", feed_scenario}};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string encode_batch_of(const GoldenBatch& b, uint64_t first_seq) {
  std::vector<std::string> records;
  for (const Command& c : b.commands) {
    records.emplace_back();
    encode_command(c, records.back());
  }
  // The golden log predates the audit chain: version 1, as it was written.
  BatchHeader header{"golden-node", first_seq, b.stamped_ms};
  header.version = 1;
  return encode_batch(header, records);
}

// The log file: each batch as a u32 length and the batch's bytes.
std::string encode_log(const std::vector<GoldenBatch>& batches) {
  std::string out;
  Writer w(out);
  uint64_t seq = 1;
  for (const GoldenBatch& b : batches) {
    std::string bytes = encode_batch_of(b, seq);
    seq += b.commands.size();
    w.u32(static_cast<uint32_t>(bytes.size()));
    w.raw(bytes);
  }
  return out;
}

std::vector<std::string> split_log(std::string_view log) {
  std::vector<std::string> out;
  Reader r(log);
  while (r.ok() && r.remaining() > 0) {
    uint32_t n = r.u32();
    out.emplace_back(r.take(n));
  }
  EXPECT_TRUE(r.ok()) << "the golden log is cut";
  return out;
}

// One line per command: its fingerprint and the state machine's answer.
std::string answer_line(const Command& c, const Outcome& o) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fingerprint(c)));
  return std::string(hex) + " " + std::string(code_name(o.code)) + " " + (o.duplicate ? "1" : "0") + " " +
         std::to_string(o.ref) + " " + std::to_string(o.count) + "\n";
}

struct Replayed {
  StateMachine sm;
  std::string answers;
};

void replay(const std::vector<DecodedBatch>& batches, Replayed& out) {
  out.sm.set_full_check_after_each_command(true);
  uint64_t index = 0;
  for (const DecodedBatch& b : batches) {
    out.sm.begin_batch(LogIndex{++index}, TimeMs{b.header.stamped_ms});
    for (const Command& c : b.commands) out.answers += answer_line(c, out.sm.apply(c));
  }
}

std::vector<DecodedBatch> decode_log(const std::string& log) {
  std::vector<DecodedBatch> out;
  for (const std::string& bytes : split_log(log)) {
    out.push_back(decode_batch(bytes));
    EXPECT_EQ(out.back().error, BatchError::none) << out.back().detail;
  }
  return out;
}

class Golden : public ::testing::TestWithParam<GoldenSet> {};
INSTANTIATE_TEST_SUITE_P(Sets, Golden, ::testing::ValuesIn(kSets),
                         [](const auto& info) { return std::string(*info.param.name ? info.param.name : "base"); });

TEST_P(Golden, TodaysCodeWritesTheGoldenLogByteForByte) {
  EXPECT_TRUE(encode_log(GetParam().scenario()) == read_file(GetParam().dir() + "/log.bin"))
      << "the command or batch encoding changed: logs already written would no longer match";
}

TEST_P(Golden, TheGoldenLogDecodesAndReencodesByteForByte) {
  const std::string log = read_file(GetParam().dir() + "/log.bin");
  std::vector<std::string> batches = split_log(log);
  ASSERT_EQ(batches.size(), GetParam().scenario().size());
  size_t commands = 0;
  for (const std::string& bytes : batches) {
    DecodedBatch d = decode_batch(bytes);
    ASSERT_EQ(d.error, BatchError::none) << d.detail;
    std::vector<std::string> records;
    for (const Command& c : d.commands) {
      records.emplace_back();
      encode_command(c, records.back());
    }
    EXPECT_TRUE(encode_batch(d.header, records) == bytes);
    commands += d.commands.size();
  }
  EXPECT_GE(commands, 20u);
}

TEST_P(Golden, ReplayingTheLogGivesTheSameFingerprintsAnswersAndState) {
  Replayed r;
  replay(decode_log(read_file(GetParam().dir() + "/log.bin")), r);
  EXPECT_EQ(r.answers, read_file(GetParam().dir() + "/answers.txt"));
  const std::string state = encode_state(r.sm.state());
  EXPECT_TRUE(state == read_file(GetParam().dir() + "/state.bin")) << "the snapshot encoding changed";
  EXPECT_EQ(state_digest(r.sm.state()) + "\n" + digest_without_refusals(r.sm.state()) + "\n",
            read_file(GetParam().dir() + "/digests.txt"));
  // What each history is there to pin is in the state.
  const State& s = r.sm.state();
  if (GetParam().scenario == scenario) {
    EXPECT_FALSE(s.rejected.empty());
    EXPECT_FALSE(s.request_ids.empty());
    EXPECT_LT(s.accounts.at(s.account_ids.find("carol").value).receivable.minor, 0);
  } else {
    ASSERT_EQ(s.producers.size(), 2u);
    EXPECT_EQ(s.producers[0].recoveries, 1u);
    EXPECT_FALSE(s.markets.at(s.market_ids.find("m1").value).producer.valid());
    EXPECT_EQ(s.producers.at(s.markets.at(s.market_ids.find("pm").value).producer.value).id, "live");
  }
}

TEST_P(Golden, TheGoldenSnapshotDecodesAndReencodesByteForByte) {
  const std::string bytes = read_file(GetParam().dir() + "/state.bin");
  DecodedState d = decode_state(bytes);
  ASSERT_NE(d.state, nullptr) << d.error;
  EXPECT_TRUE(encode_state(*d.state) == bytes);
  EXPECT_EQ(state_digest(*d.state) + "\n" + digest_without_refusals(*d.state) + "\n",
            read_file(GetParam().dir() + "/digests.txt"));
  OpenedSnapshot opened = open_snapshot(seal_snapshot(bytes, d.state->applied.value));
  EXPECT_TRUE(opened.encoded_state == bytes) << opened.error;
}

bool write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  return out.good();
}

int write_set(const GoldenSet& set, const std::string& root) {
  const std::string dir = root + (*set.name == '\0' ? "" : "/" + std::string(set.name));
  const std::string log = encode_log(set.scenario());
  Replayed r;
  replay(decode_log(log), r);
  const std::string digests = state_digest(r.sm.state()) + "\n" + digest_without_refusals(r.sm.state()) + "\n";
  if (!write_file(dir + "/log.bin", log) || !write_file(dir + "/answers.txt", r.answers) ||
      !write_file(dir + "/state.bin", encode_state(r.sm.state())) || !write_file(dir + "/digests.txt", digests)) {
    std::cerr << "cannot write the golden files into " << dir << ": does the folder exist?\n";
    return 1;
  }
  std::cout << "wrote log.bin, answers.txt, state.bin and digests.txt into " << dir << "\n";
  return 0;
}

// Writes the sets named on the command line ("base", "feed"): only for a
// new set, or a deliberate, versioned format change.
int write_golden(const std::string& root, const std::string& which) {
  for (const GoldenSet& set : kSets) {
    const std::string name = *set.name ? set.name : "base";
    if (name == which && write_set(set, root) != 0) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace betcore::codec

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--write") return betcore::codec::write_golden(argv[2], argv[3]);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
