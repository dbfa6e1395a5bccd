// `betcore drill --scenario site-loss`: lose every node and etcd member under load, restore a new
// cluster from the archive, check everything (site_loss.h).
#include "drill/site_loss.h"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "codec/batch.h"
#include "drill/checks.h"
#include "drill/clock.h"
#include "drill/cluster.h"
#include "drill/monitor.h"
#include "drill/probe.h"
#include "drill/recorder.h"
#include "drill/workload.h"
#include "ops/metrics.h"
#include "sim/model.h"
#include "tools/http_client.h"
#include "tools/ports.h"

namespace betcore::drill {
namespace fs = std::filesystem;
namespace {

using nlohmann::json;

// Runs `betcore ARGS` to its end (up to `timeout_ms`); its output (stdout and
// stderr) in `output`. True when it exited 0.
bool run_betcore(const std::string& self, const std::vector<std::string>& args, const fs::path& log,
                 int timeout_ms, std::string& output) {
  tools::SpawnOptions o;
  o.program = self;
  o.args = args;
  o.log_path = log.string();
  tools::Process p = tools::Process::spawn(o);
  auto st = p.wait(timeout_ms);
  if (!st) p.stop(2'000);
  output = p.read_log();
  return st && st->success();
}

// The continuous archive of the drill's cluster: key, archive directory,
// and `betcore backup run --etcd` from the root namespace.
class DrillArchive {
 public:
  DrillArchive(const DrillCluster& c, std::string self)
      : c_(c), self_(std::move(self)), dir_(c.root() / "archive"), key_(c.root() / "archive.key") {}

  bool start(std::string& why) {
    std::string out;
    if (!fs::exists(key_) && !run_betcore(self_, {"backup", "keygen", "--out", key_.string()},
                                          c_.root() / "keygen.log", 30'000, out)) {
      why = "betcore backup keygen failed: " + out;
      return false;
    }
    port_ = tools::reserve_port();
    tools::SpawnOptions o;
    o.program = self_;
    o.args = {"backup",
              "run",
              "--etcd",
              log_url(),
              "--tokens",
              (c_.root() / "credentials").string(),
              "--archive",
              dir_.string(),
              "--key",
              key_.string(),
              "--snapshot-every-s",
              "10",
              "--metrics-listen",
              fmt::format("127.0.0.1:{}", port_),
              "--hold-name",
              "drill"};
    for (int i = 0; i < kNodes; ++i) {
      o.args.insert(o.args.end(), {"--node", "https://" + c_.node_ip(i) + ":8080"});
    }
    const auto tls_args = c_.tls_client_args();
    o.args.insert(o.args.end(), tls_args.begin(), tls_args.end());
    o.log_path = (c_.root() / fmt::format("archiver-run{}.log", runs_++)).string();
    process_ = tools::Process::spawn(o);
    if (!wait_http_ready(process_, port_, "/metrics", 20'000)) {
      why = "the archiver did not serve /metrics in 20 s: " + process_.read_log();
      return false;
    }
    return true;
  }

  uint64_t archived() {
    tools::HttpClient h("127.0.0.1", port_,
                        {.connect_timeout_ms = 500, .request_timeout_ms = 2000});
    return static_cast<uint64_t>(
        ops::sample_value(h.get("/metrics").body, "betcore_backup_archived_position").value_or(0));
  }

  void kill() {
    process_.kill(SIGKILL);
    process_.wait(5'000);
  }
  void stop() { process_.stop(5'000); }

  std::string log_url() const { return "etcds://" + c_.endpoints() + "/" + kCluster; }
  const fs::path& dir() const { return dir_; }
  const fs::path& key() const { return key_; }

 private:
  const DrillCluster& c_;
  const std::string self_;
  const fs::path dir_, key_;
  uint16_t port_ = 0;
  int runs_ = 0;
  tools::Process process_;
};

// Every node and etcd member killed with -9, their data deleted.
void lose_site(DrillCluster& c) {
  for (Proc& n : c.nodes) c.kill9(n);
  for (Proc& e : c.etcd) c.kill9(e);
  std::error_code ec;
  for (int i = 0; i < kEtcdMembers; ++i)
    fs::remove_all(c.root() / c.etcd[static_cast<size_t>(i)].name, ec);
  for (int i = 0; i < kNodes; ++i) {
    for (const auto& entry : fs::directory_iterator(c.node_dir(i), ec))
      fs::remove_all(entry.path(), ec);
  }
}

// New etcd members on empty data, `betcore restore --etcd` into them and
// node-1's directory, then the nodes. False with `why`.
bool restore_site(DrillCluster& c, DrillArchive& archive, const std::string& self, Workload& load,
                  SiteLossRecord& rec, std::string& why) {
  for (int i = 0; i < kEtcdMembers; ++i) {
    if (!c.start_etcd(i, true, why)) return false;
  }
  if (!c.wait_etcd(30'000, why)) return false;
  say("new etcd members up; restoring from the archive");
  std::string out;
  const int64_t t0 = now_ms();
  const bool ok =
      run_betcore(self,
                  {"restore", "--archive", archive.dir().string(), "--key", archive.key().string(),
                   "--data-dir", c.node_dir(0).string(), "--etcd", archive.log_url(), "--tls-ca",
                   c.tls_file("ca.pem"), "--tls-cert", c.tls_file("node.pem"), "--tls-key",
                   c.tls_file("node.key")},
                  c.root() / "restore.log", 600'000, out);
  rec.restore_s = static_cast<double>(now_ms() - t0) / 1000.0;
  const json report = json::parse(tools::last_json_line(out), nullptr, false);
  if (!ok || !report.is_object()) {
    why = "betcore restore --etcd failed:\n" + out;
    return false;
  }
  rec.restored_position = report.value("position", uint64_t{0});
  rec.digest = report.value("digest", "");
  rec.digest_checked = report.value("digest_checked", false);
  rec.proof = report.value("proof", "");
  rec.commands_restored = report.value("commands", uint64_t{0});
  // Reads sent from now on need see only the restored position; no answer
  // before this came from the new cluster.
  load.rewind_acked_index(rec.restored_position);
  rec.new_cluster_from_ms = now_ms();
  say(fmt::format("restored position {} ({} commands) in {:.2f} s, digest {} ({})",
                  rec.restored_position, rec.commands_restored, rec.restore_s, rec.digest,
                  rec.proof));
  // node-1 first, on the restored data; the others start empty and load
  // its snapshot.
  for (int i = 0; i < kNodes; ++i) {
    if (!c.start_node(i, why)) return false;
    if (!c.wait_node_ready(i, 120'000)) {
      why = c.nodes[static_cast<size_t>(i)].name +
            " did not become ready on the restored cluster:\n" +
            c.nodes[static_cast<size_t>(i)].process.read_log();
      return false;
    }
  }
  return true;
}

// The commands of the restored history (positions up to the restored one).
std::set<std::string> keys_in(const std::vector<log::Entry>& entries) {
  std::set<std::string> keys;
  for (const log::Entry& e : entries) {
    codec::DecodedBatch b = codec::decode_batch(e.batch);
    for (const domain::Command& c : b.commands) keys.insert(sim::op_key(c));
  }
  return keys;
}

// The client's record against the new history. Answers given before the
// new cluster was started (`new_from_ms`) came from the old one. A write the
// old cluster answered at a position after the restored one is checked as a
// request without an answer (it may be in the restored history: a retry's
// answer can name a later position than its first copy); acknowledged and
// not in the restored history (`restored_keys`), it is lost (counted: the
// RPO). Reads answered there saw the lost history, and reads sent until
// then may ask for positions of it (the workload's acknowledged index was
// rewound just before `new_from_ms`, and a read takes its send time before
// that index): they leave the check.
std::vector<DrillOp> as_restored(const std::vector<DrillOp>& ops, int64_t new_from_ms,
                                 const std::set<std::string>& restored_keys, SiteLossRecord& rec) {
  std::vector<DrillOp> out;
  const uint64_t p = rec.restored_position;
  for (const DrillOp& op : ops) {
    const bool old_cluster = op.h.answered && op.h.answered_ms < new_from_ms;
    if (op.h.answered && !old_cluster && !op.h.read && op.status < 300) {
      const int64_t t = op.h.answered_ms - rec.lost_at_ms;
      if (rec.first_ack_after_ms < 0 || t < rec.first_ack_after_ms) rec.first_ack_after_ms = t;
    }
    if (op.h.read) {
      if ((old_cluster && op.h.index > p) ||
          (op.h.first_sent_ms <= new_from_ms && op.h.must_include > p)) {
        continue;
      }
    } else if (old_cluster && op.h.index > p) {
      if (op.status < 300 && !restored_keys.count(op.h.key)) {
        ++rec.acked_lost;
        rec.rpo_ms = std::max(rec.rpo_ms, rec.lost_at_ms - op.h.answered_ms);
      }
      DrillOp unanswered = op;
      unanswered.h.answered = false;
      unanswered.answer_lost = true;
      out.push_back(std::move(unanswered));
      continue;
    } else if (old_cluster && op.status < 300) {
      ++rec.acked_kept;
    }
    out.push_back(op);
  }
  return out;
}

}  // namespace

// Long: the scenario reads in order: up, archive, load, lose, restore, load, checks.
bool run_site_loss(const DrillOptions& o, TestNet& net, const fs::path& root, DrillReport& report) {
  std::error_code ec;
  const std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  std::string why;
  DrillCluster cluster(net, root, self, o.haproxy_template);
  if (!cluster.start(why)) {
    std::fprintf(stderr, "betcore drill: the cluster did not start: %s\n", why.c_str());
    return false;
  }
  say(fmt::format("cluster up: etcd {}, HAProxy 127.0.0.1:{}", cluster.endpoints(),
                  cluster.haproxy_port));
  DrillArchive archive(cluster, self);
  if (!archive.start(why)) {
    std::fprintf(stderr, "betcore drill: %s\n", why.c_str());
    return false;
  }
  say("archiver up: betcore backup run --etcd, archive in " + archive.dir().string());
  auto recorder = std::make_unique<Recorder>(cluster.endpoint_list());
  Workload load(cluster.haproxy_port, cluster, o.clients, o.seed);
  if (!load.set_up(why)) {
    std::fprintf(stderr, "betcore drill: setting up the book failed: %s\n", why.c_str());
    return false;
  }
  Monitor monitor(cluster);
  load.start();
  report.load_started_ms = now_ms();
  sleep_ms(static_cast<int64_t>(o.minutes * 60'000));

  SiteLossRecord& rec = report.site_loss;
  rec.ran = true;
  rec.archived_at_loss = archive.archived();
  rec.lost_at_ms = now_ms();
  lose_site(cluster);
  archive.kill();
  recorder->stop();  // it knew the old cluster's positions; a new one reads the new
  rec.log_head_at_loss = recorder->last();
  say(
      fmt::format("SITE LOST: every node and etcd member killed, their data deleted (log head {}, "
                  "archived {})",
                  rec.log_head_at_loss, rec.archived_at_loss));
  FaultRecord f;
  f.kind = "site_lost";
  f.target = "every node and etcd member";
  f.component = "node";
  f.start_ms = rec.lost_at_ms;
  sleep_ms(1'000);
  const bool restored = restore_site(cluster, archive, self, load, rec, why);
  f.end_ms = now_ms();
  rec.serving_after_ms = restored ? f.end_ms - rec.lost_at_ms : -1;
  report.faults.push_back(f);
  if (!restored) report.failures.push_back("the site was not restored: " + why);
  if (restored && !rec.digest_checked) {
    report.failures.push_back("the restore did not prove its digest: " + rec.proof);
  }
  std::vector<log::Entry> before;
  for (log::Entry& e : recorder->entries()) {
    if (e.position.value <= rec.restored_position) before.push_back(std::move(e));
  }
  const std::set<std::string> restored_keys = keys_in(before);
  if (recorder->last() < rec.restored_position) {
    report.failures.push_back(
        fmt::format("the drill's recorder held the log to {} only, the archive to {}",
                    recorder->last(), rec.restored_position));
  }
  recorder = std::make_unique<Recorder>(cluster.endpoint_list(), std::move(before));
  if (restored) {
    say(fmt::format("serving again {:.1f} s after the loss; the same archive goes on",
                    rec.serving_after_ms / 1000.0));
    if (!archive.start(why)) report.failures.push_back("the archiver did not start again: " + why);
  }
  report.faults_ended_ms = now_ms();
  sleep_ms(5'000);
  load.stop();
  report.load_stopped_ms = now_ms();
  const bool converged = restored && converge(cluster, wait_for_log_head(cluster, *recorder),
                                              report.failures, 120'000);
  monitor.stop();
  recorder->stop();
  archive.stop();
  if (!recorder->problem().empty()) report.failures.push_back(recorder->problem());
  const std::vector<DrillOp> all = load.ops();
  std::vector<DrillOp> ops = as_restored(
      all, rec.new_cluster_from_ms > 0 ? rec.new_cluster_from_ms : now_ms(), restored_keys, rec);
  if (restored && rec.first_ack_after_ms < 0) {
    report.failures.push_back(
        "the restored cluster acknowledged no write in the 5 s of load after it");
  }
  if (rec.rpo_ms > o.rpo_max_ms) {
    report.failures.push_back(
        fmt::format("a write acknowledged {} ms before the loss was lost (RPO bound {} ms)",
                    rec.rpo_ms, o.rpo_max_ms));
  }
  say(fmt::format(
      "restored {} writes the old cluster acknowledged; lost {} it acknowledged, the oldest {} ms "
      "before the loss; the new cluster acknowledged its first write {:.2f} s after the loss",
      rec.acked_kept, rec.acked_lost, rec.rpo_ms, rec.first_ack_after_ms / 1000.0));
  if (restored) check_run(cluster, ops, recorder->entries(), converged, report);
  fill_report(report, ops_for_report(all), monitor.samples());
  cluster.stop_all(o.keep);
  return true;
}

}  // namespace betcore::drill
