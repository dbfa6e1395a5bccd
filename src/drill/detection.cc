// `betcore drill --scenario detection` (detection.h): a slow etcd disk, a slow etcd member and a
// bet surge, each caught only by the nodes' guards, and what they did about it.
#include "drill/detection.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "drill/checks.h"
#include "drill/clock.h"
#include "drill/cluster.h"
#include "drill/monitor.h"
#include "drill/recorder.h"
#include "drill/workload.h"
#include "ops/wall_clock.h"
#include "tools/http_client.h"

namespace betcore::drill {
namespace fs = std::filesystem;
namespace {

using nlohmann::json;

constexpr int kSlowFsyncMs = 150;        // slow_disk: added to every fsync of the leader's etcd data
constexpr int64_t kHoldMaxMs = 40'000;   // a fault lasts at most this long
constexpr int64_t kAfterActionMs = 12'000;  // ... and this long after the guard's action
constexpr int64_t kSurgeMs = 25'000;     // a surge the guard leaves alone lasts this long
constexpr int kSurgeFactor = 5;
// Each punter's pause between requests. The base load leaves the cluster
// room for the surge: the guards' bet-rate band is at least the usual rate
// ± max(20/s, 80 %) (src/node/guard.cc), so a surge must reach well over
// twice the acknowledged bets of a node to be seen. With 10 ms pauses and
// the usual mix (45 % bets, a third of them refused) this 2-core machine ran
// near its capacity: 5x the punters made 2-2.7x the bets and the surge went
// unseen in 3 runs of 8. Now the base is light and the surge's punters place
// only bets.
constexpr int kPaceMs = 40;
constexpr const char* kWarmupSamples = "20";  // the guards' baseline (1 s samples)

// What the guards reported since a fault began (wall-clock ms).
struct Seen {
  int64_t detected_wall = -1;
  std::string by;
  int64_t acted_wall = -1;
  std::string action;
  bool open = false;  // some incident (of any age) is still open
};

// Every node's GET /v1/incidents: the first incident opened at or after
// `since_wall`, and the first action in one.
Seen look(const DrillCluster& c, int64_t since_wall) {
  Seen seen;
  for (int i = 0; i < kNodes; ++i) {
    // A starved node answers slowly: 3 s.
    tools::HttpClient http(c.node_ip(i), 8080, betcore_http(300, 3'000));
    const tools::Response r = http.get("/v1/incidents", c.admin);
    if (!r.ok()) continue;
    const json body = json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("incidents")) continue;
    const std::string& node = c.nodes[static_cast<size_t>(i)].name;
    for (const json& inc : body["incidents"]) {
      seen.open = seen.open || inc.value("open", false);
      const int64_t started = inc.value("started_ms", int64_t{0});
      if (started < since_wall) continue;
      if (seen.detected_wall < 0 || started < seen.detected_wall) {
        seen.detected_wall = started;
        seen.by = node + ": " + inc.value("seen", std::string());
      }
      for (const json& e : inc.value("timeline", json::array())) {
        const int64_t at = e.value("at_ms", int64_t{0});
        const std::string what = e.value("what", std::string());
        if (what.rfind("action:", 0) != 0 || at < since_wall) continue;
        if (seen.acted_wall < 0 || at < seen.acted_wall) {
          seen.acted_wall = at;
          seen.action = node + ": " + what.substr(8);
        }
      }
    }
  }
  return seen;
}

// A process that runs `run_ms` in every `run_ms + stop_ms`: CPU-starved,
// like a throttled container. Continued for good when destroyed.
class Throttle {
 public:
  Throttle(tools::Process& p, int run_ms, int stop_ms)
      : p_(p), run_ms_(run_ms), stop_ms_(stop_ms), thread_([this] { run(); }) {}
  ~Throttle() {
    stop_.store(true);
    thread_.join();
    p_.kill(SIGCONT);
  }

 private:
  void run() {
    while (!stop_.load()) {
      p_.kill(SIGSTOP);
      std::this_thread::sleep_for(std::chrono::milliseconds(stop_ms_));
      p_.kill(SIGCONT);
      std::this_thread::sleep_for(std::chrono::milliseconds(run_ms_));
    }
  }
  tools::Process& p_;
  const int run_ms_, stop_ms_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Injects, holds until the guards acted (then kAfterActionMs more) or the
// longest hold, heals, and waits for every incident to close.
void run_guarded(DrillCluster& c, GuardedFault g, const std::function<bool(GuardedFault&)>& inject,
                 const std::function<void()>& heal, DrillReport& report) {
  g.start_ms = now_ms();
  const int64_t wall0 = ops::wall_ms();
  if (!inject(g)) {
    report.failures.push_back(g.kind + " could not be injected: " + g.detail);
    return;
  }
  say(fmt::format("{} on {}: {}", g.kind, g.target, g.detail));
  Seen seen;
  for (;;) {
    sleep_ms(250);
    // The earliest of every look (a node that does not answer one look
    // loses nothing already seen).
    const Seen now = look(c, wall0);
    if (now.detected_wall >= 0 && (seen.detected_wall < 0 || now.detected_wall < seen.detected_wall)) {
      seen.detected_wall = now.detected_wall;
      seen.by = now.by;
    }
    if (now.acted_wall >= 0 && (seen.acted_wall < 0 || now.acted_wall < seen.acted_wall)) {
      seen.acted_wall = now.acted_wall;
      seen.action = now.action;
    }
    const int64_t held = now_ms() - g.start_ms;
    if (seen.acted_wall >= 0 && ops::wall_ms() - seen.acted_wall >= kAfterActionMs) break;
    if (!g.action_needed && seen.acted_wall < 0 && held >= kSurgeMs) break;
    if (held >= kHoldMaxMs) break;
  }
  heal();
  g.end_ms = now_ms();
  g.detected_after_ms = seen.detected_wall < 0 ? -1 : seen.detected_wall - wall0;
  g.detected_by = seen.by;
  g.remediated_after_ms = seen.acted_wall < 0 ? -1 : seen.acted_wall - wall0;
  g.action = seen.action;
  say(fmt::format("{} healed after {:.1f} s: detected after {}, acted after {}: {}", g.kind,
                  (g.end_ms - g.start_ms) / 1000.0,
                  g.detected_after_ms < 0 ? "-" : fmt::format("{:.1f} s", g.detected_after_ms / 1000.0),
                  g.remediated_after_ms < 0 ? "-" : fmt::format("{:.1f} s", g.remediated_after_ms / 1000.0),
                  g.action.empty() ? "no action" : g.action));
  if (g.action_needed && g.remediated_after_ms < 0) {
    report.failures.push_back(g.kind + ": no guard acted (" + (seen.by.empty() ? "nothing seen" : seen.by) + ")");
  }
  report.guarded.push_back(g);
  for (int64_t waited = 0; waited < 45'000 && look(c, wall0).open; waited += 500) sleep_ms(500);
  sleep_ms(3'000);
}

// The etcd leader, or the reason there is none.
bool aim_leader(DrillCluster& c, GuardedFault& g, int& leader) {
  leader = c.etcd_leader();
  if (leader < 0) {
    g.detail = "no etcd leader";
    return false;
  }
  g.target = c.etcd[static_cast<size_t>(leader)].name + " (leader)";
  return true;
}

// After a slow leader's fault: the guards must have moved the leadership.
void expect_moved(DrillCluster& c, int slow, const GuardedFault& g, DrillReport& report) {
  if (g.remediated_after_ms < 0) return;
  const int now = c.etcd_leader();
  if (now == slow) {
    report.failures.push_back(fmt::format("{}: the guard acted ({}) but {} still leads", g.kind, g.action,
                                          c.etcd[static_cast<size_t>(slow)].name));
  }
}

// `quiet_from`: the "before" window starts no earlier (after the last fault
// and its settling).
void percentiles(const std::vector<DrillOp>& ops, int64_t quiet_from, GuardedFault& g) {
  std::vector<int64_t> before, during, after;
  const int64_t acted = g.remediated_after_ms < 0 ? -1 : g.start_ms + g.remediated_after_ms;
  // The windows: before the fault (15 s at most, after the last one settled),
  // during it (until the action, if any), after the action (from 2 s on).
  const int64_t before_from = std::max(quiet_from, g.start_ms - 15'000);
  const int64_t during_to = acted < 0 ? g.end_ms : acted;
  for (const DrillOp& op : ops) {
    if (op.target != "/v1/bets") continue;
    for (const Attempt& a : op.indefinite) {
      if (a.kind.rfind("429", 0) == 0 && a.at_ms >= g.start_ms && a.at_ms <= g.end_ms) ++g.bets_refused_overloaded;
    }
    if (!op.h.answered || op.status < 200 || op.status >= 300) continue;
    const int64_t sent = op.h.first_sent_ms, took = op.h.answered_ms - op.h.first_sent_ms;
    if (sent >= before_from && sent < g.start_ms) before.push_back(took);
    else if (sent >= g.start_ms && sent < during_to) during.push_back(took);
    else if (acted >= 0 && sent >= acted + 2'000 && sent < g.end_ms) after.push_back(took);
  }
  auto rate = [](size_t n, int64_t from, int64_t to) {
    return to > from ? static_cast<double>(n) * 1000.0 / static_cast<double>(to - from) : -1.0;
  };
  g.bets_per_s_before = rate(before.size(), before_from, g.start_ms);
  g.bets_per_s_fault = rate(during.size(), g.start_ms, during_to);
  auto p99 = [](std::vector<int64_t> v) {
    if (v.empty()) return -1.0;
    std::sort(v.begin(), v.end());
    return static_cast<double>(v[std::min(v.size() - 1, v.size() * 99 / 100)]);
  };
  g.p99_before_ms = p99(before);
  g.p99_fault_ms = p99(during);
  g.p99_after_ms = p99(after);
}

// The three faults in turn.
void inject_all(const DrillOptions& o, DrillCluster& c, Workload& load, DrillReport& report) {
  int slow = -1;
  GuardedFault disk;
  disk.kind = "slow_disk";
  run_guarded(
      c, disk,
      [&](GuardedFault& g) {
        if (!aim_leader(c, g, slow)) return false;
        c.set_etcd_fsync_delay(slow, kSlowFsyncMs);
        g.detail = fmt::format("every fsync of its data {} ms slower (betcore-slowfs)", kSlowFsyncMs);
        return true;
      },
      [&] { c.set_etcd_fsync_delay(slow, 0); }, report);
  if (!report.guarded.empty()) expect_moved(c, slow, report.guarded.back(), report);

  std::unique_ptr<Throttle> throttle;
  GuardedFault member;
  member.kind = "slow_etcd_member";
  const size_t before = report.guarded.size();
  run_guarded(
      c, member,
      [&](GuardedFault& g) {
        if (!aim_leader(c, g, slow)) return false;
        throttle = std::make_unique<Throttle>(c.etcd[static_cast<size_t>(slow)].process, 50, 100);
        g.detail = "it runs 50 ms in every 150 (SIGSTOP/SIGCONT): CPU-starved";
        return true;
      },
      [&] { throttle.reset(); }, report);
  if (report.guarded.size() > before) expect_moved(c, slow, report.guarded.back(), report);

  GuardedFault surge;
  surge.kind = "bet_surge";
  surge.action_needed = false;  // admission tightens only if the queue wait passes the SLO
  run_guarded(
      c, surge,
      [&](GuardedFault& g) {
        load.set_active_clients(o.clients * kSurgeFactor);
        g.target = "the punters";
        g.detail = fmt::format("{}x the punters ({} to {}), the new ones placing only bets", kSurgeFactor, o.clients,
                               o.clients * kSurgeFactor);
        return true;
      },
      [&] { load.set_active_clients(o.clients); }, report);
}

}  // namespace

bool run_detection(const DrillOptions& o, TestNet& net, const fs::path& root, DrillReport& report) {
  std::error_code ec;
  const std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  std::string why;
  DrillCluster cluster(net, root, self, o.haproxy_template);
  cluster.slowfs = (fs::path(self).parent_path() / "betcore-slowfs").string();
  if (::access(cluster.slowfs.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "betcore drill: %s is missing (it is built beside betcore)\n", cluster.slowfs.c_str());
    return false;
  }
  cluster.node_args = {"--guard-warmup-samples", kWarmupSamples};
  if (!cluster.start(why)) {
    std::fprintf(stderr, "betcore drill: the cluster did not start: %s\n", why.c_str());
    return false;
  }
  say(fmt::format("cluster up: etcd {} (data on betcore-slowfs), HAProxy 127.0.0.1:{}", cluster.endpoints(),
                  cluster.haproxy_port));
  Recorder recorder(cluster.endpoint_list());
  Workload load(cluster.haproxy_port, cluster, o.clients * kSurgeFactor, o.seed);
  if (!load.set_up(why)) {
    std::fprintf(stderr, "betcore drill: setting up the book failed: %s\n", why.c_str());
    return false;
  }
  load.set_active_clients(o.clients);
  load.set_pace_ms(kPaceMs);
  load.set_bets_only_from(o.clients);
  Monitor monitor(cluster);
  load.start();
  report.load_started_ms = now_ms();
  say(fmt::format("load: {} punters, {} ms apart; the guards learn its shape for {} s", o.clients, kPaceMs,
                  std::stoi(kWarmupSamples) + 10));
  sleep_ms((std::stoi(kWarmupSamples) + 10) * 1'000);
  inject_all(o, cluster, load, report);
  report.faults_ended_ms = now_ms();
  load.stop();
  report.load_stopped_ms = now_ms();
  cluster.heal_everything(report.failures);
  const bool converged = converge(cluster, wait_for_log_head(cluster, recorder), report.failures, 120'000);
  monitor.stop();
  recorder.stop();
  if (!recorder.problem().empty()) report.failures.push_back(recorder.problem());
  const std::vector<DrillOp> ops = load.ops();
  int64_t quiet_from = report.load_started_ms;
  for (GuardedFault& g : report.guarded) {
    percentiles(ops, quiet_from, g);
    quiet_from = g.end_ms + 1'000;
    // With the accepted bets' rates: a surge the cluster had no room for
    // says so.
    if (g.detected_after_ms < 0) {
      report.failures.push_back(fmt::format("{}: no guard raised an incident (acknowledged bets {:.0f}/s before, "
                                            "{:.0f}/s during)",
                                            g.kind, g.bets_per_s_before, g.bets_per_s_fault));
    }
  }
  check_run(cluster, ops, recorder.entries(), converged, report);
  fill_report(report, ops_for_report(ops), monitor.samples());
  cluster.stop_all(o.keep);
  return true;
}

}  // namespace betcore::drill
