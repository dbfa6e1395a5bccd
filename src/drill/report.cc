// The drill's incident report: derived series, report.json, report.html and the summary on stdout.
#include "drill/report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

namespace betcore::drill {
namespace {

using json = nlohmann::json;

double percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));  // the lower one of two
  return static_cast<double>(v[std::min(i, v.size() - 1)]);
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string seconds(int64_t ms) { return ms < 0 ? "not seen" : fmt::format("{:.2f} s", static_cast<double>(ms) / 1000); }

struct KindStats {
  std::vector<int64_t> detect, recover, stall;
};

std::map<std::string, KindStats> by_kind(const DrillReport& r) {
  std::map<std::string, KindStats> out;
  for (const FaultRecord& f : r.faults) {
    KindStats& k = out[f.kind];
    if (f.detect_ms >= 0) k.detect.push_back(f.detect_ms);
    if (f.recover_ms >= 0) k.recover.push_back(f.recover_ms);
    if (f.stall_ms >= 0) k.stall.push_back(f.stall_ms);
  }
  return out;
}

json stats_json(std::vector<int64_t> v) {
  if (v.empty()) return json{{"count", 0}};
  std::sort(v.begin(), v.end());
  return json{{"count", v.size()}, {"median_ms", percentile(v, 0.5)}, {"worst_ms", v.back()}};
}

// One SVG line chart over the run, fault windows shaded and numbered.
std::string chart(const DrillReport& r, const std::string& title, const std::string& unit,
                  const std::vector<std::pair<std::string, std::vector<double>>>& series) {
  const int w = 960, h = 180, left = 50, right = 10, top = 22, bottom = 22;
  int64_t n = r.seconds.empty() ? 1 : r.seconds.back().second + 1;
  double max_v = 1;
  for (const auto& [name, v] : series) {
    for (double x : v) max_v = std::max(max_v, x);
  }
  auto X = [&](double second) { return left + (w - left - right) * second / static_cast<double>(std::max<int64_t>(n, 1)); };
  auto Y = [&](double v) { return top + (h - top - bottom) * (1 - v / max_v); };
  std::string s = fmt::format("<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' class='chart'>\n", w, h);
  s += fmt::format("<text x='{}' y='14' class='title'>{} ({})</text>\n", left, html_escape(title), html_escape(unit));
  for (size_t i = 0; i < r.faults.size(); ++i) {
    const FaultRecord& f = r.faults[i];
    double x0 = X(static_cast<double>(f.start_ms) / 1000), x1 = X(static_cast<double>(f.end_ms) / 1000);
    s += fmt::format("<rect x='{:.1f}' y='{}' width='{:.1f}' height='{}' class='fault'><title>{} {} on {}</title></rect>\n",
                     x0, top, std::max(1.0, x1 - x0), h - top - bottom, i + 1, html_escape(f.kind), html_escape(f.target));
    s += fmt::format("<text x='{:.1f}' y='{}' class='faultno'>{}</text>\n", x0 + 1, top + 10, i + 1);
  }
  s += fmt::format("<line x1='{}' y1='{}' x2='{}' y2='{}' class='axis'/>\n", left, h - bottom, w - right, h - bottom);
  s += fmt::format("<line x1='{}' y1='{}' x2='{}' y2='{}' class='axis'/>\n", left, top, left, h - bottom);
  s += fmt::format("<text x='{}' y='{}' class='tick' text-anchor='end'>{:.0f}</text>\n", left - 4, top + 8, max_v);
  s += fmt::format("<text x='{}' y='{}' class='tick' text-anchor='end'>0</text>\n", left - 4, h - bottom);
  for (int64_t t = 0; t < n; t += 30) {
    s += fmt::format("<text x='{:.1f}' y='{}' class='tick'>{} s</text>\n", X(static_cast<double>(t)), h - 6, t);
  }
  const char* colors[] = {"#1f6feb", "#d1242f", "#8250df"};
  size_t c = 0;
  for (const auto& [name, v] : series) {
    std::string points;
    for (size_t i = 0; i < v.size() && i < r.seconds.size(); ++i) {
      points += fmt::format("{:.1f},{:.1f} ", X(static_cast<double>(r.seconds[i].second) + 0.5), Y(v[i]));
    }
    s += fmt::format("<polyline fill='none' stroke='{}' stroke-width='1.5' points='{}'/>\n", colors[c % 3], points);
    s += fmt::format("<text x='{}' y='14' fill='{}' class='legend'>{}</text>\n", w - 260 + 90 * static_cast<int>(c),
                     colors[c % 3], html_escape(name));
    ++c;
  }
  return s + "</svg>\n";
}

// Detected: the first health sample after the start that shows the
// component down (a node not ready, an etcd member unhealthy); -1: none.
int64_t detected_ms(const FaultRecord& f, const std::vector<HealthPoint>& health) {
  for (const HealthPoint& h : health) {
    if (h.at_ms < f.start_ms) continue;
    bool bad = f.component == "node" ? !h.node_ready.at(static_cast<size_t>(f.component_index))
                                     : !h.etcd_healthy.at(static_cast<size_t>(f.component_index));
    if (bad) return h.at_ms - f.start_ms;
    if (h.at_ms > f.end_ms) break;
  }
  return -1;
}

// Recovered: the first write sent after the start that was acknowledged; -1: none.
int64_t recovered_ms(const FaultRecord& f, const std::vector<OpPoint>& ops) {
  int64_t best = -1;
  for (const OpPoint& op : ops) {
    if (op.read || !op.acknowledged || op.sent_ms < f.start_ms) continue;
    int64_t t = op.answered_ms - f.start_ms;
    if (best < 0 || t < best) best = t;
  }
  return best;
}

}  // namespace

void fill_report(DrillReport& r, const std::vector<OpPoint>& ops, const std::vector<HealthPoint>& health) {
  int64_t last = 0;
  for (const OpPoint& op : ops) last = std::max(last, op.answered ? op.answered_ms : op.sent_ms);
  const int64_t n = last / 1000 + 1;
  r.seconds.assign(static_cast<size_t>(n), SecondStats{});
  std::vector<std::vector<int64_t>> latencies(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) r.seconds[static_cast<size_t>(i)].second = i;
  for (const OpPoint& op : ops) {
    for (const auto& [at, kind] : op.errors) {
      ++r.client_errors[kind];
      ++r.seconds[static_cast<size_t>(std::min(at / 1000, n - 1))].errors;
    }
    if (!op.answered) continue;
    SecondStats& s = r.seconds[static_cast<size_t>(std::min(op.answered_ms / 1000, n - 1))];
    if (op.read) {
      ++s.reads;
      ++r.reads;
    } else if (op.acknowledged) {
      ++s.acknowledged;
      ++r.writes_acknowledged;
      latencies[static_cast<size_t>(s.second)].push_back(op.answered_ms - op.sent_ms);
    } else {
      ++s.rejected;
      ++r.writes_rejected;
    }
  }
  for (size_t i = 0; i < r.seconds.size(); ++i) {
    r.seconds[i].p50_ms = percentile(latencies[i], 0.5);
    r.seconds[i].p99_ms = percentile(latencies[i], 0.99);
  }
  for (FaultRecord& f : r.faults) {
    // A feed fault's heal measured both on the feed's markets (faults_feed.cc),
    // a payments fault's its recovery on the backlog (faults_payments.cc).
    if (f.component != "feed" && f.component != "payments") {
      f.detect_ms = detected_ms(f, health);
      f.recover_ms = recovered_ms(f, ops);
    }
    // The longest stall: no write acknowledged (by anyone) for this long.
    std::vector<int64_t> acks;
    for (const OpPoint& op : ops) {
      if (!op.read && op.acknowledged && op.answered_ms >= f.start_ms && op.answered_ms <= f.end_ms + 2'000) {
        acks.push_back(op.answered_ms);
      }
    }
    std::sort(acks.begin(), acks.end());
    int64_t prev = f.start_ms, stall = 0;
    for (int64_t t : acks) {
      stall = std::max(stall, t - prev);
      prev = t;
    }
    f.stall_ms = std::max(stall, f.end_ms + 2'000 - prev);
  }
}

namespace {

json report_json(const DrillReport& r) {
  json j;
  j["seed"] = r.seed;
  j["passed"] = r.failures.empty();
  j["failures"] = r.failures;
  j["wall_seconds"] = r.wall_s;
  j["acknowledged_writes_lost"] = r.acknowledged_lost;
  j["replicas_agree"] = r.replicas_agree;
  j["writes_acknowledged"] = r.writes_acknowledged;
  j["writes_rejected"] = r.writes_rejected;
  j["reads"] = r.reads;
  j["log"] = {{"entries", r.log_entries}, {"commands", r.log_commands}, {"writes_checked", r.writes_checked},
              {"reads_checked", r.reads_checked}};
  j["client_errors"] = r.client_errors;
  json faults = json::array();
  for (const FaultRecord& f : r.faults) {
    faults.push_back({{"kind", f.kind}, {"target", f.target}, {"start_ms", f.start_ms}, {"end_ms", f.end_ms},
                      {"detect_ms", f.detect_ms}, {"recover_ms", f.recover_ms}, {"longest_stall_ms", f.stall_ms},
                      {"detail", f.detail},
                      {"problems", f.problems}, {"violations", f.violations}});
  }
  j["faults"] = faults;
  json kinds = json::object();
  for (auto& [kind, k] : by_kind(r)) {
    kinds[kind] = {{"detect", stats_json(k.detect)}, {"recover", stats_json(k.recover)}, {"longest_stall", stats_json(k.stall)}};
  }
  j["by_kind"] = kinds;
  json secs = json::array();
  for (const SecondStats& s : r.seconds) {
    secs.push_back({{"second", s.second}, {"acknowledged", s.acknowledged}, {"rejected", s.rejected},
                    {"reads", s.reads}, {"errors", s.errors}, {"p50_ms", s.p50_ms}, {"p99_ms", s.p99_ms}});
  }
  j["seconds"] = secs;
  if (r.site_loss.ran) {
    const SiteLossRecord& l = r.site_loss;
    j["site_loss"] = {{"lost_at_ms", l.lost_at_ms},
                      {"log_head_at_loss", l.log_head_at_loss},
                      {"archived_at_loss", l.archived_at_loss},
                      {"restored_position", l.restored_position},
                      {"digest", l.digest},
                      {"digest_checked", l.digest_checked},
                      {"proof", l.proof},
                      {"commands_restored", l.commands_restored},
                      {"restore_seconds", l.restore_s},
                      {"serving_after_ms", l.serving_after_ms},
                      {"first_write_acknowledged_after_ms", l.first_ack_after_ms},
                      {"acknowledged_before_loss_restored", l.acked_kept},
                      {"acknowledged_before_loss_lost", l.acked_lost},
                      {"rpo_ms", l.rpo_ms}};
  }
  json guarded = json::array();
  for (const GuardedFault& g : r.guarded) {
    guarded.push_back({{"kind", g.kind}, {"target", g.target}, {"detail", g.detail}, {"start_ms", g.start_ms},
                       {"end_ms", g.end_ms}, {"detected_after_ms", g.detected_after_ms},
                       {"detected_by", g.detected_by}, {"remediated_after_ms", g.remediated_after_ms},
                       {"action", g.action}, {"action_needed", g.action_needed},
                       {"bet_p99_before_ms", g.p99_before_ms}, {"bet_p99_fault_ms", g.p99_fault_ms},
                       {"bet_p99_after_action_ms", g.p99_after_ms},
                       {"bets_per_second_before", g.bets_per_s_before},
                       {"bets_per_second_fault", g.bets_per_s_fault},
                       {"bets_refused_overloaded", g.bets_refused_overloaded}});
  }
  if (!r.guarded.empty()) {
    j["detection"] = {{"faults", guarded}, {"bet_latency_slo_ms", r.bet_latency_slo_ms},
                      {"targets", {{"detected_within_ms", 10'000}, {"remediated_within_ms", 20'000}}}};
  }
  return j;
}

// The detection scenario's table (detection.h); "" for other runs.
std::string guarded_html(const DrillReport& r) {
  if (r.guarded.empty()) return "";
  auto met = [](bool ok) { return ok ? "ok" : "bad"; };
  auto ms = [](double v) { return v < 0 ? std::string("-") : fmt::format("{:.0f} ms", v); };
  std::string h = fmt::format(
      "<h2>Faults only detection catches</h2><p>Targets: detected within 10 s, remediated within 20 s, "
      "the p99 of bets placed after the action within the {:.0f} ms SLO.</p><table><tr><th>fault</th><th>on</th>"
      "<th>detected after</th><th>by</th><th>remediated after</th><th>action</th><th>bet p99 before</th>"
      "<th>during, before the action</th><th>after the action</th><th>429s</th></tr>\n",
      r.bet_latency_slo_ms);
  for (const GuardedFault& g : r.guarded) {
    const bool detected = g.detected_after_ms >= 0 && g.detected_after_ms <= 10'000;
    const bool remediated = g.remediated_after_ms >= 0 ? g.remediated_after_ms <= 20'000 : !g.action_needed;
    const bool in_slo = g.p99_after_ms >= 0 ? g.p99_after_ms <= r.bet_latency_slo_ms
                                            : g.p99_fault_ms <= r.bet_latency_slo_ms;
    h += fmt::format(
        "<tr><td>{}</td><td>{}</td><td class='{}'>{}</td><td>{}</td><td class='{}'>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td class='{}'>{}</td><td>{}</td></tr>\n",
        g.kind, html_escape(g.target), met(detected), seconds(g.detected_after_ms), html_escape(g.detected_by),
        met(remediated), g.remediated_after_ms < 0 && !g.action_needed ? "none needed" : seconds(g.remediated_after_ms),
        html_escape(g.action.empty() ? "-" : g.action), ms(g.p99_before_ms), ms(g.p99_fault_ms), met(in_slo),
        ms(g.p99_after_ms), g.bets_refused_overloaded);
  }
  return h + "</table>\n<p>Each node's incidents, with the guard's timeline, are in its data directory "
             "(<code>incidents/</code>) and at <code>GET /v1/incidents</code>.</p>\n";
}

// The site-loss scenario's table (site_loss.h); "" for a faults run.
std::string site_loss_html(const SiteLossRecord& l) {
  if (!l.ran) return "";
  std::string h = "<h2>The whole site lost, a new cluster restored from the archive</h2><table>\n";
  h += fmt::format("<tr><th>lost at</th><td>{:.1f} s: every node and etcd member killed, data deleted; log head {}, "
                   "archived {}</td></tr>\n",
                   l.lost_at_ms / 1000.0, l.log_head_at_loss, l.archived_at_loss);
  h += fmt::format("<tr><th>RPO: acknowledged writes lost</th><td>{}, the oldest acknowledged {} ms before the loss "
                   "({} acknowledged before it restored)</td></tr>\n",
                   l.acked_lost, l.rpo_ms, l.acked_kept);
  h += fmt::format("<tr><th>restored</th><td>position {}, {} commands, digest {} ({})</td></tr>\n",
                   l.restored_position, l.commands_restored, html_escape(l.digest), html_escape(l.proof));
  h += fmt::format("<tr><th>restore time (<code>betcore restore --etcd</code>)</th><td>{:.2f} s</td></tr>\n",
                   l.restore_s);
  h += fmt::format("<tr><th>serving again after the loss (new etcd, restore, every node ready)</th><td>{}</td></tr>\n",
                   seconds(l.serving_after_ms));
  h += fmt::format("<tr><th>first write the new cluster acknowledged, after the loss</th><td>{}</td></tr>\n",
                   seconds(l.first_ack_after_ms));
  return h + "</table>\n";
}

// The per-kind recovery table, the timeline and the client errors.
std::string html_tables(const DrillReport& r) {
  std::string h;
  h += "<h2>Recovery by fault type</h2><table><tr><th>fault</th><th>n</th><th>detected, median</th><th>worst</th>"
       "<th>recovered, median</th><th>worst</th><th>longest stall, median</th><th>worst</th></tr>\n";
  for (auto& [kind, k] : by_kind(r)) {
    size_t count = 0;
    for (const FaultRecord& f : r.faults) count += f.kind == kind ? 1 : 0;
    auto med = [](std::vector<int64_t> v) { return v.empty() ? std::string("not seen") : seconds(static_cast<int64_t>(percentile(v, 0.5))); };
    auto worst = [](std::vector<int64_t> v) { return v.empty() ? std::string("-") : seconds(*std::max_element(v.begin(), v.end())); };
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                     kind, count, med(k.detect), worst(k.detect), med(k.recover), worst(k.recover), med(k.stall),
                     worst(k.stall));
  }
  h += "</table>\n<h2>Timeline</h2><table><tr><th>#</th><th>at</th><th>fault</th><th>on</th><th>for</th>"
       "<th>detected after</th><th>first acknowledged write after</th><th>longest stall</th><th>notes</th></tr>\n";
  for (size_t i = 0; i < r.faults.size(); ++i) {
    const FaultRecord& f = r.faults[i];
    std::string notes = f.detail;
    for (const std::string& p : f.problems) notes += (notes.empty() ? "" : "; ") + p;
    for (const std::string& v : f.violations) notes += (notes.empty() ? "" : "; ") + ("VIOLATED: " + v);
    h += fmt::format(
        "<tr><td>{}</td><td>{:.1f} s</td><td>{}</td><td>{}</td><td>{:.1f} s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        i + 1, static_cast<double>(f.start_ms) / 1000, f.kind, html_escape(f.target),
        static_cast<double>(f.end_ms - f.start_ms) / 1000, seconds(f.detect_ms), seconds(f.recover_ms),
        seconds(f.stall_ms), html_escape(notes));
  }
  h += "</table>\n<h2>Errors clients saw (each retried with the same id until it had a definite answer)</h2><table>\n";
  for (const auto& [kind, n] : r.client_errors) h += fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", html_escape(kind), n);
  if (r.client_errors.empty()) h += "<tr><td>none</td></tr>\n";
  h += "</table>\n<p>Detected: the first health sample (every 200 ms: each node's <code>/health/ready</code>, each etcd "
       "member's <code>/health</code>) after the fault that shows the component down; \"not seen\" when the component "
       "stayed healthy. Recovered: the first write sent after the fault began that was acknowledged (through HAProxy). "
       "Longest stall: the longest time, from the fault to 2 s after it was healed, with no write acknowledged at all. "
       "The same facts are in report.json.</p>\n</body></html>\n";
  return h;
}

std::string report_html(const DrillReport& r) {
  std::vector<double> acks, p50, p99, errors;
  for (const SecondStats& s : r.seconds) {
    acks.push_back(static_cast<double>(s.acknowledged));
    p50.push_back(s.p50_ms);
    p99.push_back(s.p99_ms);
    errors.push_back(static_cast<double>(s.errors));
  }
  std::string h;
  h += "<!doctype html><html><head><meta charset='utf-8'><title>betcore drill report</title><style>\n"
       "body{font:14px system-ui,sans-serif;margin:24px;color:#1f2328}h1{font-size:20px}h2{font-size:16px;margin-top:28px}"
       "table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left}"
       ".ok{color:#1a7f37;font-weight:600}.bad{color:#d1242f;font-weight:600}"
       ".chart .fault{fill:#d1242f;opacity:.12}.chart .faultno{font-size:9px;fill:#d1242f}"
       ".chart .axis{stroke:#8c959f}.chart .tick{font-size:10px;fill:#57606a}.chart .title{font-size:12px;font-weight:600}"
       ".chart .legend{font-size:11px}\n</style></head><body>\n";
  h += fmt::format("<h1>betcore failover drill (seed {})</h1>\n", r.seed);
  h += fmt::format("<p class='{}'>{}</p>\n", r.failures.empty() ? "ok" : "bad",
                   r.failures.empty() ? "Every invariant held." : fmt::format("{} invariant violation(s).", r.failures.size()));
  h += "<table>\n";
  h += fmt::format("<tr><th>faults injected</th><td>{}</td></tr>\n", r.faults.size());
  h += fmt::format("<tr><th>acknowledged writes lost</th><td class='{}'>{}</td></tr>\n",
                   r.acknowledged_lost == 0 ? "ok" : "bad", r.acknowledged_lost);
  h += fmt::format("<tr><th>replicas agree (applied index, checkpoint digest)</th><td class='{}'>{}</td></tr>\n",
                   r.replicas_agree ? "ok" : "bad", r.replicas_agree ? "yes" : "no");
  h += fmt::format("<tr><th>writes acknowledged / rejected, reads</th><td>{} / {}, {}</td></tr>\n",
                   r.writes_acknowledged, r.writes_rejected, r.reads);
  h += fmt::format("<tr><th>log checked against the model</th><td>{} entries, {} commands, {} writes and {} reads checked</td></tr>\n",
                   r.log_entries, r.log_commands, r.writes_checked, r.reads_checked);
  h += fmt::format("<tr><th>wall time</th><td>{:.0f} s</td></tr>\n</table>\n", r.wall_s);
  if (!r.failures.empty()) {
    h += "<h2>Violations</h2><ul>\n";
    for (const std::string& f : r.failures) h += "<li>" + html_escape(f) + "</li>\n";
    h += "</ul>\n";
  }
  h += site_loss_html(r.site_loss);
  h += guarded_html(r);
  h += "<h2>Over time</h2>\n";
  h += chart(r, "acknowledged writes per second", "1/s", {{"acknowledged", acks}});
  h += chart(r, "write latency", "ms", {{"p50", p50}, {"p99", p99}});
  h += chart(r, "indefinite answers per second (each retried)", "1/s", {{"errors", errors}});
  return h + html_tables(r);
}

}  // namespace

void write_report(const std::filesystem::path& dir, const DrillReport& r) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "report.json") << report_json(r).dump(2) << "\n";
  std::ofstream(dir / "report.html") << report_html(r);
}

void print_summary(const DrillReport& r, const std::filesystem::path& dir) {
  std::printf("\nbetcore drill: %s\n", r.failures.empty() ? "every invariant held" : "INVARIANTS VIOLATED");
  std::printf("  faults injected            %zu\n", r.faults.size() + r.guarded.size());
  std::printf("  acknowledged writes lost   %llu\n", static_cast<unsigned long long>(r.acknowledged_lost));
  std::printf("  replicas agree             %s\n", r.replicas_agree ? "yes" : "no");
  std::printf("  writes acknowledged        %llu (rejected %llu), reads %llu\n",
              static_cast<unsigned long long>(r.writes_acknowledged), static_cast<unsigned long long>(r.writes_rejected),
              static_cast<unsigned long long>(r.reads));
  std::printf("  log checked                %llu entries, %llu commands\n", static_cast<unsigned long long>(r.log_entries),
              static_cast<unsigned long long>(r.log_commands));
  if (!r.faults.empty()) std::printf("  recovery by fault type (first acknowledged write sent after the fault):\n");
  for (auto& [kind, k] : by_kind(r)) {
    std::vector<int64_t> rec = k.recover, det = k.detect;
    std::vector<int64_t> st = k.stall;
    std::printf("    %-26s median %7s worst %7s | longest stall median %7s worst %7s | detected median %s\n",
                kind.c_str(), rec.empty() ? "-" : seconds(static_cast<int64_t>(percentile(rec, 0.5))).c_str(),
                rec.empty() ? "-" : seconds(*std::max_element(rec.begin(), rec.end())).c_str(),
                st.empty() ? "-" : seconds(static_cast<int64_t>(percentile(st, 0.5))).c_str(),
                st.empty() ? "-" : seconds(*std::max_element(st.begin(), st.end())).c_str(),
                det.empty() ? "not seen" : seconds(static_cast<int64_t>(percentile(det, 0.5))).c_str());
  }
  if (r.site_loss.ran) {
    const SiteLossRecord& l = r.site_loss;
    std::printf("  site lost at %.1f s: restored position %llu (%llu commands) in %.2f s, serving again after %s\n",
                l.lost_at_ms / 1000.0, static_cast<unsigned long long>(l.restored_position),
                static_cast<unsigned long long>(l.commands_restored), l.restore_s, seconds(l.serving_after_ms).c_str());
    std::printf("  RPO: %llu acknowledged writes lost, the oldest acknowledged %lld ms before the loss; first "
                "write acknowledged by the new cluster %s after the loss\n",
                static_cast<unsigned long long>(l.acked_lost), static_cast<long long>(l.rpo_ms),
                seconds(l.first_ack_after_ms).c_str());
  }
  if (!r.guarded.empty()) std::printf("  faults only detection catches (targets: detected <= 10 s, remediated <= 20 s, bet p99 after <= %.0f ms):\n", r.bet_latency_slo_ms);
  for (const GuardedFault& g : r.guarded) {
    std::printf("  %-17s detected after %-9s remediated after %-11s bet p99 %s before, %s during, %s after "
                "the action\n      bets %.0f/s before, %.0f/s during\n      by %s\n      action: %s\n",
                g.kind.c_str(), seconds(g.detected_after_ms).c_str(),
                g.remediated_after_ms < 0 && !g.action_needed ? "(none needed)" : seconds(g.remediated_after_ms).c_str(),
                fmt::format("{:.0f} ms", g.p99_before_ms).c_str(), fmt::format("{:.0f} ms", g.p99_fault_ms).c_str(),
                fmt::format("{:.0f} ms", g.p99_after_ms).c_str(), g.bets_per_s_before, g.bets_per_s_fault,
                g.detected_by.c_str(),
                g.action.empty() ? "-" : g.action.c_str());
  }
  std::printf("  client errors (retried):\n");
  for (const auto& [kind, n] : r.client_errors) std::printf("    %-26s %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
  for (const std::string& f : r.failures) std::printf("  violated: %s\n", f.c_str());
  std::printf("  report: %s/report.html (and report.json)\n", dir.c_str());
}

}  // namespace betcore::drill
