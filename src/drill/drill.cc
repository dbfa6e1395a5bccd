// `betcore drill`: the command line and the run loop (set up, inject faults in turn, heal, check,
// report); each part's job is in its own file (cluster, workload, recorder, monitor, nemesis,
// faults, checks, report).
#include "drill/drill.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "drill/checks.h"
#include "drill/clock.h"
#include "drill/detection.h"
#include "drill/cluster.h"
#include "drill/faults.h"
#include "drill/feed.h"
#include "drill/monitor.h"
#include "drill/nemesis.h"
#include "drill/payments.h"
#include "drill/recorder.h"
#include "drill/report.h"
#include "drill/site_loss.h"
#include "drill/testnet.h"
#include "drill/workload.h"

#ifndef BETCORE_SOURCE_DIR
#define BETCORE_SOURCE_DIR "."
#endif

namespace betcore::drill {
namespace fs = std::filesystem;

namespace {

constexpr int kInjectTriesMax = 30;  // failed injections in a row before the drill gives up

// Root, the programs the drill runs, and the fault kinds asked for (all
// when none); false after saying what is missing.
bool preflight(const DrillOptions& o, std::vector<const FaultRow*>& kinds) {
  if (::geteuid() != 0) {
    std::fprintf(stderr,
                 "betcore drill: run it as root: it makes network namespaces, nftables "
                 "rules and tmpfs mounts\n");
    return false;
  }
  for (const char* tool : {"/usr/bin/etcd", "/usr/sbin/haproxy", "/usr/sbin/nft", "/usr/sbin/ip"}) {
    if (::access(tool, X_OK) != 0) {
      std::fprintf(stderr, "betcore drill: %s is missing; run scripts/install-deps.sh\n", tool);
      return false;
    }
  }
  if (o.kinds.empty()) {
    for (const FaultRow& row : fault_rows()) kinds.push_back(&row);
  }
  for (const std::string& name : o.kinds) {
    const FaultRow* row = find_fault(name);
    if (row == nullptr) {
      std::fprintf(stderr, "betcore drill: unknown fault kind %s\n", name.c_str());
      return false;
    }
    kinds.push_back(row);
  }
  return true;
}

// One drill at a time on a machine: the test hosts' names are fixed. The
// lock is held until the process exits.
bool lock_machine() {
  int lock_fd = ::open("/run/betcore-drill.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    std::fprintf(stderr,
                 "betcore drill: another drill is running on this machine "
                 "(/run/betcore-drill.lock)\n");
    return false;
  }
  return true;
}

// Marks a run directory as the drill's own: only such a one is ever cleared.
constexpr const char* kRunMarker = ".made-by-betcore-drill";

// False, after saying so, when `root` exists but was not made by a drill
// (never delete what the drill did not create).
bool run_dir_is_ours(const fs::path& root) {
  std::error_code exists_ec;
  if (fs::exists(root, exists_ec) && !fs::exists(root / kRunMarker, exists_ec)) {
    std::fprintf(stderr,
                 "betcore drill: %s exists and was not made by a drill; it is left alone: give --out a "
                 "directory without a run/ of its own\n",
                 root.c_str());
    return false;
  }
  return true;
}

// An empty `root`, after unmounting the tmpfs mounts a killed drill left
// under it. False, changing nothing, when `root` is not the drill's own.
bool clear_run_dir(const fs::path& root) {
  if (!run_dir_is_ours(root)) return false;
  {
    std::ifstream mounts("/proc/mounts");
    for (std::string dev, point, rest; mounts >> dev >> point && std::getline(mounts, rest);) {
      if (point.rfind(root.string() + "/", 0) == 0) ::umount2(point.c_str(), MNT_DETACH);
    }
  }
  std::error_code ec;
  fs::remove_all(root, ec);
  fs::create_directories(root);
  std::ofstream(root / kRunMarker) << "betcore drill's scratch directory: removed by the next drill\n";
  return true;
}

void print_fault(const FaultRecord& f, size_t number) {
  std::printf("  [%3.0f s] fault %2zu: %-24s on %-20s for %.1f s%s%s\n", f.start_ms / 1000.0, number,
              f.kind.c_str(), f.target.c_str(), (f.end_ms - f.start_ms) / 1000.0,
              f.problems.empty() ? "" : ("; heal failed: " + f.problems[0]).c_str(),
              f.violations.empty() ? "" : ("; VIOLATED: " + f.violations[0]).c_str());
  std::fflush(stdout);
}

// The kinds in turn from a place the seed picks, each held 3-6 s, 1.5-3 s
// apart, until both --faults and --minutes are reached. Draws from the
// seeded RNGs here and in the nemesis (aims) in a fixed order: the same
// --seed injects the same sequence.
void inject_faults(const DrillOptions& o, DrillCluster& cluster, TestNet& net, DrillFeed& feed,
                   DrillPayments& payments, const std::vector<const FaultRow*>& kinds,
                   DrillReport& report) {
  Nemesis nemesis(cluster, net, &feed, &payments, o.seed);
  std::mt19937_64 rng(o.seed * 101);
  const int64_t end_by = now_ms() + static_cast<int64_t>(o.minutes * 60'000);
  size_t k = rng() % kinds.size();
  int failed_in_a_row = 0;
  while (static_cast<int>(report.faults.size()) < o.faults || now_ms() < end_by) {
    FaultRecord f;
    const FaultRow& row = *kinds[k++ % kinds.size()];
    if (!nemesis.inject(row, f)) {
      std::string why_not = f.problems.empty() ? "no etcd leader" : f.problems[0];
      std::printf("  could not inject %s yet: %s\n", f.kind.c_str(), why_not.c_str());
      if (++failed_in_a_row >= kInjectTriesMax) {
        report.failures.push_back("the nemesis could not inject a fault 30 times in a row; last: " +
                                  f.kind + ": " + why_not);
        break;
      }
      --k;  // the same kind again, after a second
      sleep_ms(1'000);
      continue;
    }
    failed_in_a_row = 0;
    int64_t window = 3'000 + static_cast<int64_t>(rng() % 3'000);
    sleep_ms(window);
    nemesis.heal(f);
    report.faults.push_back(f);
    print_fault(f, report.faults.size());
    for (const std::string& v : f.violations) {
      report.failures.push_back(fmt::format("fault {} ({} on {}): {}", report.faults.size(), f.kind,
                                            f.target, v));
    }
    sleep_ms(1'500 + static_cast<int64_t>(rng() % 1'500));
  }
}

// The cluster's whole life: start, load, faults, heal, checks. False (exit
// code 2) when the cluster or the book could not be set up.
bool run_cluster(const DrillOptions& o, TestNet& net, const fs::path& root,
                 const std::vector<const FaultRow*>& kinds, DrillReport& report) {
  std::error_code ec;
  std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  std::string why;
  DrillCluster cluster(net, root, self, o.haproxy_template);
  if (!cluster.start(why)) {
    std::fprintf(stderr, "betcore drill: the cluster did not start: %s\n", why.c_str());
    return false;
  }
  std::printf("  cluster up: etcd %s, nodes %s:8080.., HAProxy 127.0.0.1:%u (%.1f s)\n",
              cluster.endpoints().c_str(), cluster.node_ip(0).c_str(), cluster.haproxy_port,
              now_ms() / 1000.0);
  std::fflush(stdout);
  DrillFeed feed(root, self);
  if (!feed.start(cluster, why)) {
    std::fprintf(stderr, "betcore drill: the odds feed did not start: %s\n", why.c_str());
    return false;
  }
  std::printf("  odds feed up: RabbitMQ, provider and adapter (%.1f s)\n", now_ms() / 1000.0);
  DrillPayments payments(root, self, o.seed);
  if (!payments.start(cluster, why)) {
    std::fprintf(stderr, "betcore drill: payments did not start: %s\n", why.c_str());
    return false;
  }
  std::printf("  payments up: gateway and adapter (%.1f s)\n", now_ms() / 1000.0);
  std::fflush(stdout);
  Recorder recorder(cluster.endpoint_list());
  Workload load(cluster.haproxy_port, cluster, o.clients, o.seed);
  if (!load.set_up(why)) {
    std::fprintf(stderr, "betcore drill: setting up the book failed: %s\n", why.c_str());
    return false;
  }
  Monitor monitor(cluster);
  load.start();
  payments.start_deposits(load.accounts());
  report.load_started_ms = now_ms();
  sleep_ms(3'000);  // a baseline before the first fault
  inject_faults(o, cluster, net, feed, payments, kinds, report);
  report.faults_ended_ms = now_ms();
  std::printf("  faults done; letting the load run 3 s more, then stopping it\n");
  std::fflush(stdout);
  sleep_ms(3'000);
  load.stop();
  report.load_stopped_ms = now_ms();
  // Everything healed again (a heal that failed is retried here).
  cluster.heal_everything(report.failures);
  feed.heal_everything(report.failures);
  payments.heal_everything(report.failures);
  // The feed's and the payments' checks first, then both stopped: the nodes
  // converge on a log that no longer grows (the feed's adapter would write
  // alives forever).
  feed.check(report.failures, 90'000);
  feed.stop_all();
  payments.check(requested_withdrawals(load.ops()), report.failures, 120'000);
  payments.stop_all();
  const bool converged =
      converge(cluster, wait_for_log_head(cluster, recorder), report.failures, 120'000);
  monitor.stop();
  recorder.stop();
  if (!recorder.problem().empty()) report.failures.push_back(recorder.problem());
  std::vector<DrillOp> ops = load.ops();
  check_run(cluster, ops, recorder.entries(), converged, report);
  fill_report(report, ops_for_report(ops), monitor.samples());
  cluster.stop_all(o.keep);
  return true;
}

}  // namespace

int run_drill(const DrillOptions& options) {
  restart_clock();
  DrillOptions o = options;
  if (o.haproxy_template.empty()) {
    o.haproxy_template = std::string(BETCORE_SOURCE_DIR) + "/deploy/haproxy/betcore.cfg.in";
  }
  if (o.scenario != "faults" && o.scenario != "site-loss" && o.scenario != "detection") {
    std::fprintf(stderr, "betcore drill: --scenario is faults, site-loss or detection, not %s\n",
                 o.scenario.c_str());
    return 2;
  }
  std::vector<const FaultRow*> kinds;
  if (!preflight(o, kinds)) return 2;
  fs::path out = fs::absolute(o.out);
  fs::path root = out / "run";
  // A foreign run/ is refused before the machine's lock: nothing to wait for.
  if (!run_dir_is_ours(root) || !lock_machine() || !clear_run_dir(root)) return 2;
  if (o.scenario == "site-loss") {
    std::printf("betcore drill: seed %llu, the whole site lost after %.1f min of load and restored from the "
                "archive; report in %s\n",
                static_cast<unsigned long long>(o.seed), o.minutes, out.c_str());
  } else if (o.scenario == "detection") {
    std::printf("betcore drill: seed %llu, a slow etcd disk, a slow etcd member and a bet surge, each "
                "caught only by the guards; report in %s\n",
                static_cast<unsigned long long>(o.seed), out.c_str());
  } else {
    std::printf("betcore drill: seed %llu, at least %d faults, %.1f min; report in %s\n",
                static_cast<unsigned long long>(o.seed), o.faults, o.minutes, out.c_str());
  }
  std::fflush(stdout);
  TestNet net(o.subnet);
  std::string why;
  if (!net.create(drill_host_names(), why)) {
    std::fprintf(stderr, "betcore drill: cannot make the test hosts: %s\n", why.c_str());
    return 2;
  }
  DrillReport report;
  report.seed = o.seed;
  const bool ran = o.scenario == "site-loss"   ? run_site_loss(o, net, root, report)
                   : o.scenario == "detection" ? run_detection(o, net, root, report)
                                               : run_cluster(o, net, root, kinds, report);
  if (!ran) return 2;
  net.destroy();
  report.wall_s = now_ms() / 1000.0;
  write_report(out, report);
  print_summary(report, out);
  std::error_code ec;
  if (!o.keep) fs::remove_all(root, ec);
  return report.failures.empty() ? 0 : 1;
}

void add_drill_command(CLI::App& root) {
  auto o = std::make_shared<DrillOptions>();
  CLI::App* cmd = root.add_subcommand(
      "drill",
      "Failover drill on real processes: etcd, nodes and HAProxy in their own network namespaces, "
      "faults injected under load, every invariant checked, an incident report written (needs "
      "root)");
  cmd->add_option("--minutes", o->minutes, "Inject faults for at least this long")
      ->capture_default_str();
  cmd->add_option("--faults", o->faults, "Inject at least this many faults")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the fault order, the pick among eligible targets, and each client's "
                  "requests. Not pinned: which etcd member leads (faults aimed at the leader follow it) "
                  "and how the clients interleave in time, so two runs with one seed differ in detail")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Directory for the report (report.html, report.json)")
      ->capture_default_str();
  cmd->add_option("--subnet", o->subnet, "First three octets of the test hosts' private /24")
      ->capture_default_str();
  cmd->add_option("--clients", o->clients, "Punter client threads")->capture_default_str();
  cmd->add_option("--kinds", o->kinds, "Only these fault kinds (repeatable)");
  cmd->add_option("--haproxy-config", o->haproxy_template,
                  "HAProxy config template (deploy/haproxy/betcore.cfg.in)");
  cmd->add_option("--scenario", o->scenario,
                  "faults: the nemesis' faults in turn; site-loss: every node and etcd member lost after "
                  "--minutes of load, a new cluster restored from the continuous archive; detection: a slow "
                  "etcd disk, a slow etcd member and a bet surge, which only the nodes' guards catch")
      ->capture_default_str();
  cmd->add_option("--rpo-max-ms", o->rpo_max_ms,
                  "site-loss: fail when a write acknowledged longer than this before the loss is lost")
      ->capture_default_str();
  cmd->add_flag("--keep", o->keep, "Keep the processes' data directories and logs under OUT/run");
  cmd->callback([o] { std::exit(run_drill(*o)); });
}

}  // namespace betcore::drill
