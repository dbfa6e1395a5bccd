// Backups end to end with real processes: an embedded `betcore node` under a
// steady write load, `betcore backup run` archiving it (killed with -9 and
// restarted), `betcore backup verify` and `betcore restore` as an operator
// runs them, and nodes started on what was restored. Every acknowledged
// write is checked against the client's own record.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/time_format.h"
#include "sshd_fixture.h"
#include "support/support.h"
#include "tools/http_client.h"

namespace betcore::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One acknowledged write of the load: account `id` created and credited
// `amount` by deposit `ref`.
struct Acked {
  std::string account;
  int64_t amount = 0;
  uint64_t index = 0;      // the deposit's position
  int64_t acked_at_ms = 0;
};

// Creates accounts and credits each with one deposit, retrying each write
// with its id until it has a definite answer, and records what was
// acknowledged. Stops at stop() or when the node is gone for good.
class Load {
 public:
  Load(uint16_t port, const TestTokens& tokens, std::string prefix)
      : port_(port), tokens_(tokens), prefix_(std::move(prefix)) {}
  ~Load() { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Acked> acked() const {
    std::lock_guard lock(mu_);
    return acked_;
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return acked_.size();
  }

 private:
  // Sends until a definite answer; false once the node is unreachable for 2 s.
  bool send(tools::HttpClient& c, const std::string& target, const std::string& body,
            const std::string& token, tools::Response& r) {
    const auto give_up = std::chrono::steady_clock::now() + 2s;
    while (true) {
      r = c.post(target, body, token);
      if (r.status == 201 || r.status == 200 || r.status == 409 || r.status == 422 || r.status == 400) return true;
      if (stop_ || std::chrono::steady_clock::now() > give_up) return false;
      std::this_thread::sleep_for(20ms);
    }
  }

  void run() {
    tools::HttpClientOptions o;
    o.connect_timeout_ms = 500;
    o.request_timeout_ms = 2000;
    tools::HttpClient c("127.0.0.1", port_, o);
    for (int i = 0; !stop_; ++i) {
      const std::string account = prefix_ + std::to_string(i);
      const int64_t amount = 100 + i % 900;
      tools::Response r;
      if (!send(c, "/v1/accounts", json{{"account_id", account}, {"currency", "EUR"}}.dump(), tokens_.admin, r)) return;
      if (r.status != 201) continue;
      if (!send(c, "/v1/deposits",
                json{{"payment_ref", "dep-" + account}, {"account_id", account}, {"amount", amount}}.dump(),
                tokens_.payments, r)) {
        return;
      }
      if (r.status != 201) continue;
      Acked a{account, amount, json::parse(r.body).at("index").get<uint64_t>(), now_ms()};
      std::lock_guard lock(mu_);
      acked_.push_back(a);
    }
  }

  const uint16_t port_;
  const TestTokens& tokens_;
  const std::string prefix_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Acked> acked_;
};

// A finished command line: its exit status and its output.
struct Ran {
  ExitStatus status;
  std::string output;
  json last_json;  // the last line of output that is a JSON object, or null
};

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Ran k = betcore({"backup", "keygen", "--out", key_.string()});
    ASSERT_TRUE(k.status.success()) << k.output;
  }

  Ran betcore(const std::vector<std::string>& args, int timeout_ms = 120'000) {
    CommandRun run = run_betcore(dir_.path(), args, timeout_ms);
    Ran ran{run.status, std::move(run.output), {}};
    ran.last_json = json::parse(tools::last_json_line(ran.output), nullptr, false);
    return ran;
  }

  Process start_node(const fs::path& data, uint16_t& port, const std::string& name,
                     std::vector<std::string> extra = {}) {
    return start_server(
        [&](uint16_t p) {
          SpawnOptions o;
          o.program = betcore_binary().string();
          o.args = {"node", "--data", data.string(), "--listen", "127.0.0.1:" + std::to_string(p),
                    "--tokens", tokens_.file.string(), "--checkpoint-every-commands", "300",
                    "--plain-http"};
          o.args.insert(o.args.end(), extra.begin(), extra.end());
          o.log_path = (dir_ / (name + ".log")).string();
          return o;
        },
        "/health/ready", port, name);
  }

  void start_archiver() {
    archiver_ = start_server(
        [&](uint16_t p) {
          SpawnOptions o;
          o.program = betcore_binary().string();
          o.args = {"backup", "run", "--node", "http://127.0.0.1:" + std::to_string(node_port_), "--tokens",
                    tokens_.credentials.string(), "--archive", archive_.string(), "--key", key_.string(),
                    "--segment-ms", "200", "--snapshot-every-s", "2", "--metrics-listen",
                    "127.0.0.1:" + std::to_string(p)};
          if (site_) {
            o.args.insert(o.args.end(), {"--ssh-target", site_->target(), "--ssh-port",
                                         std::to_string(site_->port()), "--ssh-identity",
                                         site_->identity_file(), "--ssh-known-hosts", site_->known_hosts()});
          }
          o.log_path = (dir_ / "archiver.log").string();
          return o;
        },
        "/metrics", archiver_port_, "betcore backup run");
    ASSERT_TRUE(archiver_.started());
  }

  json get_json(uint16_t port, const std::string& target) {
    tools::Response r = tools::HttpClient("127.0.0.1", port).get(target, tokens_.admin);
    EXPECT_EQ(r.status, 200) << target << ": " << r.error << r.body;
    return r.status == 200 ? json::parse(r.body) : json();
  }

  uint64_t applied(uint16_t port) { return get_json(port, "/v1/cluster").value("applied_index", 0ull); }

  // Waits until the archiver has archived everything the node applied.
  void wait_archived() {
    const uint64_t head = applied(node_port_);
    double archived = -1;
    ASSERT_TRUE(eventually(60s, [&] {
      archived = archiver_metric("betcore_backup_archived_position");
      return archived >= static_cast<double>(head);
    })) << "the archiver reached " << archived << " of " << head << "\n"
        << last_lines(archiver_.read_log());
  }

  double archiver_metric(const std::string& name) {
    return metric(tools::HttpClient("127.0.0.1", archiver_port_).get("/metrics").body, name);
  }

  bool node_alerts(const std::string& name) {
    json a = get_json(node_port_, "/v1/alerts");
    for (const json& x : a.value("alerts", json::array())) {
      if (x.value("name", "") == name) return true;
    }
    return false;
  }

  // The files of an archive (segments and snapshots) by name, with their bytes.
  static std::map<std::string, std::string> archive_files(const fs::path& dir) {
    std::map<std::string, std::string> out;
    for (const char* sub : {"segments", "snapshots"}) {
      if (!fs::exists(dir / sub)) continue;
      for (const auto& e : fs::directory_iterator(dir / sub)) {
        if (e.path().extension() == ".tmp") continue;
        std::ifstream in(e.path(), std::ios::binary);
        out[std::string(sub) + "/" + e.path().filename().string()] =
            std::string(std::istreambuf_iterator<char>(in), {});
      }
    }
    return out;
  }

  // Every acknowledged write in `acked` is on the node at `port`, exactly.
  void expect_holds(uint16_t port, const std::vector<Acked>& acked) {
    tools::HttpClient c("127.0.0.1", port);
    for (const Acked& a : acked) {
      tools::Response r = c.get("/v1/accounts/" + a.account, tokens_.admin);
      ASSERT_EQ(r.status, 200) << a.account << " (deposit at index " << a.index << ") is missing: " << r.body;
      EXPECT_EQ(json::parse(r.body).at("balance").get<int64_t>(), a.amount) << a.account;
    }
  }

  // The archive's segment files by name: (first, last), in order.
  std::vector<uint64_t> snapshot_positions() const {
    std::vector<uint64_t> out;
    for (const auto& e : fs::directory_iterator(archive_ / "snapshots")) {
      if (e.path().extension() == ".bcsnap") out.push_back(std::stoull(e.path().filename().string().substr(0, 20)));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // The oldest position a restore can reach: the log's start while the
  // archive holds it, else the oldest snapshot. The segments are listed
  // first: retention removes snapshots before the log below them.
  uint64_t restorable_from(const std::vector<std::pair<uint64_t, uint64_t>>& ranges) const {
    auto snapshots = snapshot_positions();
    if (!ranges.empty() && ranges.front().first == 1) return 0;
    return snapshots.empty() ? UINT64_MAX : snapshots.front();
  }

  std::vector<std::pair<uint64_t, uint64_t>> segment_ranges() const {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (const auto& e : fs::directory_iterator(archive_ / "segments")) {
      std::string n = e.path().filename().string();
      if (!n.ends_with(".bcseg")) continue;
      out.emplace_back(std::stoull(n.substr(0, 20)), std::stoull(n.substr(21, 20)));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir dir_{"betcore-backup"};
  TestTokens tokens_ = write_tokens_file(dir_.path());
  fs::path key_ = dir_ / "archive.key";
  fs::path archive_ = dir_ / "archive";
  Process node_;
  uint16_t node_port_ = 0;
  Process archiver_;
  uint16_t archiver_port_ = 0;
  std::unique_ptr<SshdSite> site_;  // the other site, when the test ships there
};

// Long: one scenario, as the issue states it, then every check on its result.
TEST_F(BackupTest, UnderLoadAKilledArchiverAndASshTargetDownFor20sLeaveNoGapNoDuplicateAndEveryPointRestores) {
  site_ = std::make_unique<SshdSite>();
  ASSERT_TRUE(site_->ready()) << site_->why();
  ASSERT_TRUE(site_->start()) << site_->why();
  node_ = start_node(dir_ / "data", node_port_, "node", {"--archive-remote-lag-ms", "5000"});
  ASSERT_TRUE(node_.started());
  start_archiver();
  Load load(node_port_, tokens_, "k-");
  load.start();
  // Checkpoint digests the node reports while the load runs: restore to each
  // such position must give the same digest.
  std::map<uint64_t, std::string> checkpoints;
  auto note_checkpoint = [&] {
    json c = get_json(node_port_, "/v1/cluster");
    if (c.value("checkpoint", 0ull) > 0) checkpoints[c.at("checkpoint").get<uint64_t>()] = c.at("state_digest");
  };
  auto run_for = [&](std::chrono::milliseconds d) {
    for (auto end = std::chrono::steady_clock::now() + d; std::chrono::steady_clock::now() < end;) {
      std::this_thread::sleep_for(100ms);
      note_checkpoint();
    }
  };
  auto kill_archiver = [&] {
    ASSERT_TRUE(archiver_.kill(SIGKILL));
    ASSERT_TRUE(archiver_.wait(5000).has_value());
    std::this_thread::sleep_for(500ms);
    start_archiver();
  };
  run_for(2s);
  kill_archiver();
  run_for(2s);
  // The other site goes away for 20 s: the backlog grows and is reported,
  // the node raises archive_remote_behind, the local archive goes on.
  site_->stop();
  bool alerted = false;
  double backlog = 0;
  for (auto end = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < end;) {
    run_for(500ms);
    alerted = alerted || node_alerts("archive_remote_behind");
    backlog = std::max(backlog, archiver_metric("betcore_backup_remote_backlog_files"));
  }
  EXPECT_TRUE(alerted) << "no archive_remote_behind alert in a 20 s outage of the other site";
  EXPECT_GT(backlog, 5) << "the remote backlog was not reported";
  EXPECT_EQ(archiver_metric("betcore_backup_remote_connected"), 0);
  ASSERT_TRUE(site_->start()) << site_->why();
  run_for(1s);
  kill_archiver();  // again, with a backlog still to ship
  run_for(2s);
  load.stop();
  note_checkpoint();
  ASSERT_GT(load.count(), 100u) << "the load wrote too little to test anything";
  wait_archived();
  const uint64_t head = applied(node_port_);
  // With the load stopped the archiver takes one last snapshot, at the head,
  // and prunes by retention right after it; then it prunes no more (it prunes
  // only after a new snapshot) and the archive changes only by shipping.
  // Checking before that snapshot would race its prune.
  ASSERT_TRUE(eventually(30s, [&] {
    auto s = snapshot_positions();
    return !s.empty() && s.back() == head;
  })) << "no archive snapshot at the head " << head << "\n" << last_lines(archiver_.read_log());

  // No gap and no duplicate: the segments tile the log exactly, from the
  // oldest restore point retention keeps (a snapshot, or the log's start)
  // to the head. Segments wholly below that snapshot may still be there:
  // retention prunes them only once the other site has confirmed the
  // snapshot, which after its outage can come later than the last prune.
  auto ranges = segment_ranges();
  ASSERT_FALSE(ranges.empty());
  const uint64_t restorable_from = this->restorable_from(ranges);
  size_t k = 0;
  while (k < ranges.size() && restorable_from > 0 && ranges[k].second <= restorable_from) ++k;
  ASSERT_LT(k, ranges.size()) << "no segment after the oldest snapshot " << restorable_from;
  uint64_t next = ranges[k].first;
  EXPECT_EQ(next, restorable_from + 1)
      << "the log after the oldest restore point " << restorable_from << " starts at " << next;
  for (; k < ranges.size(); ++k) {
    EXPECT_EQ(ranges[k].first, next) << "gap or overlap at segment " << ranges[k].first << "-" << ranges[k].second;
    next = ranges[k].second + 1;
  }
  EXPECT_EQ(next, head + 1);

  EXPECT_EQ(archiver_metric("betcore_backup_last_verify_ok"), -1) << "no verify has run yet";
  Ran verify = betcore({"backup", "verify", "--archive", archive_.string(), "--key", key_.string()});
  ASSERT_TRUE(verify.status.success()) << verify.output;
  EXPECT_TRUE(verify.last_json.value("ok", false)) << verify.output;
  // The archiver reports the verify's result (from ARCHIVE/last-verify.json).
  EXPECT_EQ(archiver_metric("betcore_backup_last_verify_ok"), 1);
  EXPECT_GT(archiver_metric("betcore_backup_last_verify_timestamp_seconds"), 1.7e9);
  // What Prometheus scrapes from the archiver and the node lints clean.
  EXPECT_EQ(promtool_check_metrics(archiver_port_), "");
  EXPECT_EQ(promtool_check_metrics(node_port_), "");
  EXPECT_EQ(verify.last_json.value("last_position", 0ull), head);
  EXPECT_GE(verify.last_json.value("restore_points", 0ull), 2u);

  // Restore the latest position and start a node on it.
  Ran restored = betcore({"restore", "--archive", archive_.string(), "--key", key_.string(), "--data-dir",
                          (dir_ / "restored").string()});
  ASSERT_TRUE(restored.status.success()) << restored.output;
  EXPECT_EQ(restored.last_json.value("position", 0ull), head);
  EXPECT_TRUE(restored.last_json.value("digest_checked", false)) << restored.output;
  uint16_t port2 = 0;
  Process node2 = start_node(dir_ / "restored", port2, "restored-node");
  ASSERT_TRUE(node2.started());
  json c2 = get_json(port2, "/v1/cluster");
  EXPECT_EQ(c2.value("applied_index", 0ull), head);
  EXPECT_EQ(c2.value("state_digest", ""), restored.last_json.value("digest", "x"));
  expect_holds(port2, load.acked());
  EXPECT_TRUE(get_json(port2, "/v1/ledger/balance").value("balanced", false));
  EXPECT_EQ(get_json(port2, "/v1/ledger/balance").value("total", 1), 0);

  // Restore to the checkpoints the node reported: the same digest. Only
  // those retention still covers: with a snapshot every 2 s it keeps the 4
  // newest, and prunes the log below the oldest once the other site holds
  // it, so when the early checkpoints are gone depends on the timing.
  ASSERT_FALSE(checkpoints.empty()) << "the node reported no checkpoint";
  // The newest first: they are the ones retention is sure to keep (a prune
  // caught mid-way when restorable_from was read can only have raised it).
  const uint64_t restorable_now = this->restorable_from(segment_ranges());
  int n = 0;
  for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
    const auto& [index, digest] = *it;
    if (index < restorable_now) continue;
    Ran at = betcore({"restore", "--archive", archive_.string(), "--key", key_.string(), "--to-position",
                      std::to_string(index), "--data-dir", (dir_ / ("at-" + std::to_string(index))).string()});
    ASSERT_TRUE(at.status.success()) << at.output;
    EXPECT_EQ(at.last_json.value("position", 0ull), index);
    EXPECT_EQ(at.last_json.value("digest", ""), digest) << "restore to checkpoint " << index;
    EXPECT_TRUE(at.last_json.value("digest_checked", false)) << at.output;
    if (++n == 3) break;
  }
  EXPECT_GT(n, 0) << "no checkpoint at or after the oldest restore point " << restorable_now;

  // The other site holds the same files, byte for byte, and restores too
  // (the archiver keeps shipping and pruning meanwhile: compare until equal).
  std::string difference;
  ASSERT_TRUE(eventually(60s, [&] {
    const auto local = archive_files(archive_);
    const auto remote = archive_files(site_->remote_dir());
    difference.clear();
    for (const auto& [name, bytes] : local) {
      auto it = remote.find(name);
      if (it == remote.end()) difference += name + " is not on the other site; ";
      else if (it->second != bytes) difference += name + " differs on the other site; ";
    }
    for (const auto& [name, bytes] : remote) {
      if (!local.contains(name)) difference += name + " is only on the other site; ";
    }
    return difference.empty();
  })) << difference << "\n" << last_lines(archiver_.read_log());
  Ran from_remote = betcore({"restore", "--archive", site_->remote_dir(), "--key", key_.string(), "--data-dir",
                             (dir_ / "from-remote").string()});
  ASSERT_TRUE(from_remote.status.success()) << from_remote.output;
  EXPECT_EQ(from_remote.last_json.value("digest", ""), restored.last_json.value("digest", "x"));
}

TEST_F(BackupTest, RestoreToATimeGivesTheStateOfTheLastBatchAtOrBeforeIt) {
  node_ = start_node(dir_ / "data", node_port_, "node");
  ASSERT_TRUE(node_.started());
  start_archiver();
  Load before(node_port_, tokens_, "before-");
  before.start();
  std::this_thread::sleep_for(1500ms);
  before.stop();
  std::this_thread::sleep_for(50ms);
  const int64_t t = now_ms();
  std::this_thread::sleep_for(50ms);
  Load after(node_port_, tokens_, "after-");
  after.start();
  std::this_thread::sleep_for(1500ms);
  after.stop();
  ASSERT_GT(before.count(), 10u);
  ASSERT_GT(after.count(), 10u);
  wait_archived();

  Ran r = betcore({"restore", "--archive", archive_.string(), "--key", key_.string(), "--to-time",
                   api::format_rfc3339(t), "--data-dir", (dir_ / "at-t").string()});
  ASSERT_TRUE(r.status.success()) << r.output;
  const uint64_t position = r.last_json.value("position", 0ull);
  EXPECT_LE(r.last_json.value("time_ms", INT64_MAX), t);
  EXPECT_GT(r.last_json.value("batches_after", 0ull), 0u);
  // The same state as a restore to that position.
  Ran p = betcore({"restore", "--archive", archive_.string(), "--key", key_.string(), "--to-position",
                   std::to_string(position), "--data-dir", (dir_ / "at-p").string()});
  ASSERT_TRUE(p.status.success()) << p.output;
  EXPECT_EQ(p.last_json.value("digest", ""), r.last_json.value("digest", "x"));

  uint16_t port2 = 0;
  Process node2 = start_node(dir_ / "at-t", port2, "node-at-t");
  ASSERT_TRUE(node2.started());
  expect_holds(port2, before.acked());  // all acknowledged before T
  tools::HttpClient c("127.0.0.1", port2);
  for (const Acked& a : after.acked()) {  // none sent after T
    EXPECT_EQ(c.get("/v1/accounts/" + a.account, tokens_.admin).status, 404) << a.account << " was written after T";
  }
  EXPECT_TRUE(get_json(port2, "/v1/ledger/balance").value("balanced", false));
}

TEST_F(BackupTest, AFlippedBitAMissingSegmentAndAWrongKeyAreEachDetectedByVerifyAndRestore) {
  node_ = start_node(dir_ / "data", node_port_, "node");
  ASSERT_TRUE(node_.started());
  start_archiver();
  Load load(node_port_, tokens_, "d-");
  load.start();
  std::this_thread::sleep_for(2500ms);
  load.stop();
  wait_archived();
  archiver_.stop(5000);
  auto ranges = segment_ranges();
  ASSERT_GE(ranges.size(), 4u);
  // A segment that a restore to its last position needs: no snapshot
  // inside it or at its end (a snapshot there would be the restore's start).
  std::set<uint64_t> snapshots;
  for (const auto& e : fs::directory_iterator(archive_ / "snapshots")) {
    snapshots.insert(std::stoull(e.path().filename().string().substr(0, 20)));
  }
  size_t pick = ranges.size() / 2;
  while (pick + 1 < ranges.size() && snapshots.contains(ranges[pick].second)) ++pick;
  auto [first, last] = ranges[pick];
  ASSERT_FALSE(snapshots.contains(last)) << "every segment ends at a snapshot";
  char name[64];
  std::snprintf(name, sizeof name, "%020llu-%020llu.bcseg", static_cast<unsigned long long>(first),
                static_cast<unsigned long long>(last));

  auto copy_archive = [&](const std::string& to) {
    fs::copy(archive_, dir_ / to, fs::copy_options::recursive);
    return dir_ / to;
  };
  auto both_fail_naming = [&](const fs::path& archive, const fs::path& key, const std::string& what) {
    Ran v = betcore({"backup", "verify", "--archive", archive.string(), "--key", key.string()});
    EXPECT_FALSE(v.status.success()) << what << ": verify passed\n" << v.output;
    Ran r = betcore({"restore", "--archive", archive.string(), "--key", key.string(), "--to-position",
                     std::to_string(last), "--data-dir", (dir_ / ("r-" + archive.filename().string())).string()});
    EXPECT_FALSE(r.status.success()) << what << ": restore passed\n" << r.output;
    return v.output + r.output;
  };

  fs::path flipped = copy_archive("flipped");
  {
    std::fstream f(flipped / "segments" / name, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(200);
    char b = 0;
    f.read(&b, 1);
    b = static_cast<char>(b ^ 0x10);
    f.seekp(200);
    f.write(&b, 1);
  }
  std::string out = both_fail_naming(flipped, key_, "flipped bit");
  EXPECT_NE(out.find(name), std::string::npos) << out;
  EXPECT_NE(out.find("damaged"), std::string::npos) << out;
  EXPECT_NE(out.find("(positions " + std::to_string(first) + "-" + std::to_string(last) + ")"), std::string::npos)
      << out;

  fs::path missing = copy_archive("missing");
  fs::remove(missing / "segments" / name);
  out = both_fail_naming(missing, key_, "missing segment");
  EXPECT_NE(out.find("missing segment"), std::string::npos) << out;
  EXPECT_NE(out.find("between position " + std::to_string(first - 1)), std::string::npos) << out;

  fs::path other_key = dir_ / "other.key";
  ASSERT_TRUE(betcore({"backup", "keygen", "--out", other_key.string()}).status.success());
  out = both_fail_naming(archive_, other_key, "wrong key");
  EXPECT_NE(out.find("wrong key"), std::string::npos) << out;

  // The untouched archive still verifies.
  Ran ok = betcore({"backup", "verify", "--archive", archive_.string(), "--key", key_.string()});
  EXPECT_TRUE(ok.status.success()) << ok.output;
}

TEST_F(BackupTest, LosingTheNodeAndTheArchiverKeepsEveryWriteAcknowledgedBeforeTheRPO) {
  node_ = start_node(dir_ / "data", node_port_, "node");
  ASSERT_TRUE(node_.started());
  start_archiver();
  Load load(node_port_, tokens_, "l-");
  load.start();
  std::this_thread::sleep_for(3s);
  // The whole site is lost at once, mid-load.
  const int64_t lost_at = now_ms();
  node_.kill(SIGKILL);
  archiver_.kill(SIGKILL);
  node_.wait(5000);
  archiver_.wait(5000);
  load.stop();
  fs::remove_all(dir_ / "data");

  Ran r = betcore({"restore", "--archive", archive_.string(), "--key", key_.string(), "--data-dir",
                   (dir_ / "restored").string()});
  ASSERT_TRUE(r.status.success()) << r.output;
  const uint64_t position = r.last_json.value("position", 0ull);
  uint16_t port2 = 0;
  Process node2 = start_node(dir_ / "restored", port2, "restored-node");
  ASSERT_TRUE(node2.started());
  // Every write acknowledged at or below the restored position is there;
  // everything acknowledged more than the RPO (segment 200 ms, plus a
  // loaded machine's slack) before the loss is at or below it.
  std::vector<Acked> kept, lost;
  for (const Acked& a : load.acked()) (a.index <= position ? kept : lost).push_back(a);
  expect_holds(port2, kept);
  for (const Acked& a : lost) {
    EXPECT_GT(a.acked_at_ms, lost_at - 2000) << a.account << " acknowledged " << lost_at - a.acked_at_ms
                                             << " ms before the loss was not archived";
  }
  std::cerr << "lost site: " << kept.size() << " acknowledged writes restored, " << lost.size()
            << " within the RPO not archived\n";
  json balance = get_json(port2, "/v1/ledger/balance");
  EXPECT_TRUE(balance.value("balanced", false)) << balance.dump();
  EXPECT_EQ(balance.value("total", 1), 0);
}

}  // namespace
}  // namespace betcore::test
