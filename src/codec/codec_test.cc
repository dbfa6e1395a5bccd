// The binary formats (docs/batch-format.md, docs/snapshot-format.md): the
// command record, the batch and the snapshot. Each round-trips, and each
// refuses damaged input -- a flipped bit, a cut, garbage -- without ever
// crashing. A decoder that accepts input must be canonical: re-encoding
// what it decoded gives back exactly the bytes it read.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "codec/batch.h"
#include "codec/binary.h"
#include "codec/command_codec.h"
#include "codec/snapshot.h"
#include "codec/testing/reseal.h"
#include "domain/fingerprint.h"
#include "domain/testing/fixtures.h"

namespace betcore::codec {
namespace {

using namespace domain;
using namespace domain::test;

// A fixed, platform-independent generator (std::mt19937_64 is fully
// specified; distributions are not, so we only use its raw output).
class Bytes {
 public:
  explicit Bytes(uint64_t seed) : rng_(seed) {}
  uint64_t next() { return rng_(); }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  std::string random(size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng_());
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

// One command of every type, every field away from its default.
std::vector<Command> sample_commands() {
  CreateMarket m = market("m1", "e1", {{"home", 2100}, {"draw", 3333}, {"away", 1'000'000}});
  m.min_stake = Amount{5};
  m.max_stake = Amount{kAmountMax};
  m.max_liability = Amount{123'456'789};
  UpdatePrices p = prices("m1", {{"home", 2200}, {"away", 1001}, {"draw", 3000}});
  p.prices[1].active = 0;
  p.prices[2].active = 1;
  return {
      open_account("alice", "EUR", 50'000),
      exclude("alice", kT0 + kDayMs),
      deposit("pay-1", "alice", 1050),
      withdraw("w-1", "alice", -7),  // invalid for the domain, still encodable
      complete("w-1", "gateway/ref 1"),
      fail("w-1", "reason \xc3\xa9\n"),
      event("e1", "Home v Away", -5),
      m,
      p,
      suspend("m1"),
      ChangeMarketStatus{"m1", MarketAction::close, "", ""},
      bet("b-42", "alice", 500, {leg("m1", "home", 2100), leg("m2", "yes", 1500)}, true),
      bet("b-43", "alice", kAmountMax, {}, false),
      settle("m1", {{"home", kWin}, {"draw", kLose}, {"away", kVoid}}),
      resettle("m1", {{"home", LegResult::pending}}),
  };
}

std::string encoded(const Command& c) {
  std::string out;
  encode_command(c, out);
  return out;
}

// ---- commands -------------------------------------------------------------------

TEST(CommandCodec, RoundTripsEveryType) {
  for (const Command& c : sample_commands()) {
    const std::string bytes = encoded(c);
    size_t pos = 0;
    std::optional<Command> back = decode_command(bytes, &pos);
    ASSERT_TRUE(back.has_value()) << "tag " << c.index() + 1;
    EXPECT_EQ(pos, bytes.size());
    EXPECT_EQ(back->index(), c.index());
    EXPECT_EQ(fingerprint(*back), fingerprint(c)) << "tag " << c.index() + 1;  // every field
    EXPECT_EQ(encoded(*back), bytes);
    if (auto* s = std::get_if<SettleMarket>(&c)) {  // the one field not fingerprinted
      EXPECT_EQ(std::get<SettleMarket>(*back).resettle, s->resettle);
    }
  }
}

TEST(CommandCodec, RecordLayoutIsTagLengthFields) {
  const std::string bytes = encoded(exclude("ab", 0x0102030405060708));
  ASSERT_EQ(bytes.size(), 1u + 4 + (2 + 2) + 8);
  EXPECT_EQ(bytes[0], static_cast<char>(CommandTag::set_self_exclusion));
  EXPECT_EQ(bytes.substr(1, 4), std::string("\x0c\x00\x00\x00", 4));  // little-endian length
  EXPECT_EQ(bytes.substr(5, 4), std::string("\x02\x00" "ab", 4));
  EXPECT_EQ(bytes.substr(9), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
}

TEST(CommandCodec, DecodesConsecutiveRecords) {
  std::string bytes;
  for (const Command& c : sample_commands()) encode_command(c, bytes);
  size_t pos = 0;
  for (const Command& c : sample_commands()) {
    std::optional<Command> back = decode_command(bytes, &pos);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(fingerprint(*back), fingerprint(c));
  }
  EXPECT_EQ(pos, bytes.size());
  EXPECT_FALSE(decode_command(bytes, &pos).has_value());  // nothing left
  EXPECT_EQ(pos, bytes.size());
}

TEST(CommandCodec, RefusesEveryTruncation) {
  for (const Command& c : sample_commands()) {
    const std::string bytes = encoded(c);
    for (size_t n = 0; n < bytes.size(); ++n) {
      size_t pos = 0;
      EXPECT_FALSE(decode_command(bytes.substr(0, n), &pos).has_value()) << n;
      EXPECT_EQ(pos, 0u);
    }
  }
}

// The record's length says where it ends: fields must fill it exactly.
TEST(CommandCodec, RefusesALengthThatDisagreesWithTheFields) {
  for (const Command& c : sample_commands()) {
    std::string bytes = encoded(c);
    uint32_t len = static_cast<uint32_t>(bytes.size() - 5);
    std::string longer = bytes + "x";
    for (int i = 0; i < 4; ++i) longer[1 + i] = static_cast<char>((len + 1) >> (8 * i));
    size_t pos = 0;
    EXPECT_FALSE(decode_command(longer, &pos).has_value());
    std::string shorter = bytes;
    for (int i = 0; i < 4; ++i) shorter[1 + i] = static_cast<char>((len - 1) >> (8 * i));
    EXPECT_FALSE(decode_command(shorter, &pos).has_value());
  }
}

TEST(CommandCodec, RefusesUnknownTagsAndEnumValues) {
  std::string bytes = encoded(event("e1"));
  for (int tag : {0, 13, 200, 255}) {
    bytes[0] = static_cast<char>(tag);
    size_t pos = 0;
    EXPECT_FALSE(decode_command(bytes, &pos).has_value()) << tag;
  }
  // ChangeMarketStatus{"m", action, ""}: the action is byte 5 + 3.
  std::string status = encoded(ChangeMarketStatus{"m", MarketAction::suspend, "", ""});
  for (int action : {0, 4, 255}) {
    status[8] = static_cast<char>(action);
    size_t pos = 0;
    EXPECT_FALSE(decode_command(status, &pos).has_value()) << action;
  }
  // PlaceBet{"b", "a", stake, better, 0 legs}: accept_better_odds at 5 + 3 + 3 + 8.
  std::string placed = encoded(bet("b", "a", 1, {}));
  placed[19] = 2;
  size_t pos = 0;
  EXPECT_FALSE(decode_command(placed, &pos).has_value());
  // SettleMarket{"m", resettle, [{"s", result}]}: resettle at 8, result at 14.
  std::string settled = encoded(settle("m", {{"s", kWin}}));
  settled[8] = 2;
  EXPECT_FALSE(decode_command(settled, &pos).has_value());
  settled[8] = 1;
  settled[14] = 4;
  EXPECT_FALSE(decode_command(settled, &pos).has_value());
  // UpdatePrices{"m", [{"s", odds, active}]}: active at 5 + 3 + 2 + 3 + 8.
  UpdatePrices up = prices("m", {{"s", 2000}});
  std::string priced = encoded(up);
  priced[21] = 2;
  EXPECT_FALSE(decode_command(priced, &pos).has_value());
  priced[21] = static_cast<char>(0xff);  // -1: unchanged
  EXPECT_TRUE(decode_command(priced, &pos).has_value());
}

// A client's over-long list or text must not make a whole batch
// undecodable: it is written cut (still over the domain's bounds), it
// decodes, and the state machine refuses it.
TEST(CommandCodec, OverlongListsAndTextStayDecodableAndAreRefused) {
  std::vector<LegSpec> legs;
  for (int i = 0; i < 100; ++i) legs.push_back(leg("m" + std::to_string(i), "yes", 2000));
  CreateMarket big = market("m1", "e1", {});
  for (int i = 0; i < 70'000; ++i) big.selections.push_back({"s" + std::to_string(i), "n", Odds{2000}});
  SettleMarket results = settle("m1", {});
  for (int i = 0; i < 65; ++i) results.results.push_back({"s" + std::to_string(i), kWin});
  const std::vector<Command> cmds = {
      bet("b1", "alice", 100, legs),
      event("e2", std::string(70'000, 'n')),
      event("e3", std::string(65'535, 'n')),
      big,
      results,
      fail("w1", std::string(1 << 20, 'r')),
  };
  std::vector<std::string> records;
  for (const Command& c : cmds) records.push_back(encoded(c));
  DecodedBatch d = decode_batch(encode_batch(BatchHeader{"n1", 1, kT0}, records));
  ASSERT_EQ(d.error, BatchError::none) << d.detail;
  ASSERT_EQ(d.commands.size(), cmds.size());
  EXPECT_EQ(std::get<PlaceBet>(d.commands[0]).legs.size(), 65u);
  EXPECT_EQ(std::get<CreateEvent>(d.commands[1]).name.size(), 65'535u);
  EXPECT_EQ(std::get<CreateEvent>(d.commands[2]).name, std::string(65'535, 'n'));
  EXPECT_EQ(std::get<CreateMarket>(d.commands[3]).selections.size(), 65u);
  EXPECT_EQ(std::get<FailWithdrawal>(d.commands[5]).reason.size(), 65'535u);

  Book b;
  b.standard(10'000);
  ASSERT_TRUE(b.ok(withdraw("w1", "alice", 10)));
  for (size_t i = 0; i < d.commands.size(); ++i) {
    EXPECT_TRUE(b.rejected(d.commands[i], Code::invalid_request)) << i;
  }
}

TEST(CommandCodec, RandomBytesNeverCrashAndWhatDecodesIsCanonical) {
  Bytes rnd(1);
  for (int iter = 0; iter < 20'000; ++iter) {
    std::string bytes = rnd.random(rnd.below(120));
    if (bytes.size() >= 5 && rnd.below(2) == 0) {
      bytes[0] = static_cast<char>(1 + rnd.below(12));  // a real tag
      uint32_t len = static_cast<uint32_t>(bytes.size() - 5);
      for (int i = 0; i < 4; ++i) bytes[1 + i] = static_cast<char>(len >> (8 * i));
    }
    size_t pos = 0;
    std::optional<Command> c = decode_command(bytes, &pos);
    if (!c) {
      ASSERT_EQ(pos, 0u);
      continue;
    }
    ASSERT_EQ(encoded(*c), bytes.substr(0, pos)) << iter;
  }
}

TEST(CommandCodec, MutatedRecordsNeverCrashAndWhatDecodesIsCanonical) {
  Bytes rnd(2);
  const std::vector<Command> samples = sample_commands();
  int decoded = 0;
  for (int iter = 0; iter < 30'000; ++iter) {
    std::string bytes = encoded(samples[rnd.below(samples.size())]);
    const int edits = 1 + static_cast<int>(rnd.below(3));
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      size_t at = rnd.below(bytes.size());
      switch (rnd.below(4)) {
        case 0: bytes[at] = static_cast<char>(bytes[at] ^ (1 << rnd.below(8))); break;
        case 1: bytes[at] = static_cast<char>(rnd.next()); break;
        case 2: bytes.erase(at, 1); break;
        default: bytes.insert(at, 1, static_cast<char>(rnd.next())); break;
      }
    }
    size_t pos = 0;
    std::optional<Command> c = decode_command(bytes, &pos);
    if (!c) continue;
    ++decoded;
    ASSERT_EQ(encoded(*c), bytes.substr(0, pos)) << iter;
  }
  EXPECT_GT(decoded, 100);
}

// ---- batches --------------------------------------------------------------------

std::vector<std::string> sample_records() {
  std::vector<std::string> out;
  for (const Command& c : sample_commands()) out.push_back(encoded(c));
  return out;
}

// Rewrites the trailing checksum, so a test can reach the checks after it.
using codec::test::reseal;

TEST(Batch, RoundTrips) {
  const BatchHeader header{"node-7", 1234, kT0 + 99};
  const std::vector<std::string> records = sample_records();
  const std::string bytes = encode_batch(header, records);
  DecodedBatch d = decode_batch(bytes);
  ASSERT_EQ(d.error, BatchError::none) << d.detail;
  EXPECT_EQ(d.header.node_id, "node-7");
  EXPECT_EQ(d.header.first_seq, 1234u);
  EXPECT_EQ(d.header.stamped_ms, kT0 + 99);
  EXPECT_EQ(d.header.version, kBatchVersion);
  ASSERT_EQ(d.commands.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) EXPECT_EQ(encoded(d.commands[i]), records[i]) << i;
  // Version 2 with neither anchors nor actors: two zero counts.
  EXPECT_EQ(bytes.size(), kBatchHeaderBytes + 2 + 6 + 4 + [&] {
    size_t n = 0;
    for (const auto& r : records) n += r.size();
    return n;
  }() + kBatchChecksumBytes);
}

TEST(Batch, EmptyAndNegativeStampRoundTrip) {
  DecodedBatch d = decode_batch(encode_batch(BatchHeader{"", 0, -1}, {}));
  ASSERT_EQ(d.error, BatchError::none) << d.detail;
  EXPECT_TRUE(d.commands.empty());
  EXPECT_EQ(d.header.stamped_ms, -1);
  EXPECT_EQ(d.header.node_id, "");
}

TEST(Batch, RefusesAFlippedBitAnywhere) {
  const std::string good = encode_batch(BatchHeader{"n1", 7, kT0}, sample_records());
  for (size_t byte = 0; byte < good.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      DecodedBatch d = decode_batch(bad);
      BatchError want = byte < 4 ? BatchError::not_a_batch
                        : byte == 4 ? BatchError::unknown_version
                                    : BatchError::checksum;
      ASSERT_EQ(d.error, want) << "byte " << byte << " bit " << bit << ": " << d.detail;
      ASSERT_TRUE(d.commands.empty());
    }
  }
}

TEST(Batch, RefusesWrongMagicAndUnknownVersions) {
  std::string bytes = encode_batch(BatchHeader{"n1", 7, kT0}, sample_records());
  std::string magic = bytes;
  magic.replace(0, 4, "BCB2");
  EXPECT_EQ(decode_batch(reseal(magic)).error, BatchError::not_a_batch);
  EXPECT_EQ(decode_batch(std::string(100, '\0')).error, BatchError::not_a_batch);
  for (int v : {0, 3, 255}) {
    std::string other = bytes;
    other[4] = static_cast<char>(v);
    DecodedBatch d = decode_batch(reseal(other));  // even with a good checksum
    EXPECT_EQ(d.error, BatchError::unknown_version) << v;
    EXPECT_NE(d.detail.find("version"), std::string::npos);
  }
}

TEST(Batch, RefusesEveryTruncationAndTrailingBytes) {
  const std::string good = encode_batch(BatchHeader{"n1", 7, kT0}, sample_records());
  for (size_t n = 0; n < good.size(); ++n) {
    DecodedBatch d = decode_batch(good.substr(0, n));
    ASSERT_NE(d.error, BatchError::none) << n;
  }
  EXPECT_EQ(decode_batch(good + "x").error, BatchError::checksum);
  EXPECT_EQ(decode_batch(std::string(kBatchBytesMax + 1, 'B')).error, BatchError::not_a_batch);
}

TEST(Batch, RefusesMalformedBodiesBehindAGoodChecksum) {
  const std::vector<std::string> records = sample_records();
  const std::string good = encode_batch(BatchHeader{"n1", 7, kT0}, records);
  auto with_count = [&](uint32_t count) {
    std::string b = good;
    for (int i = 0; i < 4; ++i) b[24 + i] = static_cast<char>(count >> (8 * i));
    return reseal(b);
  };
  const uint32_t n = static_cast<uint32_t>(records.size());
  EXPECT_EQ(decode_batch(with_count(n)).error, BatchError::none);
  EXPECT_EQ(decode_batch(with_count(n + 1)).error, BatchError::malformed);  // missing command
  EXPECT_EQ(decode_batch(with_count(n - 1)).error, BatchError::malformed);  // trailing bytes
  EXPECT_EQ(decode_batch(with_count(kBatchCommandsMax + 1)).error, BatchError::malformed);
  EXPECT_EQ(decode_batch(with_count(0xffffffff)).error, BatchError::malformed);
  std::string node = good;
  node[kBatchHeaderBytes] = static_cast<char>(0xff);  // node id longer than the batch
  node[kBatchHeaderBytes + 1] = static_cast<char>(0xff);
  EXPECT_EQ(decode_batch(reseal(node)).error, BatchError::malformed);
  std::string record = good;
  record[kBatchHeaderBytes + 2 + 2 + 4] = 99;  // first command's tag, after two zero audit counts
  DecodedBatch d = decode_batch(reseal(record));
  EXPECT_EQ(d.error, BatchError::malformed);
  EXPECT_NE(d.detail.find("command 0"), std::string::npos) << d.detail;
  EXPECT_TRUE(d.commands.empty());
}

TEST(Batch, GarbageNeverCrashes) {
  Bytes rnd(3);
  for (int iter = 0; iter < 5'000; ++iter) {
    std::string bytes = rnd.random(rnd.below(400));
    EXPECT_NE(decode_batch(bytes).error, BatchError::none);
    // Garbage behind a real header and a good checksum: refused as malformed
    // (or, if it happens to parse, canonical).
    if (bytes.size() < kBatchHeaderBytes + 2 + kBatchChecksumBytes) continue;
    std::string head;
    Writer(head).u32(kBatchMagic);
    head.push_back(static_cast<char>(kBatchVersion));
    bytes.replace(0, head.size(), head);
    if (rnd.below(2) == 0) {  // a small command count
      for (int i = 0; i < 4; ++i) bytes[24 + i] = static_cast<char>(i == 0 ? rnd.below(4) : 0);
      bytes[kBatchHeaderBytes] = static_cast<char>(rnd.below(3));
      bytes[kBatchHeaderBytes + 1] = 0;
    }
    DecodedBatch d = decode_batch(reseal(bytes));
    if (d.error == BatchError::none) {
      // Canonical but for the flags and reserved bytes (5..7), which this
      // version ignores; the checksum covers them.
      std::vector<std::string> records;
      for (const Command& c : d.commands) records.push_back(encoded(c));
      std::string again = encode_batch(d.header, records);
      std::string sealed = reseal(bytes);
      ASSERT_EQ(again.size(), sealed.size()) << iter;
      ASSERT_EQ(again.substr(8, again.size() - 16), sealed.substr(8, sealed.size() - 16)) << iter;
    } else {
      ASSERT_EQ(d.error, BatchError::malformed) << iter << ": " << d.detail;
    }
  }
}

// ---- snapshots ------------------------------------------------------------------

// A book that has been through every kind of command: two currencies,
// deposit windows, a self-exclusion, withdrawals in every state, markets
// in every status, singles and multiples open, settled and resettled, an
// inactive selection and a receivable.
void rich(Book& b) {
  b.standard(100'000);
  ASSERT_TRUE(b.ok(open_account("bob", "GBP", 5'000)));
  ASSERT_TRUE(b.ok(open_account("carol", "EUR", 100'000)));
  ASSERT_TRUE(b.ok(deposit("bob-1", "bob", 4'000)));
  b.later(kHourMs);
  ASSERT_TRUE(b.ok(deposit("carol-1", "carol", 10'000)));
  ASSERT_TRUE(b.ok(deposit("bob-2", "bob", 1'000)));
  ASSERT_TRUE(b.ok(exclude("bob", kT0 + 7 * kDayMs)));
  ASSERT_TRUE(b.ok(withdraw("w-pending", "alice", 1'000)));
  ASSERT_TRUE(b.ok(withdraw("w-done", "alice", 2'000)));
  ASSERT_TRUE(b.ok(withdraw("w-failed", "alice", 3'000)));
  ASSERT_TRUE(b.ok(complete("w-done", "gw-9")));
  ASSERT_TRUE(b.ok(fail("w-failed", "closed")));
  ASSERT_TRUE(b.ok(event("e2", "Second", kT0 + 2 * kDayMs)));
  b.yes_no_market("m2", 1500);
  b.yes_no_market("m3", 1333);
  b.yes_no_market("m4", 2500);
  UpdatePrices off = prices("m3", {{"no", 1400}});
  off.prices[0].active = 0;
  ASSERT_TRUE(b.ok(off));
  ASSERT_TRUE(b.ok(bet("s1", "alice", 1'000, {leg("m1", "home", 2000)})));
  ASSERT_TRUE(b.ok(bet("s2", "carol", 500, {leg("m1", "away", 4000)})));
  ASSERT_TRUE(b.ok(bet("x1", "alice", 300, {leg("m1", "draw", 3500), leg("m2", "yes", 1500), leg("m3", "yes", 1333)})));
  ASSERT_TRUE(b.ok(bet("x2", "carol", 200, {leg("m2", "no", 1500), leg("m4", "yes", 2500)})));
  ASSERT_TRUE(b.ok(bet("s3", "carol", 700, {leg("m4", "no", 2500)})));
  ASSERT_TRUE(b.ok(settle("m1", {{"home", kLose}, {"draw", kWin}, {"away", kWin}})));
  ASSERT_TRUE(b.ok(withdraw("w-all", "carol", b.balance("carol"))));
  ASSERT_TRUE(b.ok(resettle("m1", {{"home", kWin}, {"draw", kWin}, {"away", kLose}})));  // carol owes
  ASSERT_TRUE(b.ok(settle("m2", {{"yes", kWin}, {"no", kVoid}})));
  ASSERT_TRUE(b.ok(suspend("m3")));
  ASSERT_TRUE(b.ok(close_market("m4")));
  ASSERT_LT(b.account("carol").receivable.minor, 0);
  // The odds feed: two producers, markets born fed, one taken over by the
  // other producer (snapshot sections 3 and 4).
  ASSERT_TRUE(b.ok(FeedAlive{"prematch", 60'000, false}));
  ASSERT_TRUE(b.ok(FeedAlive{"live", 5'000, false}));
  CreateMarket fed = market("fm", "e2", {{"yes", 1900}, {"no", 1900}});
  fed.producer_id = "live";
  ASSERT_TRUE(b.ok(fed));
  FeedPrices p{"m2x", "prematch", 1'700'000'000'123, 42, {}};
  CreateMarket m2x = market("m2x", "e2", {{"yes", 2000}});
  m2x.producer_id = "live";
  ASSERT_TRUE(b.ok(m2x));
  p.prices.push_back(PriceSpec{"yes", Odds{2050}, -1});
  ASSERT_TRUE(b.ok(p));
}

TEST(Snapshot, RoundTripsARichStateToTheSameDigest) {
  Book b;
  rich(b);
  const std::string bytes = encode_state(b.s());
  DecodedState d = decode_state(bytes);
  ASSERT_TRUE(d.state != nullptr) << d.error;
  EXPECT_EQ(encode_state(*d.state), bytes);
  EXPECT_EQ(state_digest(*d.state), b.digest());
  EXPECT_TRUE(ledger_ok(*d.state));

  // What is rebuilt rather than stored: the id tables and the bet lists.
  const State& s = b.s();
  const State& r = *d.state;
  for (size_t i = 0; i < s.accounts.size(); ++i) {
    EXPECT_EQ(r.account_ids.find(s.accounts[i].id).value, i);
    EXPECT_EQ(r.accounts[i].last_bet, s.accounts[i].last_bet);
    EXPECT_EQ(r.accounts[i].bet_count, s.accounts[i].bet_count);
  }
  for (size_t i = 0; i < s.markets.size(); ++i) {
    EXPECT_EQ(r.market_ids.find(s.markets[i].id).value, i);
    EXPECT_EQ(r.markets[i].bets, s.markets[i].bets);
  }
  for (size_t i = 0; i < s.bets.size(); ++i) {
    EXPECT_EQ(r.bet_ids.find(s.bets[i].id).value, i);
    EXPECT_EQ(r.bets[i].prev_of_account, s.bets[i].prev_of_account);
  }
  for (size_t i = 0; i < s.deposits.size(); ++i) EXPECT_EQ(r.deposit_refs.find(s.deposits[i].payment_ref).value, i);
  for (size_t i = 0; i < s.withdrawals.size(); ++i) EXPECT_EQ(r.withdrawal_ids.find(s.withdrawals[i].id).value, i);
  for (size_t i = 0; i < s.events.size(); ++i) EXPECT_EQ(r.event_ids.find(s.events[i].id).value, i);
  EXPECT_EQ(r.deposit_windows.size(), s.deposit_windows.size());
  EXPECT_EQ(r.now, s.now);
  EXPECT_EQ(r.applied, s.applied);
  EXPECT_EQ(r.commands_applied, s.commands_applied);
}

TEST(Snapshot, ARestoredMachineGoesOnLikeTheOriginal) {
  Book b;
  rich(b);
  DecodedState d = decode_state(encode_state(b.s()));
  ASSERT_TRUE(d.state != nullptr) << d.error;
  Book restored;
  restored.sm.reset(std::move(d.state));
  restored.index = b.index;
  const std::vector<Command> more = {
      bet("s1", "alice", 1'000, {leg("m1", "home", 2000)}),  // a retry: same first answer
      deposit("carol-1", "carol", 10'000),                    // likewise
      deposit("bob-3", "bob", 1),                             // self-excluded
      deposit("carol-2", "carol", 5'000),                     // repays what carol owes
      bet("s4", "alice", 100, {leg("m3", "no", 1400)}),        // inactive selection
      resume("m3"),
      bet("s5", "alice", 100, {leg("m3", "yes", 1333)}),
      settle("m3", {{"yes", kWin}, {"no", kLose}}),           // settles x1 with its last leg
      settle("m4", {{"yes", kLose}, {"no", kWin}}),
      resettle("m2", {{"yes", kVoid}, {"no", kWin}}),
      complete("w-pending", "gw-10"),
      complete("w-all", "gw-11"),
  };
  for (int64_t at : {kT0 + 2 * kDayMs, kT0}) {
    b.at(at);
    restored.at(at);
    for (const Command& c : more) {
      Outcome x = b.apply(c);
      Outcome y = restored.apply(c);
      EXPECT_EQ(x.code, y.code);
      EXPECT_EQ(x.duplicate, y.duplicate);
      EXPECT_EQ(x.ref, y.ref);
      EXPECT_EQ(x.count, y.count);
      ASSERT_EQ(restored.digest(), b.digest());
    }
  }
}

TEST(Snapshot, TheDigestIsDeterministicAndSeesEveryChange) {
  Book a, b;
  rich(a);
  rich(b);
  EXPECT_EQ(a.digest(), b.digest());
  EXPECT_EQ(encode_state(a.s()), encode_state(b.s()));
  const std::string d = a.digest();
  ASSERT_EQ(d.size(), 32u);
  EXPECT_EQ(d.find_first_not_of("0123456789abcdef"), std::string::npos) << d;
  EXPECT_EQ(digest_of_encoding(encode_state(a.s())), d);

  ASSERT_TRUE(b.ok(deposit("one-more", "alice", 1)));
  EXPECT_NE(b.digest(), d);
  Book c;
  rich(c);
  c.at(c.stamp_ms + 1);  // only time and position moved
  EXPECT_NE(c.digest(), d);
}

TEST(Snapshot, AnEmptyStateRoundTrips) {
  State empty;
  const std::string bytes = encode_state(empty);
  DecodedState d = decode_state(bytes);
  ASSERT_TRUE(d.state != nullptr) << d.error;
  EXPECT_EQ(encode_state(*d.state), bytes);
}

TEST(DecodeState, RefusesBadMagicVersionAndEveryTruncation) {
  Book b;
  rich(b);
  const std::string bytes = encode_state(b.s());
  std::string magic = bytes;
  magic[0] ^= 1;
  EXPECT_NE(decode_state(magic).error.find("magic"), std::string::npos);
  std::string version = bytes;
  version[4] = 2;
  DecodedState v = decode_state(version);
  EXPECT_TRUE(v.state == nullptr);
  EXPECT_NE(v.error.find("version"), std::string::npos) << v.error;
  // The trailing sections are optional, so a cut exactly before one leaves
  // a valid, smaller state: it must then be canonical (the bytes it was
  // decoded from). A cut file is refused by its header's length and
  // checksum (SealedSnapshot tests).
  int section_boundaries = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::string_view prefix = std::string_view(bytes).substr(0, n);
    DecodedState d = decode_state(prefix);
    if (d.state != nullptr) {
      ASSERT_EQ(encode_state(*d.state), prefix) << n;
      ++section_boundaries;
      continue;
    }
    ASSERT_FALSE(d.error.empty()) << n;
  }
  EXPECT_LE(section_boundaries, 3);  // before sections 2, 3 and 4
  EXPECT_TRUE(decode_state(bytes + '\0').state == nullptr);
}

TEST(DecodeState, RefusesDuplicateAndInvalidIds) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("acc1")));
  ASSERT_TRUE(b.ok(open_account("acc2")));
  const std::string bytes = encode_state(b.s());
  const size_t at = bytes.find("acc2");
  ASSERT_NE(at, std::string::npos);
  std::string dup = bytes;
  dup[at + 3] = '1';
  DecodedState d = decode_state(dup);
  EXPECT_TRUE(d.state == nullptr);
  EXPECT_NE(d.error.find("duplicate id"), std::string::npos) << d.error;
  std::string bad = bytes;
  bad[at + 3] = ' ';
  d = decode_state(bad);
  EXPECT_TRUE(d.state == nullptr);
  EXPECT_NE(d.error.find("invalid id"), std::string::npos) << d.error;
}

// Whatever the damage, decode_state either refuses it or yields a state
// that encodes back to exactly the damaged bytes (it never "repairs"
// anything silently, and it never crashes).
::testing::AssertionResult refused_or_canonical(std::string_view bytes) {
  DecodedState d = decode_state(bytes);
  if (d.state == nullptr) {
    if (d.error.empty()) return ::testing::AssertionFailure() << "refused without a reason";
    return ::testing::AssertionSuccess();
  }
  if (encode_state(*d.state) != bytes) {
    return ::testing::AssertionFailure() << "accepted, but re-encodes to other bytes";
  }
  return ::testing::AssertionSuccess();
}

TEST(DecodeState, EveryFlippedByteIsRefusedOrCanonical) {
  Book b;
  rich(b);
  const std::string bytes = encode_state(b.s());
  // Every byte, each with a low and a high bit flipped (every bit of every
  // byte costs 8 decodes a byte for little more).
  for (size_t byte = 0; byte < bytes.size(); ++byte) {
    for (int bit : {static_cast<int>(byte % 4), 4 + static_cast<int>(byte % 4)}) {
      std::string bad = bytes;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      ASSERT_TRUE(refused_or_canonical(bad)) << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(DecodeState, RandomMutationsAreRefusedOrCanonical) {
  Book b;
  rich(b);
  const std::string good = encode_state(b.s());
  Bytes rnd(4);
  for (int iter = 0; iter < 20'000; ++iter) {
    std::string bytes = good;
    const int edits = 1 + static_cast<int>(rnd.below(4));
    for (int e = 0; e < edits; ++e) {
      size_t at = rnd.below(bytes.size());
      switch (rnd.below(5)) {
        case 0: bytes[at] = static_cast<char>(rnd.next()); break;
        case 1: bytes.erase(at, 1 + rnd.below(8)); break;
        case 2: bytes.insert(at, rnd.random(1 + rnd.below(8))); break;
        case 3: bytes[at] = static_cast<char>(rnd.below(4)); break;  // small counts and flags
        default:  // copy a run of bytes from elsewhere (duplicate rows, ids)
          size_t from = rnd.below(bytes.size());
          size_t n = 1 + rnd.below(16);
          std::string run = bytes.substr(from, n);
          bytes.replace(at, std::min(n, bytes.size() - at), run);
          break;
      }
      if (bytes.empty()) bytes = good;
    }
    ASSERT_TRUE(refused_or_canonical(bytes)) << "iteration " << iter;
  }
}

TEST(DecodeState, RandomBytesAreRefused) {
  Bytes rnd(5);
  for (int iter = 0; iter < 5'000; ++iter) {
    std::string bytes = rnd.random(rnd.below(300));
    if (iter % 2 == 0 && bytes.size() >= 5) {
      std::string head;
      Writer(head).u32(kSnapshotMagic);
      head.push_back(static_cast<char>(kSnapshotVersion));
      bytes.replace(0, head.size(), head);
    }
    ASSERT_TRUE(refused_or_canonical(bytes)) << iter;
  }
}

TEST(SealedSnapshot, RoundTrips) {
  Book b;
  rich(b);
  const std::string state = encode_state(b.s());
  const std::string file = seal_snapshot(state, b.s().applied.value);
  ASSERT_GE(file.size(), kSnapshotFileHeaderBytes);
  OpenedSnapshot o = open_snapshot(file);
  ASSERT_TRUE(o.error.empty()) << o.error;
  EXPECT_EQ(o.applied_index, b.s().applied.value);
  EXPECT_TRUE(o.encoded_state == state);
  DecodedState d = decode_state(o.encoded_state);
  ASSERT_TRUE(d.state != nullptr) << d.error;
  EXPECT_EQ(state_digest(*d.state), b.digest());

  OpenedSnapshot empty = open_snapshot(seal_snapshot("", 0));
  EXPECT_TRUE(empty.error.empty()) << empty.error;
  EXPECT_TRUE(empty.encoded_state.empty());
}

TEST(SealedSnapshot, RefusesAFlippedBitAnywhere) {
  Book b;
  rich(b);
  const std::string file = seal_snapshot(encode_state(b.s()), b.s().applied.value);
  for (size_t byte = 0; byte < file.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = file;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      OpenedSnapshot o = open_snapshot(bad);
      ASSERT_FALSE(o.error.empty()) << "byte " << byte << " bit " << bit << " of " << file.size();
      ASSERT_TRUE(o.encoded_state.empty());
    }
  }
}

TEST(SealedSnapshot, RefusesTruncationTrailingBytesAndOtherFiles) {
  Book b;
  rich(b);
  const std::string file = seal_snapshot(encode_state(b.s()), 42);
  for (size_t n = 0; n < file.size(); ++n) {
    OpenedSnapshot o = open_snapshot(std::string_view(file).substr(0, n));
    ASSERT_FALSE(o.error.empty()) << n;
  }
  EXPECT_FALSE(open_snapshot(file + "x").error.empty());
  EXPECT_FALSE(open_snapshot(file + file).error.empty());
  EXPECT_FALSE(open_snapshot(encode_state(b.s())).error.empty());  // not sealed
  std::string version = file;
  version[4] = 2;
  EXPECT_NE(open_snapshot(version).error.find("version"), std::string::npos);
  Bytes rnd(6);
  for (int iter = 0; iter < 2'000; ++iter) {
    std::string junk = rnd.random(rnd.below(200));
    if (junk.size() >= 5 && iter % 2 == 0) {
      junk.replace(0, 5, file.substr(0, 5));
    }
    ASSERT_FALSE(open_snapshot(junk).error.empty()) << iter;
  }
}

// ---- request_id on trader commands (trailing, optional) --------------------------

TEST(CommandCodec, RequestIdIsAnOptionalTrailingFieldOfTraderCommands) {
  ChangeMarketStatus status{"m", MarketAction::suspend, "goal", ""};
  SettleMarket results = settle("m", {{"s", kWin}});
  UpdatePrices priced = prices("m", {{"s", 2000}});
  for (Command without : std::vector<Command>{status, results, priced}) {
    Command with = without;
    std::visit([](auto& c) {
      if constexpr (requires { c.request_id; }) c.request_id = "req-1";
    }, with);
    const std::string a = encoded(without);
    const std::string b = encoded(with);
    // Without one, the bytes are what they were before request_id existed.
    EXPECT_EQ(b.size(), a.size() + 2 + 5);
    EXPECT_EQ(b.substr(5, a.size() - 5), a.substr(5));
    size_t pos = 0;
    auto back = decode_command(b, &pos);
    ASSERT_TRUE(back);
    EXPECT_EQ(encoded(*back), b);
    EXPECT_EQ(domain::fingerprint(*back), domain::fingerprint(without)) << "the id is not part of the body";
    // An empty one is never written, so it is refused (one encoding per command).
    std::string empty = a + std::string(2, '\0');
    uint32_t len = static_cast<uint32_t>(empty.size() - 5);
    for (int k = 0; k < 4; ++k) empty[1 + k] = static_cast<char>((len >> (8 * k)) & 0xFF);
    pos = 0;
    EXPECT_FALSE(decode_command(empty, &pos));
  }
}

TEST(Snapshot, KeepsTheRequestIdsOfTraderCommands) {
  Book b;
  b.standard();
  ChangeMarketStatus s = suspend("m1");
  s.request_id = "trader-7";
  ASSERT_TRUE(b.ok(s));
  const std::string bytes = encode_state(b.s());
  DecodedState d = decode_state(bytes);
  ASSERT_TRUE(d.state) << d.error;
  ASSERT_EQ(d.state->request_ids.size(), 1u);
  EXPECT_EQ(d.state->request_ids.begin()->first, "trader-7");
  EXPECT_EQ(encode_state(*d.state), bytes);
  // A retry against the restored state answers as the first time.
  StateMachine m;
  m.reset(std::move(d.state));
  m.begin_batch(LogIndex{b.s().applied.value + 1}, TimeMs{kT0});
  Outcome again = m.apply(s);
  EXPECT_TRUE(again.ok());
  EXPECT_TRUE(again.duplicate);
  // Trailing bytes after the section are still refused.
  EXPECT_FALSE(decode_state(bytes + "x").state);
}

}  // namespace
}  // namespace betcore::codec
