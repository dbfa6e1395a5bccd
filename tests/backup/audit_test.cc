// The audit trail with real processes (docs/audit.md): a node takes writes
// from several tokens; `betcore audit export` says who did what, when, and
// with what result; `betcore audit verify` passes on the intact history and
// names the exact position of one edited byte, in a data directory and in
// an archive, whether or not the editor also fixed every checksum; and a
// node started on a forged log refuses the batches after the edit.
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "backup/archive.h"
#include "backup/archive_file.h"
#include "codec/batch.h"
#include "log/entry_frames.h"
#include "log/file/record.h"
#include "support/support.h"
#include "tools/http_client.h"

namespace betcore::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// The audit's token id of `token`: the first 12 hex digits of its SHA-256.
std::string token_id(const std::string& token) {
  unsigned char h[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), h);
  char hex[13];
  for (int i = 0; i < 6; ++i) std::snprintf(hex + 2 * i, 3, "%02x", h[i]);
  return std::string(hex, 12);
}

// Rewrites a batch's trailing checksum (a forger's first step).
std::string reseal_batch(std::string b) {
  b.resize(b.size() - codec::kBatchChecksumBytes);
  const uint64_t sum = XXH3_64bits(b.data(), b.size());
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>(sum >> (8 * i)));
  return b;
}

// Where a string lies inside a batch: the byte to edit.
size_t find_in(const std::string& batch, const std::string& what) {
  const size_t at = batch.find(what);
  EXPECT_NE(at, std::string::npos) << what;
  return at;
}

// One record of a file-log segment, found by position.
struct Record {
  fs::path file;
  size_t offset = 0;  // of the header
  log::file::RecordHeader header;
  std::string payload;
};

Record find_record(const fs::path& log_dir, uint64_t position) {
  for (const auto& e : fs::directory_iterator(log_dir)) {
    const std::string bytes = slurp(e.path());
    size_t at = 0;
    while (at + log::file::kHeaderSize <= bytes.size()) {
      auto h = log::file::decode_record_header(reinterpret_cast<const unsigned char*>(bytes.data() + at));
      if (!log::file::header_is_plausible(h)) break;
      if (h.position == position) {
        return Record{e.path(), at, h, bytes.substr(at + log::file::kHeaderSize, h.payload_bytes)};
      }
      at += log::file::kHeaderSize + h.payload_bytes;
    }
  }
  ADD_FAILURE() << "no record at position " << position << " in " << log_dir;
  return {};
}

// Writes `payload` over record `r` (same length); with `fix_checksum`, as a
// forger who recomputes the record's checksum too.
void rewrite_record(const Record& r, const std::string& payload, bool fix_checksum) {
  ASSERT_EQ(payload.size(), r.payload.size());
  std::string bytes = slurp(r.file);
  if (fix_checksum) {
    unsigned char header[log::file::kHeaderSize];
    log::file::encode_record_header(r.header.position, payload, header);
    bytes.replace(r.offset, log::file::kHeaderSize, reinterpret_cast<const char*>(header), sizeof header);
  }
  bytes.replace(r.offset + log::file::kHeaderSize, payload.size(), payload);
  spit(r.file, bytes);
}

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override { tokens_ = write_tokens_file(dir_.path(), {"alice", "bob"}); }

  CommandRun betcore(const std::vector<std::string>& args) { return run_betcore(dir_.path(), args); }

  json verify(const std::vector<std::string>& source) {
    std::vector<std::string> args{"audit", "verify", "--json"};
    args.insert(args.end(), source.begin(), source.end());
    CommandRun r = betcore(args);
    json j = json::parse(tools::last_json_line(r.output), nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.output;
    if (!j.is_object()) return json::object();
    // 0: all holds and all was checked; 1: a bad position; 3: all that was
    // checked holds, but not the whole history.
    const int want = !j.value("ok", false) ? 1 : j.value("complete", false) ? 0 : 3;
    EXPECT_TRUE(r.status.exited && r.status.code == want) << r.status.describe() << "\n" << r.output;
    return j;
  }

  Process start_node(const fs::path& data, const std::string& name) {
    return start_server(
        [&](uint16_t p) {
          SpawnOptions o;
          o.program = betcore_binary().string();
          o.args = {"node", "--data", data.string(), "--listen", "127.0.0.1:" + std::to_string(p),
                    "--tokens", tokens_.file.string(), "--plain-http"};
          o.args.insert(o.args.end(), node_flags_.begin(), node_flags_.end());
          o.log_path = (dir_ / (name + ".log")).string();
          return o;
        },
        "/health/ready", port_, name);
  }

  json post(const std::string& target, const json& body, const std::string& token, int want) {
    tools::Response r = tools::HttpClient("127.0.0.1", port_).post(target, body.dump(), token);
    EXPECT_EQ(r.status, want) << target << " " << body.dump() << ": " << r.error << r.body;
    return json::parse(r.body, nullptr, false);
  }

  static json bet(const std::string& id, const std::string& account, int64_t stake) {
    return json{{"bet_id", id}, {"account_id", account}, {"stake", stake},
                {"legs", json::array({json{{"market_id", "m1"}, {"selection_id", "home"}, {"odds", "2.00"}}})}};
  }

  // A history written by five tokens, one command a batch (each write
  // waits for its answer); returns the position of each bet by id.
  std::map<std::string, uint64_t> write_history() {
    std::map<std::string, uint64_t> at;
    Process node = start_node(data_, "node");
    EXPECT_TRUE(node.started());
    for (const char* a : {"alice", "bob"}) {
      post("/v1/accounts", json{{"account_id", a}, {"currency", "EUR"}}, tokens_.admin, 201);
      post("/v1/deposits", json{{"payment_ref", std::string("dep-") + a}, {"account_id", a}, {"amount", 10'000}},
           tokens_.payments, 201);
    }
    post("/v1/events", json{{"event_id", "e1"}, {"name", "Final"}, {"starts_at", "2026-12-24T20:00:00Z"}},
         tokens_.trader, 201);
    post("/v1/markets",
         json{{"market_id", "m1"}, {"event_id", "e1"}, {"name", "Winner"},
              {"selections", json::array({json{{"selection_id", "home"}, {"name", "Home"}, {"odds", "2.00"}},
                                          json{{"selection_id", "away"}, {"name", "Away"}, {"odds", "1.80"}}})}},
         tokens_.trader, 201);
    for (int i = 0; i < 12; ++i) {
      const std::string account = i % 2 == 0 ? "alice" : "bob";
      const std::string id = "bet-" + std::to_string(i);
      json r = post("/v1/bets", bet(id, account, 100 + i), tokens_.punter(account), 201);
      at[id] = r.value("index", uint64_t{0});
    }
    // Refused by the state machine: recorded with its result.
    json refused = post("/v1/bets", bet("bet-too-big", "alice", 1'000'000), tokens_.punter("alice"), 422);
    tools::Response cluster = tools::HttpClient("127.0.0.1", port_).get("/v1/cluster", tokens_.admin);
    chain_ = json::parse(cluster.body, nullptr, false).value("audit_chain", json::object());
    node.kill(SIGTERM);
    EXPECT_TRUE(node.wait(15'000).has_value());
    return at;
  }

  // A copy of the node's data directory to damage, leaving the original whole.
  fs::path copy_of_data(const std::string& name) const {
    const fs::path copy = dir_ / name;
    fs::copy(data_, copy, fs::copy_options::recursive);
    return copy;
  }

  json chain_;  // /v1/cluster's audit_chain at the end of write_history()
  std::vector<std::string> node_flags_;  // more flags for start_node
  TempDir dir_{"betcore-audit-test"};
  TestTokens tokens_;
  fs::path data_ = dir_ / "data";
  uint16_t port_ = 0;
};

TEST_F(AuditTest, ExportSaysWhoDidWhatWhenAndWithWhatResult) {
  std::map<std::string, uint64_t> at = write_history();
  ASSERT_EQ(at.size(), 12u);
  json v = verify({"--data", data_.string()});
  EXPECT_TRUE(v.value("ok", false)) << v.dump();
  EXPECT_TRUE(v.value("complete", false)) << v.dump();
  EXPECT_EQ(v.value("chain_begins", 0), 1) << "this build writes version 2 from the log's start";
  EXPECT_GT(v.value("anchors_checked", 0), 10);

  const fs::path out = dir_ / "audit.jsonl";
  CommandRun r = betcore({"audit", "export", "--data", data_.string(), "--out", out.string()});
  ASSERT_TRUE(r.status.success()) << r.output;
  std::map<std::string, json> by_client;
  std::istringstream lines(slurp(out));
  for (std::string line; std::getline(lines, line);) {
    json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    by_client[j.value("command", "") + "/" + j.value("client_id", "")] = j;
  }
  const json& alice_bet = by_client["place_bet/bet-4"];
  EXPECT_EQ(alice_bet.value("role", ""), "punter");
  EXPECT_EQ(alice_bet.value("token_id", ""), token_id(tokens_.punter("alice")));
  EXPECT_EQ(alice_bet.value("position", uint64_t{0}), at["bet-4"]);
  EXPECT_EQ(alice_bet["fields"].value("account_id", ""), "alice");
  EXPECT_EQ(alice_bet["fields"].value("stake", 0), 104);
  EXPECT_EQ(alice_bet["result"].value("code", ""), "ok");
  EXPECT_EQ(alice_bet.value("time", "").size(), 24u) << alice_bet.dump();  // 2026-12-05T13:00:00.000Z
  const json& refused = by_client["place_bet/bet-too-big"];
  EXPECT_EQ(refused["result"].value("code", ""), "insufficient_funds") << refused.dump();
  EXPECT_EQ(by_client["create_account/alice"].value("role", ""), "admin");
  EXPECT_EQ(by_client["create_account/alice"].value("token_id", ""), token_id(tokens_.admin));
  EXPECT_EQ(by_client["deposit/dep-bob"].value("role", ""), "payments");
  EXPECT_EQ(by_client["create_market/m1"]["fields"]["selections"].size(), 2u);

  // The chain a replica published, checked against the copy on disk.
  const std::string expect =
      std::to_string(chain_.value("position", uint64_t{0})) + ":" + chain_.value("chain", "");
  EXPECT_EQ(chain_.value("position", uint64_t{0}), at["bet-11"] + 1) << chain_.dump();
  EXPECT_TRUE(verify({"--data", data_.string(), "--expect", expect}).value("ok", false));
  std::string other = expect;
  other.back() = other.back() == '0' ? '1' : '0';
  json wrong = verify({"--data", data_.string(), "--expect", other});
  EXPECT_FALSE(wrong.value("ok", true));
  EXPECT_EQ(wrong.value("first_bad_position", uint64_t{0}), at["bet-11"] + 1) << wrong.dump();

  // --from/--to: exactly that range.
  const uint64_t p = at["bet-7"];
  r = betcore({"audit", "export", "--data", data_.string(), "--from", std::to_string(p), "--to", std::to_string(p)});
  ASSERT_TRUE(r.status.success()) << r.output;
  EXPECT_NE(r.output.find("\"client_id\":\"bet-7\""), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("\"client_id\":\"bet-6\""), std::string::npos) << r.output;
  // Never over an existing file.
  const std::string before = slurp(out);
  r = betcore({"audit", "export", "--data", data_.string(), "--out", out.string()});
  EXPECT_EQ(r.status.code, 2) << r.output;
  EXPECT_EQ(slurp(out), before);
}

TEST_F(AuditTest, OneEditedByteInTheLogIsFoundAtItsPositionAndReplicasRefuseTheForgery) {
  std::map<std::string, uint64_t> at = write_history();
  const uint64_t edited = at["bet-5"];
  ASSERT_GT(edited, 0u);

  // A careless edit: the record's checksum gives it away.
  const fs::path careless = copy_of_data("careless");
  Record rec = find_record(careless / "log", edited);
  std::string payload = rec.payload;
  payload[find_in(payload, "bet-5") + 4] = '9';  // bet-5 becomes bet-9
  rewrite_record(rec, payload, false);
  json v = verify({"--data", careless.string()});
  EXPECT_FALSE(v.value("ok", true));
  EXPECT_EQ(v.value("first_bad_position", uint64_t{0}), edited) << v.dump();

  // A forger fixes the batch's and the record's checksums: the chain finds it.
  const fs::path forged = copy_of_data("forged");
  rec = find_record(forged / "log", edited);
  payload = rec.payload;
  payload[find_in(payload, "bet-5") + 4] = '9';
  payload = reseal_batch(payload);
  ASSERT_EQ(codec::decode_batch(payload).error, codec::BatchError::none);
  rewrite_record(rec, payload, true);
  v = verify({"--data", forged.string()});
  EXPECT_FALSE(v.value("ok", true));
  EXPECT_EQ(v.value("first_bad_position", uint64_t{0}), edited) << v.dump();
  EXPECT_EQ(v.value("last_confirmed_position", uint64_t{0}), edited - 1) << v.dump();
  EXPECT_NE(v.value("first_bad_reason", "").find("anchors"), std::string::npos) << v.dump();

  // A node started on the forgery refuses the batches that anchor it.
  Process node = start_node(forged, "forged-node");
  ASSERT_TRUE(node.started());
  tools::HttpClient c("127.0.0.1", port_);
  const std::string metrics = c.get("/metrics").body;
  EXPECT_GE(metric(metrics, "betcore_audit_chain_refusals_total"), 1) << metrics.substr(0, 2000);
  EXPECT_EQ(c.get("/v1/bets/bet-11", tokens_.admin).status, 404) << "a bet after the forgery was applied";
  EXPECT_NE(node.read_log().find("audit anchors disagree"), std::string::npos);
  node.kill(SIGTERM);
  node.wait(15'000);
}

TEST_F(AuditTest, OneEditedBatchInAnArchiveIsFoundAtItsPosition) {
  std::map<std::string, uint64_t> at = write_history();
  const fs::path key = dir_ / "archive.key";
  const fs::path archive = dir_ / "archive";
  ASSERT_TRUE(betcore({"backup", "keygen", "--out", key.string()}).status.success());
  // The archive as `betcore backup run` writes it, from the node's log.
  Process node = start_node(data_, "node-2");
  ASSERT_TRUE(node.started());
  uint16_t archiver_port = 0;
  Process archiver = start_server(
      [&](uint16_t p) {
        SpawnOptions o;
        o.program = betcore_binary().string();
        o.args = {"backup", "run", "--node", "http://127.0.0.1:" + std::to_string(port_), "--tokens",
                  tokens_.credentials.string(), "--archive", archive.string(), "--key", key.string(),
                  "--segment-ms", "200", "--metrics-listen", "127.0.0.1:" + std::to_string(p)};
        o.log_path = (dir_ / "archiver.log").string();
        return o;
      },
      "/metrics", archiver_port, "betcore backup run");
  ASSERT_TRUE(archiver.started());
  const uint64_t last = at["bet-11"] + 1;
  ASSERT_TRUE(eventually(60s, [&] {
    return metric(tools::HttpClient("127.0.0.1", archiver_port).get("/metrics").body,
                  "betcore_backup_archived_position") >= static_cast<double>(last);
  })) << last_lines(archiver.read_log());
  archiver.kill(SIGTERM);
  archiver.wait(15'000);
  node.kill(SIGTERM);
  node.wait(15'000);
  json v = verify({"--archive", archive.string(), "--key", key.string()});
  ASSERT_TRUE(v.value("ok", false)) << v.dump();

  // A forger holding the key rewrites one batch and seals the file again.
  const uint64_t edited = at["bet-3"];
  backup::Key k;
  std::string error;
  ASSERT_TRUE(backup::load_key(key.string(), k, error)) << error;
  fs::path segment;
  for (const auto& e : fs::directory_iterator(archive / "segments")) {
    backup::OpenedFile f = backup::open_file(slurp(e.path()), k);
    ASSERT_TRUE(f.error.empty()) << f.error;
    if (f.header.first > edited || f.header.last < edited) continue;
    std::vector<log::Entry> entries;
    ASSERT_TRUE(log::decode_entry_frames(f.payload, entries, error)) << error;
    for (log::Entry& en : entries) {
      if (en.position.value != edited) continue;
      en.batch[find_in(en.batch, "bet-3") + 4] = '8';
      en.batch = reseal_batch(en.batch);
    }
    spit(e.path(), backup::seal_file(f.header, log::encode_entry_frames(entries), k));
    segment = e.path();
  }
  ASSERT_FALSE(segment.empty());
  v = verify({"--archive", archive.string(), "--key", key.string()});
  EXPECT_FALSE(v.value("ok", true));
  EXPECT_EQ(v.value("first_bad_position", uint64_t{0}), edited) << v.dump();

  // Without the key, one flipped byte fails the file's authentication.
  std::string bytes = slurp(segment);
  bytes[bytes.size() - 20] = static_cast<char>(bytes[bytes.size() - 20] ^ 1);
  spit(segment, bytes);
  v = verify({"--archive", archive.string(), "--key", key.string()});
  EXPECT_FALSE(v.value("ok", true));
  EXPECT_NE(v.value("error", "").find(segment.filename().string()), std::string::npos) << v.dump();
}

// Found by review: a record whose position field was altered to repeat the
// one before it (a duplicated batch) tripped the state machine's assertion
// in `audit verify`. It is named at the position it displaces.
TEST_F(AuditTest, ADuplicatedPositionIsNamedNotFedToTheStateMachine) {
  std::map<std::string, uint64_t> at = write_history();
  const uint64_t edited = at["bet-5"];
  ASSERT_GT(edited, 1u);
  const fs::path dup = copy_of_data("dup");
  Record rec = find_record(dup / "log", edited);
  Record repeated = rec;
  repeated.header.position = edited - 1;  // with its checksum fixed
  rewrite_record(repeated, rec.payload, true);
  json v = verify({"--data", dup.string()});
  EXPECT_FALSE(v.value("ok", true));
  EXPECT_EQ(v.value("first_bad_position", uint64_t{0}), edited) << v.dump();
  EXPECT_NE(v.value("first_bad_reason", "").find("duplicated"), std::string::npos) << v.dump();
}

// A compacted data directory starts from a snapshot, whose tables the chain
// does not cover: verify checks everything after it and says, with exit
// status 3, that the positions before it were taken as they are.
TEST_F(AuditTest, ACompactedDataDirectoryIsCheckedFromItsSnapshotAndSaysSo) {
  node_flags_ = {"--checkpoint-every-commands", "8"};
  std::map<std::string, uint64_t> at = write_history();
  uint64_t snapshot = 0;
  for (const auto& e : fs::directory_iterator(data_ / "snapshots")) {
    const std::string name = e.path().filename().string();  // snapshot-%020llu.bcs
    if (name.rfind("snapshot-", 0) == 0) {
      const uint64_t index = std::stoull(name.substr(9, 20));
      if (snapshot == 0 || index < snapshot) snapshot = index;
    }
  }
  ASSERT_GT(snapshot, 1u) << "the node wrote no snapshot";
  ASSERT_LT(snapshot, at["bet-11"]);
  // The log as compaction leaves it: its first segment starts after the snapshot.
  const fs::path compacted = copy_of_data("compacted");
  Record first = find_record(compacted / "log", snapshot + 1);
  const std::string bytes = slurp(first.file);
  fs::remove(first.file);
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.log", static_cast<unsigned long long>(snapshot + 1));
  spit(compacted / "log" / name, bytes.substr(first.offset));

  json v = verify({"--data", compacted.string()});
  EXPECT_TRUE(v.value("ok", false)) << v.dump();
  EXPECT_FALSE(v.value("complete", true)) << v.dump();
  EXPECT_EQ(v.value("start", uint64_t{0}), snapshot) << v.dump();
  EXPECT_EQ(v.value("unchecked_through", uint64_t{0}), snapshot) << v.dump();
  EXPECT_GT(v.value("anchors_checked", 0), 3) << v.dump();
  CommandRun text = betcore({"audit", "verify", "--data", compacted.string()});
  EXPECT_EQ(text.status.code, 3) << text.output;
  EXPECT_NE(text.output.find("NOT COMPLETE: positions 1-" + std::to_string(snapshot)), std::string::npos)
      << text.output;
  // An edit after the snapshot is still found at its position.
  const uint64_t edited = at["bet-11"];
  Record rec = find_record(compacted / "log", edited);
  std::string payload = rec.payload;
  payload[find_in(payload, "bet-11") + 5] = '2';
  rewrite_record(rec, reseal_batch(payload), true);
  v = verify({"--data", compacted.string()});
  EXPECT_FALSE(v.value("ok", true));
  EXPECT_EQ(v.value("first_bad_position", uint64_t{0}), edited) << v.dump();
}

}  // namespace
}  // namespace betcore::test
