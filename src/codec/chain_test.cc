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

std::string reseal(std::string bytes) {
  bytes.resize(bytes.size() - kBatchChecksumBytes);
  std::string sum;
  Writer(sum).u64(XXH3_64bits(bytes.data(), bytes.size()));
  return bytes + sum;
}

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

TEST(BatchV2, ABatchWithoutAnchorsOrActorsIsStillVersionOne) {
  const std::string bytes = encode_batch(BatchHeader{"n1", 1, kT0}, records(two_commands()));
  EXPECT_EQ(bytes[4], 1);
  BatchHeader anchors_only{"n1", 1, kT0};
  anchors_only.anchors = {ChainAnchor{3, hash_of(7)}};
  DecodedBatch d = decode_batch(encode_batch(anchors_only, records(two_commands())));
  ASSERT_EQ(d.error, BatchError::none) << d.detail;
  EXPECT_TRUE(d.header.actors.empty());
  EXPECT_TRUE(d.header.actor_of.empty());
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
  // Version 2 with neither anchors nor actors: only version 1 writes that.
  std::string v1 = encode_batch(BatchHeader{"node-2", 77, kT0}, {});
  std::string empty_v2 = v1.substr(0, v1.size() - kBatchChecksumBytes) + std::string(4, '\0') +
                         std::string(kBatchChecksumBytes, '\0');
  empty_v2[4] = 2;
  EXPECT_EQ(decode_batch(reseal(empty_v2)).error, BatchError::malformed);
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

TEST(Chain, TheSnapshotCarriesTheChainAndAnOldSnapshotLeavesItUnknown) {
  Replica r;
  for (int i = 0; i < 4; ++i) r.apply(BatchHeader{"n1", uint64_t(i), kT0});
  const std::string encoded = encode_state(r.sm.state());
  DecodedState d = decode_state(encoded);
  ASSERT_NE(d.state, nullptr) << d.error;
  EXPECT_TRUE(d.state->audit.known);
  EXPECT_EQ(d.state->audit.head, r.sm.state().audit.head);
  EXPECT_EQ(d.state->audit.recent.size(), 4u);
  EXPECT_EQ(state_digest(*d.state), state_digest(r.sm.state()));
  // The chain is in the digest: two replicas that disagree on it differ.
  StateMachine other;
  other.reset(std::move(d.state));
  other.begin_batch(LogIndex{100}, TimeMs{kT0});
  other.record_chain(100, hash_of(3));
  EXPECT_NE(state_digest(other.state()), state_digest(r.sm.state()));

  // The same state written without the chain (as before it existed).
  StateMachine plain;
  plain.begin_batch(LogIndex{1}, TimeMs{kT0});
  plain.apply(open_account("bob"));
  DecodedState old = decode_state(encode_state(plain.state()));
  ASSERT_NE(old.state, nullptr);
  EXPECT_TRUE(plain.state().audit.recent.empty());
  EXPECT_FALSE(old.state->audit.known);
  EXPECT_TRUE(check_anchors(old.state->audit, {ChainAnchor{1, hash_of(1)}}).ok);
  EXPECT_TRUE(anchors_after(old.state->audit, 0).empty());
}

}  // namespace
}  // namespace betcore::codec
