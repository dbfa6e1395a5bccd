// The audit chain (codec/chain.h) and batch version 2 (anchors, actors).
#include <gtest/gtest.h>
#include <xxhash.h>

#include <string>
#include <vector>

#include "codec/batch.h"
#include "codec/binary.h"
#include "codec/chain.h"
#include "codec/command_codec.h"
#include "codec/snapshot.h"
#include "codec/testing/reseal.h"
#include "domain/testing/fixtures.h"

namespace betcore::codec {
namespace {

using namespace domain;
using namespace domain::test;

std::vector<std::string> records(const std::vector<Command>& commands) {
  std::vector<std::string> out;
  for (const Command& c : commands) {
    out.emplace_back();
    encode_command(c, out.back());
  }
  return out;
}

std::vector<Command> two_commands() { return {open_account("alice"), deposit("dep-1", "alice", 500)}; }

ChainHash hash_of(uint8_t fill) {
  ChainHash h{};
  h.fill(fill);
  return h;
}

BatchHeader audited_header() {
  BatchHeader h{"node-2", 77, kT0};
  h.anchors = {ChainAnchor{5, hash_of(1)}, ChainAnchor{9, hash_of(2)}};
  h.actors = {Actor{"admin", "0123456789ab"}, Actor{"punter", "ba9876543210"}};
  h.actor_of = {1, 0};
  return h;
}

using codec::test::reseal;

TEST(BatchV2, AnchorsAndActorsRoundTrip) {
  const BatchHeader h = audited_header();
  const std::string bytes = encode_batch(h, records(two_commands()));
  EXPECT_EQ(bytes[4], 2);
  DecodedBatch d = decode_batch(bytes);
  ASSERT_EQ(d.error, BatchError::none) << d.detail;
  EXPECT_EQ(d.header.anchors, h.anchors);
  EXPECT_EQ(d.header.actors, h.actors);
  EXPECT_EQ(d.header.actor_of, h.actor_of);
  ASSERT_EQ(d.commands.size(), 2u);
  EXPECT_TRUE(encode_batch(d.header, records(d.commands)) == bytes);
}

TEST(BatchV2, ThisBuildWritesVersionTwoAndVersionOneOnlyOnRequest) {
  // Version 2 even without anchors or actors: where the chain begins is the
  // log's first version 2 batch, so a new log is chained from position 1.
  const std::string v2 = encode_batch(BatchHeader{"n1", 1, kT0}, records(two_commands()));
  EXPECT_EQ(v2[4], 2);
  DecodedBatch d = decode_batch(v2);
  ASSERT_EQ(d.error, BatchError::none) << d.detail;
  EXPECT_EQ(d.header.version, 2);
  EXPECT_TRUE(d.header.anchors.empty());
  EXPECT_TRUE(d.header.actors.empty());
  EXPECT_TRUE(encode_batch(d.header, records(d.commands)) == v2);
  // Version 1, as logs from before the chain hold it: read and re-encoded
  // byte for byte.
  BatchHeader old{"n1", 1, kT0};
  old.version = 1;
  const std::string v1 = encode_batch(old, records(two_commands()));
  EXPECT_EQ(v1[4], 1);
  EXPECT_EQ(v1.size() + 4, v2.size());
  d = decode_batch(v1);
  ASSERT_EQ(d.error, BatchError::none) << d.detail;
  EXPECT_EQ(d.header.version, 1);
  EXPECT_TRUE(encode_batch(d.header, records(d.commands)) == v1);
}

TEST(BatchV2, RefusesNonCanonicalOrOutOfRangeAuditFields) {
  const std::string good = encode_batch(audited_header(), records(two_commands()));
  const size_t audit_at = kBatchHeaderBytes + 2 + 6;  // after "node-2"
  // Anchors out of order: swap the two positions.
  std::string swapped = good;
  swapped[audit_at + 2] = 9;
  swapped[audit_at + 2 + 40] = 5;
  EXPECT_EQ(decode_batch(reseal(swapped)).error, BatchError::malformed);
  // A command's actor index beyond the table (the first index's low byte).
  const size_t actors_at = audit_at + 2 + 2 * 40;
  const size_t index_at = actors_at + 2 + (2 + 5 + 2 + 12) + (2 + 6 + 2 + 12);
  std::string out_of_range = good;
  out_of_range[index_at] = 2;
  DecodedBatch d = decode_batch(reseal(out_of_range));
  EXPECT_EQ(d.error, BatchError::malformed);
  EXPECT_NE(d.detail.find("actor"), std::string::npos) << d.detail;
}

// Found by the batch_codec fuzz target (fuzz/, docs/testing.md "Fuzzing"):
// a version 2 batch with one actor and no commands decoded, and its header
// broke encode_batch's contract (an actor index per command when there are
// actors), so encoding it again stopped the process on an assertion. The
// bytes are the fuzzer's input less its checksum, resealed here.
TEST(BatchV2, RefusesActorsInABatchWithoutCommands) {
  const unsigned char body[] = {
      0x42, 0x43, 0x42, 0x31, 0x02, 0x00, 0x00, 0x02, 0xe0, 0x3c, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3d, 0x3a, 0xa7, 0x00, 0xf6, 0x09,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
      0x06, 0x00, 0x6f, 0x65, 0x64, 0x6e, 0x2d, 0x01,
  };
  const std::string bytes = reseal(std::string(reinterpret_cast<const char*>(body), sizeof body) +
                                   std::string(kBatchChecksumBytes, '\0'));
  const DecodedBatch d = decode_batch(bytes);
  EXPECT_EQ(d.error, BatchError::malformed) << d.detail;
  EXPECT_NE(d.detail.find("without commands"), std::string::npos) << d.detail;
}

// Found by the batch_codec fuzz target: a batch whose node id was longer
// than encode_batch accepts (kNodeIdMax) decoded, and encoding its header
// again stopped the process. The decoder now refuses it; 64 bytes still pass.
TEST(BatchV2, RefusesANodeIdLongerThanTheMaximum) {
  const std::string longest(kNodeIdMax, 'n');
  const std::string good = encode_batch(BatchHeader{longest, 1, kT0}, records(two_commands()));
  ASSERT_EQ(decode_batch(good).error, BatchError::none);
  std::string longer = good;
  longer[kBatchHeaderBytes] = static_cast<char>(kNodeIdMax + 1);  // the length's low byte
  longer.insert(kBatchHeaderBytes + 2, "n");
  const DecodedBatch d = decode_batch(reseal(longer));
  EXPECT_EQ(d.error, BatchError::malformed);
  EXPECT_NE(d.detail.find("node id"), std::string::npos) << d.detail;
}

TEST(Chain, EachValueDependsOnThePreviousThePositionAndEveryByte) {
  const ChainHash zero{};
  const ChainHash a = chain_next(zero, 1, "batch");
  EXPECT_EQ(a, chain_next(zero, 1, "batch"));
  EXPECT_NE(a, chain_next(zero, 2, "batch"));
  EXPECT_NE(a, chain_next(zero, 1, "batcH"));
  EXPECT_NE(a, chain_next(hash_of(1), 1, "batch"));
  EXPECT_EQ(chain_hex(zero), std::string(64, '0'));
}

// A state machine that has applied `n` batches at positions 2, 4, 6, ...
struct Replica {
  StateMachine sm;
  std::vector<std::string> batches;
  void apply(const BatchHeader& h) {
    const uint64_t pos = (batches.size() + 1) * 2;
    batches.push_back(encode_batch(h, records({open_account("acct-" + std::to_string(pos))})));
    sm.begin_batch(LogIndex{pos}, TimeMs{kT0});
    DecodedBatch d = decode_batch(batches.back());
    AnchorCheck c = chain_entry(sm, pos, batches.back(), d);
    ASSERT_TRUE(c.ok) << c.detail;
    for (const Command& cmd : d.commands) sm.apply(cmd);
  }
};

TEST(Chain, AReplicaChecksAnchorsAgainstItsWindowAndRefusesADisagreement) {
  Replica r;
  for (int i = 0; i < 5; ++i) r.apply(BatchHeader{"n1", uint64_t(i), kT0});
  const AuditChain& chain = r.sm.state().audit;
  ASSERT_EQ(chain.recent.size(), 5u);
  EXPECT_EQ(chain.recent.back().position, 10u);
  EXPECT_EQ(chain.head, chain.recent.back().chain);

  std::vector<ChainAnchor> good = anchors_after(chain, 4);
  ASSERT_EQ(good.size(), 3u);  // positions 6, 8, 10
  EXPECT_EQ(good.front().position, 6u);
  AnchorCheck ok = check_anchors(chain, good);
  EXPECT_TRUE(ok.ok) << ok.detail;
  EXPECT_EQ(ok.checked, 3u);

  std::vector<ChainAnchor> altered = good;
  altered[1].chain[0] ^= 1;
  AnchorCheck bad = check_anchors(chain, altered);
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.detail.find("position 8"), std::string::npos) << bad.detail;
  // A position the log does not hold (odd), and one ahead of it.
  EXPECT_FALSE(check_anchors(chain, {ChainAnchor{7, chain.head}}).ok);
  EXPECT_FALSE(check_anchors(chain, {ChainAnchor{12, chain.head}}).ok);

  // A refused batch's commands are not applied, but the chain moves over it.
  BatchHeader lying{"n2", 9, kT0};
  lying.anchors = altered;
  const std::string bytes = encode_batch(lying, records({open_account("mallory")}));
  r.sm.begin_batch(LogIndex{12}, TimeMs{kT0});
  const ChainHash before = chain.head;
  AnchorCheck c = chain_entry(r.sm, 12, bytes, decode_batch(bytes));
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(r.sm.state().audit.head, chain_next(before, 12, bytes));
}

TEST(Chain, AnchorsOlderThanTheWindowAreNotChecked) {
  Replica r;
  for (size_t i = 0; i < AuditChain::kWindow + 3; ++i) r.apply(BatchHeader{"n1", i, kT0});
  const AuditChain& chain = r.sm.state().audit;
  EXPECT_EQ(chain.recent.size(), AuditChain::kWindow);
  AnchorCheck c = check_anchors(chain, {ChainAnchor{2, hash_of(9)}});
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.unchecked, 1u);
  EXPECT_EQ(anchors_after(chain, 0).size(), kBatchAnchorsMax);  // the newest
  EXPECT_EQ(anchors_after(chain, 0).back().position, chain.recent.back().position);
}

TEST(Chain, TheSnapshotCarriesTheChain) {
  Replica r;
  for (int i = 0; i < 4; ++i) r.apply(BatchHeader{"n1", uint64_t(i), kT0});
  const std::string encoded = encode_state(r.sm.state());
  DecodedState d = decode_state(encoded);
  ASSERT_NE(d.state, nullptr) << d.error;
  EXPECT_TRUE(d.state->audit.begun());
  EXPECT_EQ(d.state->audit.head, r.sm.state().audit.head);
  EXPECT_EQ(d.state->audit.recent.size(), 4u);
  EXPECT_EQ(state_digest(*d.state), state_digest(r.sm.state()));
  // The chain is in the digest: two replicas that disagree on it differ.
  StateMachine other;
  other.reset(std::move(d.state));
  other.begin_batch(LogIndex{100}, TimeMs{kT0});
  other.record_chain(100, hash_of(3));
  EXPECT_NE(state_digest(other.state()), state_digest(r.sm.state()));
}

// One log entry, applied as every replica applies it (node/applier.cc).
AnchorCheck apply_entry(StateMachine& sm, uint64_t pos, const std::string& bytes) {
  const DecodedBatch d = decode_batch(bytes);
  sm.begin_batch(LogIndex{pos}, TimeMs{kT0});
  const AnchorCheck c = chain_entry(sm, pos, bytes, d);
  if (c.ok && d.error == BatchError::none) {
    for (const Command& cmd : d.commands) sm.apply(cmd);
  }
  return c;
}

std::string batch_at(uint8_t version, uint64_t seq, const std::vector<ChainAnchor>& anchors = {}) {
  BatchHeader h{"n1", seq, kT0};
  h.version = version;
  h.anchors = anchors;
  return encode_batch(h, records({open_account("acct-" + std::to_string(seq))}));
}

// Found by review: whether a replica knew the chain once depended on how it
// got its state (a replay from position 1, a snapshot from before the chain
// existed, a peer's snapshot), so after an upgrade replicas could disagree
// on the digest or on refusing a batch. The chain now begins at the log's
// first version 2 batch, a fact of the log: every replica agrees.
TEST(Chain, ItBeginsAtTheFirstVersionTwoBatchHoweverAReplicaGotItsState) {
  // A log from before the chain (version 1 at 1-3), then this build's.
  std::vector<std::string> log = {batch_at(1, 1), batch_at(1, 2), batch_at(1, 3)};
  StateMachine replayed;
  for (size_t i = 0; i < log.size(); ++i) ASSERT_TRUE(apply_entry(replayed, i + 1, log[i]).ok);
  EXPECT_FALSE(replayed.state().audit.begun());
  // A replica started from a snapshot written at position 2, before the chain.
  StateMachine from_snapshot;
  {
    StateMachine at2;
    ASSERT_TRUE(apply_entry(at2, 1, log[0]).ok);
    ASSERT_TRUE(apply_entry(at2, 2, log[1]).ok);
    DecodedState d = decode_state(encode_state(at2.state()));
    ASSERT_NE(d.state, nullptr) << d.error;
    from_snapshot.reset(std::move(d.state));
    ASSERT_TRUE(apply_entry(from_snapshot, 3, log[2]).ok);
  }
  EXPECT_EQ(state_digest(from_snapshot.state()), state_digest(replayed.state()));

  // The first version 2 batch begins the chain from zeros, on both.
  log.push_back(batch_at(2, 4));
  ASSERT_TRUE(apply_entry(replayed, 4, log[3]).ok);
  ASSERT_TRUE(apply_entry(from_snapshot, 4, log[3]).ok);
  EXPECT_EQ(replayed.state().audit.head, chain_next(ChainHash{}, 4, log[3]));
  EXPECT_EQ(replayed.state().audit.recent.size(), 1u);
  // Later batches anchor it; both replicas check the anchors alike.
  log.push_back(batch_at(2, 5, anchors_after(replayed.state().audit, 0)));
  const AnchorCheck a = apply_entry(replayed, 5, log[4]);
  const AnchorCheck b = apply_entry(from_snapshot, 5, log[4]);
  EXPECT_TRUE(a.ok && b.ok) << a.detail << b.detail;
  EXPECT_EQ(a.checked, 1u);
  EXPECT_EQ(b.checked, 1u);
  EXPECT_EQ(state_digest(from_snapshot.state()), state_digest(replayed.state()));
  // A version 1 batch after the chain began is chained like any entry.
  log.push_back(batch_at(1, 6));
  ASSERT_TRUE(apply_entry(replayed, 6, log[5]).ok);
  ASSERT_TRUE(apply_entry(from_snapshot, 6, log[5]).ok);
  EXPECT_EQ(replayed.state().audit.recent.back().position, 6u);

  // A forged anchor, and one naming a position before the chain began:
  // both replicas refuse them, with the same words.
  std::vector<ChainAnchor> forged = anchors_after(replayed.state().audit, 0);
  forged.front().chain[0] ^= 1;
  for (const std::vector<ChainAnchor>& anchors :
       {forged, std::vector<ChainAnchor>{ChainAnchor{2, ChainHash{}}}}) {
    const std::string bad = batch_at(2, 7, anchors);
    StateMachine x, y;
    x.reset(decode_state(encode_state(replayed.state())).state);
    y.reset(decode_state(encode_state(from_snapshot.state())).state);
    const AnchorCheck cx = apply_entry(x, 7, bad);
    const AnchorCheck cy = apply_entry(y, 7, bad);
    EXPECT_FALSE(cx.ok);
    EXPECT_FALSE(cy.ok);
    EXPECT_EQ(cx.detail, cy.detail);
    EXPECT_EQ(state_digest(x.state()), state_digest(y.state()));
  }
}

}  // namespace
}  // namespace betcore::codec
