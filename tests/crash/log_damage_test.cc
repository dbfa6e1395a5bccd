// Drills on a damaged file log (docs/log-format.md, "Recovery"): a node is
// SIGKILLed, its newest segment damaged on disk, and it is restarted.
//
//   torn tail           -> starts, cuts the incomplete record, says so; the
//                          last batch is gone, everything before is there.
//   corrupt last record -> refuses (files untouched) unless
//                          --truncate-corrupt-tail, which drops that batch.
//   damage in the middle-> refuses, even with --truncate-corrupt-tail.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include <fmt/format.h>

#include "crash/log_drill.h"

namespace betcore::crash {
namespace {

constexpr int kDeposits = 12;              // records 2..13 after the account at 1
constexpr int kRefusalTimeoutMs = 15'000;  // a refusal happens before any serving

// After a refused start: it exited non-zero, was never ready (its listener
// answers 503 while it opens), replayed nothing, and changed no file of the log.
void expect_refused(NodeRunner& node, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& files_before, const fs::path& log_dir) {
  bool served = false;
  std::optional<test::ExitStatus> exit = node.start_expecting_exit(args, kRefusalTimeoutMs, served);
  ASSERT_TRUE(exit.has_value()) << "the node did not refuse to start; log:\n" << node.last_log();
  EXPECT_TRUE(exit->exited && exit->code != 0) << exit->describe() << "\n" << node.last_log();
  EXPECT_FALSE(served) << "it was ready before exiting";
  const std::string log = node.last_log();
  EXPECT_EQ(log.find("ready on"), std::string::npos) << log;
  EXPECT_EQ(log.find("replayed"), std::string::npos) << "it applied the log:\n" << log;
  EXPECT_TRUE(read_tree(log_dir) == files_before) << "a refused start changed the log files";
}

// --- torn tail ---------------------------------------------------------------

struct TornCase {
  const char* name;
  // How many bytes to cut off the end of the file, given its last record.
  uint64_t (*chop_bytes)(const LogRecord& last);
};
void PrintTo(const TornCase& c, std::ostream* os) { *os << c.name; }

class TornTail : public LogDrill, public ::testing::WithParamInterface<TornCase> {};

TEST_P(TornTail, StartsWithoutTheLastBatchAndKeepsWorking) {
  ASSERT_NO_FATAL_FAILURE(write_history(kDeposits));
  node_->kill9();
  const fs::path segment = newest_segment();
  const std::vector<LogRecord> records = read_records(segment);
  ASSERT_EQ(records.size(), kDeposits + 1u);
  const LogRecord last = records.back();
  ASSERT_EQ(last.position, deposits_.back().index);
  const uint64_t chopped = GetParam().chop_bytes(last);
  chop(segment, chopped);

  std::string why;
  ASSERT_TRUE(node_->start(why)) << why;
  const std::string log = node_->last_log();
  EXPECT_NE(log.find(fmt::format("{} ended with an incomplete record for position {}",
                                 segment.string(), last.position)),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(fmt::format("cut {} bytes at offset {}", last.bytes() - chopped, last.offset)),
            std::string::npos)
      << log;
  EXPECT_EQ(fs::file_size(segment), last.offset);
  EXPECT_EQ(read_records(segment).size(), kDeposits + 0u);

  JsonClient client(node_->port());
  EXPECT_EQ(log_head(client), last.position - 1);
  // The last batch is gone.
  EXPECT_EQ(balance(client), sum_of_first(kDeposits - 1));
  // Its append never returned, so it was never acknowledged: sent again, the
  // deposit is credited now, at the position the torn record had.
  Reply again = client.post("/v1/deposits", deposits_.back().body, tokens_.payments);
  ASSERT_EQ(again.status, 201) << again.describe();
  EXPECT_EQ(again.json.value("index", uint64_t{0}), last.position) << again.describe();
  EXPECT_EQ(again.json.value("balance", int64_t{-1}), sum_of_first(kDeposits)) << again.describe();
  deposits_.back().index = last.position;
  ASSERT_NO_FATAL_FAILURE(deposit_one(client));
  EXPECT_EQ(deposits_.back().index, last.position + 1);
  // Everything before it is there, once.
  ASSERT_NO_FATAL_FAILURE(expect_first_deposits_once(client, deposits_.size()));
  ASSERT_NO_FATAL_FAILURE(expect_ledger_balanced(client));
  const uint64_t head = log_head(client);

  // The new writes survive another crash; the log is clean now.
  node_->kill9();
  ASSERT_TRUE(node_->start(why)) << why;
  EXPECT_NE(node_->last_log().find(fmt::format("clean, {} records in 1 segments, positions 1..{}", head, head)),
            std::string::npos)
      << node_->last_log();
  JsonClient after(node_->port());
  EXPECT_EQ(balance(after), sum_of_first(deposits_.size()));
  ASSERT_NO_FATAL_FAILURE(expect_first_deposits_once(after, deposits_.size()));
  ASSERT_NO_FATAL_FAILURE(expect_ledger_balanced(after));
  EXPECT_TRUE(node_->stop().success());
}

INSTANTIATE_TEST_SUITE_P(
    Cuts, TornTail,
    ::testing::Values(
        TornCase{"few_payload_bytes", [](const LogRecord&) -> uint64_t { return 3; }},
        TornCase{"whole_payload", [](const LogRecord& r) -> uint64_t { return r.payload_bytes; }},
        TornCase{"into_header",
                 [](const LogRecord& r) -> uint64_t { return r.payload_bytes + kRecordHeaderBytes - 10; }},
        TornCase{"all_but_one_header_byte", [](const LogRecord& r) -> uint64_t { return r.bytes() - 1; }}),
    [](const ::testing::TestParamInfo<TornCase>& info) { return std::string(info.param.name); });

// --- corrupt last record -------------------------------------------------------

struct DamageCase {
  const char* name;
  void (*damage)(const fs::path& segment, const LogRecord& record);
};
void PrintTo(const DamageCase& c, std::ostream* os) { *os << c.name; }

class CorruptTail : public LogDrill, public ::testing::WithParamInterface<DamageCase> {};

TEST_P(CorruptTail, RefusesUntilToldToDropExactlyThatBatch) {
  ASSERT_NO_FATAL_FAILURE(write_history(kDeposits));
  node_->kill9();
  const fs::path segment = newest_segment();
  const std::vector<LogRecord> records = read_records(segment);
  ASSERT_EQ(records.size(), kDeposits + 1u);
  const LogRecord last = records.back();
  GetParam().damage(segment, last);
  const auto damaged = read_tree(log_dir());

  ASSERT_NO_FATAL_FAILURE(expect_refused(*node_, {}, damaged, log_dir()));
  const std::string refusal = node_->last_log();
  EXPECT_NE(refusal.find("cannot start"), std::string::npos) << refusal;
  EXPECT_NE(refusal.find(segment.string()), std::string::npos) << refusal;
  EXPECT_NE(refusal.find(fmt::format("byte offset {} (position {}", last.offset, last.position)),
            std::string::npos)
      << refusal;
  EXPECT_NE(refusal.find("--truncate-corrupt-tail"), std::string::npos) << refusal;
  // Refusing is stable: a second try refuses alike.
  ASSERT_NO_FATAL_FAILURE(expect_refused(*node_, {}, damaged, log_dir()));

  std::string why;
  ASSERT_TRUE(node_->start(why, {"--truncate-corrupt-tail"})) << why;
  const std::string log = node_->last_log();
  EXPECT_NE(log.find(fmt::format("ended with a damaged record for position {}", last.position)),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(fmt::format("cut {} bytes at offset {}: that batch is lost", last.bytes(),
                                 last.offset)),
            std::string::npos)
      << log;
  EXPECT_EQ(fs::file_size(segment), last.offset);

  JsonClient client(node_->port());
  EXPECT_EQ(log_head(client), last.position - 1);
  EXPECT_EQ(balance(client), sum_of_first(kDeposits - 1));
  // Exactly that batch is gone: its deposit is not known any more, and sent
  // again it is credited at the position the damaged record had.
  Reply again = client.post("/v1/deposits", deposits_.back().body, tokens_.payments);
  ASSERT_EQ(again.status, 201) << again.describe();
  EXPECT_EQ(again.json.value("index", uint64_t{0}), last.position) << again.describe();
  EXPECT_EQ(again.json.value("balance", int64_t{-1}), sum_of_first(kDeposits)) << again.describe();
  deposits_.back().index = last.position;
  ASSERT_NO_FATAL_FAILURE(expect_first_deposits_once(client, kDeposits));
  ASSERT_NO_FATAL_FAILURE(expect_ledger_balanced(client));
  const uint64_t head = log_head(client);

  // The flag was for one start: the next one, without it, is clean.
  EXPECT_TRUE(node_->stop().success());
  ASSERT_TRUE(node_->start(why)) << why;
  EXPECT_NE(node_->last_log().find(fmt::format("clean, {} records in 1 segments, positions 1..{}", head, head)),
            std::string::npos)
      << node_->last_log();
  JsonClient after(node_->port());
  EXPECT_EQ(balance(after), sum_of_first(kDeposits));
  ASSERT_NO_FATAL_FAILURE(expect_first_deposits_once(after, kDeposits));
  EXPECT_TRUE(node_->stop().success());
}

INSTANTIATE_TEST_SUITE_P(
    Damage, CorruptTail,
    ::testing::Values(
        DamageCase{"payload_bit",
                   [](const fs::path& s, const LogRecord& r) {
                     flip_bits(s, r.offset + kPayloadOffset + r.payload_bytes / 2, 0x10);
                   }},
        DamageCase{"last_payload_byte",
                   [](const fs::path& s, const LogRecord& r) { flip_bits(s, r.end() - 1, 0x01); }},
        DamageCase{"magic", [](const fs::path& s, const LogRecord& r) { flip_bits(s, r.offset + 1, 0x01); }},
        DamageCase{"position_field",
                   [](const fs::path& s, const LogRecord& r) { flip_bits(s, r.offset + 8, 0x04); }},
        DamageCase{"checksum_field",
                   [](const fs::path& s, const LogRecord& r) { flip_bits(s, r.offset + 19, 0x80); }},
        // A damaged length makes a whole record look torn (or too short);
        // rule 3 sees through it with the length the file implies.
        DamageCase{"length_field_longer",
                   [](const fs::path& s, const LogRecord& r) {
                     write_u32(s, r.offset + kLengthFieldOffset, r.payload_bytes + 1000);
                   }},
        DamageCase{"length_field_shorter",
                   [](const fs::path& s, const LogRecord& r) {
                     write_u32(s, r.offset + kLengthFieldOffset, r.payload_bytes - 5);
                   }}),
    [](const ::testing::TestParamInfo<DamageCase>& info) { return std::string(info.param.name); });

// --- damage in the middle ------------------------------------------------------

struct MiddleCase {
  const char* name;
  // Which record (an index into the segment's records) and how.
  size_t (*pick)(size_t records);
  void (*damage)(const fs::path& segment, const LogRecord& record);
};
void PrintTo(const MiddleCase& c, std::ostream* os) { *os << c.name; }

class MiddleCorruption : public LogDrill, public ::testing::WithParamInterface<MiddleCase> {};

TEST_P(MiddleCorruption, RefusesEvenWithTruncateCorruptTail) {
  ASSERT_NO_FATAL_FAILURE(write_history(kDeposits));
  node_->kill9();
  const fs::path segment = newest_segment();
  const std::vector<LogRecord> records = read_records(segment);
  ASSERT_EQ(records.size(), kDeposits + 1u);
  const LogRecord victim = records.at(GetParam().pick(records.size()));
  ASSERT_LT(victim.position, records.back().position) << "not in the middle";
  GetParam().damage(segment, victim);
  const auto damaged = read_tree(log_dir());

  ASSERT_NO_FATAL_FAILURE(expect_refused(*node_, {}, damaged, log_dir()));
  const std::string refusal = node_->last_log();
  EXPECT_NE(refusal.find(segment.string()), std::string::npos) << refusal;
  EXPECT_NE(refusal.find(fmt::format("byte offset {} (the record for position {})", victim.offset,
                                     victim.position)),
            std::string::npos)
      << refusal;
  EXPECT_NE(refusal.find("restore"), std::string::npos) << "no next step given:\n" << refusal;
  // The flag that drops a corrupt *last* record must not drop this one (nor
  // the acknowledged batches after it).
  ASSERT_NO_FATAL_FAILURE(expect_refused(*node_, {"--truncate-corrupt-tail"}, damaged, log_dir()));
  EXPECT_NE(node_->last_log().find(segment.string()), std::string::npos) << node_->last_log();
  // Nothing was applied: no snapshot was written either.
  EXPECT_TRUE(snapshot_files(data_dir_ / "snapshots").empty());
}

INSTANTIATE_TEST_SUITE_P(
    Damage, MiddleCorruption,
    ::testing::Values(
        MiddleCase{"first_record_payload", [](size_t) -> size_t { return 0; },
                   [](const fs::path& s, const LogRecord& r) {
                     flip_bits(s, r.offset + kPayloadOffset + 2, 0x01);
                   }},
        MiddleCase{"middle_record_payload", [](size_t n) -> size_t { return n / 2; },
                   [](const fs::path& s, const LogRecord& r) {
                     flip_bits(s, r.offset + kPayloadOffset + r.payload_bytes / 2, 0x20);
                   }},
        MiddleCase{"middle_record_magic", [](size_t n) -> size_t { return n / 2; },
                   [](const fs::path& s, const LogRecord& r) { flip_bits(s, r.offset, 0xff); }},
        MiddleCase{"penultimate_record_payload", [](size_t n) -> size_t { return n - 2; },
                   [](const fs::path& s, const LogRecord& r) { flip_bits(s, r.end() - 1, 0x40); }},
        MiddleCase{"penultimate_record_length",
                   [](size_t n) -> size_t { return n - 2; },
                   [](const fs::path& s, const LogRecord& r) {
                     write_u32(s, r.offset + kLengthFieldOffset, r.payload_bytes + 1);
                   }}),
    [](const ::testing::TestParamInfo<MiddleCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace betcore::crash
