// The incident report (incident_report.h).
#include "node/incident_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ops/wall_clock.h"

namespace betcore::node {
namespace {

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// For people reading the report.
std::string utc(int64_t ms) { return ops::utc_text(ms, "%Y-%m-%d %H:%M:%S UTC"); }

// The signal over the incident: its line, the expected range as a band, a
// mark at each timeline event.
std::string chart(const Incident& i) {
  if (i.series.empty()) return "<p>No samples were recorded.</p>";
  const int w = 900, h = 220, left = 60, right = 12, top = 14, bottom = 26;
  const int64_t t0 = i.series.front().first;
  const int64_t t1 = std::max(i.ended_ms != 0 ? i.ended_ms : i.series.back().first, t0 + 1000);
  double hi = std::max(i.expected_high, 0.0);
  for (const auto& [at, v] : i.series) {
    if (std::isfinite(v)) hi = std::max(hi, v);
  }
  hi = hi > 0 ? hi * 1.1 : 1;
  auto X = [&](int64_t at) {
    return left + (w - left - right) * static_cast<double>(at - t0) / static_cast<double>(t1 - t0);
  };
  auto Y = [&](double v) { return top + (h - top - bottom) * (1 - std::clamp(v / hi, 0.0, 1.0)); };
  std::string s =
      fmt::format("<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}'>", w, h);
  if (i.kind == "anomaly") {
    s += fmt::format(
        "<rect x='{}' y='{:.1f}' width='{}' height='{:.1f}' fill='#2ea04326'><title>expected "
        "{:.4g}..{:.4g}</title></rect>",
        left, Y(i.expected_high), w - left - right,
        std::max(1.0, Y(i.expected_low) - Y(i.expected_high)), i.expected_low, i.expected_high);
  }
  s += fmt::format(
      "<line x1='{0}' y1='{1}' x2='{2}' y2='{1}' stroke='#888'/><line x1='{0}' y1='{3}' x2='{0}' "
      "y2='{1}' stroke='#888'/>",
      left, h - bottom, w - right, top);
  s += fmt::format("<text x='{}' y='{}' font-size='11' text-anchor='end'>{:.4g}</text>", left - 4,
                   top + 8, hi);
  s += fmt::format("<text x='{}' y='{}' font-size='11' text-anchor='end'>0</text>", left - 4,
                   h - bottom);
  s += fmt::format("<text x='{}' y='{}' font-size='11'>{}</text>", left, h - 8, esc(utc(t0)));
  s += fmt::format("<text x='{}' y='{}' font-size='11' text-anchor='end'>+{:.0f} s</text>",
                   w - right, h - 8, static_cast<double>(t1 - t0) / 1000);
  std::string points;
  for (const auto& [at, v] : i.series) {
    if (std::isfinite(v)) points += fmt::format("{:.1f},{:.1f} ", X(at), Y(v));
  }
  s += fmt::format("<polyline fill='none' stroke='#1f6feb' stroke-width='2' points='{}'/>", points);
  int n = 0;
  for (const IncidentEvent& e : i.timeline) {
    const double x = X(std::clamp(e.at_ms, t0, t1));
    s += fmt::format(
        "<line x1='{0:.1f}' y1='{1}' x2='{0:.1f}' y2='{2}' stroke='#d29922' stroke-dasharray='3 3'>"
        "<title>{3}</title></line><text x='{4:.1f}' y='{5}' font-size='11' "
        "fill='#d29922'>{6}</text>",
        x, top, h - bottom, esc(e.what), x + 2, top + 10, ++n);
  }
  return s + "</svg>";
}

}  // namespace

std::string incident_json(const Incident& i) {
  nlohmann::json j{{"id", i.id},
                   {"signal", i.signal},
                   {"kind", i.kind},
                   {"severity", i.severity},
                   {"started_at", ops::utc_text(i.started_ms)},
                   {"started_ms", i.started_ms},
                   {"open", i.ended_ms == 0},
                   {"seen", i.seen},
                   {"value", i.value},
                   {"expected", nlohmann::json::object({{"value", i.expected},
                                                        {"low", i.expected_low},
                                                        {"high", i.expected_high}})},
                   {"worst", i.worst},
                   {"action", i.action},
                   {"action_effect", i.action_effect},
                   {"recommendation", i.recommendation},
                   {"runbook", i.runbook}};
  if (i.ended_ms != 0) {
    j["ended_at"] = ops::utc_text(i.ended_ms);
    j["ended_ms"] = i.ended_ms;
  }
  nlohmann::json timeline = nlohmann::json::array();
  for (const IncidentEvent& e : i.timeline)
    timeline.push_back({{"at", ops::utc_text(e.at_ms)}, {"at_ms", e.at_ms}, {"what", e.what}});
  j["timeline"] = std::move(timeline);
  nlohmann::json series = nlohmann::json::array();
  for (const auto& [at, v] : i.series) series.push_back({at, std::isfinite(v) ? v : 0.0});
  j["series"] = std::move(series);
  return j.dump();
}

std::string incident_html(const Incident& i) {
  std::string h =
      "<!doctype html><html><head><meta charset='utf-8'><title>incident " + esc(i.id) +
      "</title><style>body{font:14px/1.45 system-ui,sans-serif;max-width:960px;margin:24px auto;"
      "color:#1f2328}td,th{text-align:left;padding:3px 8px;vertical-align:top}"
      "th{color:#59636e;font-weight:500}.open{color:#d1242f}</style></head><body>";
  h += fmt::format("<h1>Incident {}: {}</h1>", esc(i.id), esc(i.signal));
  h += fmt::format("<p class='{}'>{} {}, {} &middot; {}</p>", i.ended_ms == 0 ? "open" : "",
                   esc(i.severity), esc(i.kind), esc(utc(i.started_ms)),
                   i.ended_ms == 0
                       ? "still open"
                       : fmt::format("closed after {:.0f} s",
                                     static_cast<double>(i.ended_ms - i.started_ms) / 1000));
  h += "<table>";
  h += "<tr><th>seen</th><td>" + esc(i.seen) + "</td></tr>";
  if (i.kind == "anomaly") {
    h += fmt::format(
        "<tr><th>expected</th><td>{:.4g} .. {:.4g} (about {:.4g}); worst {:.4g}</td></tr>",
        i.expected_low, i.expected_high, i.expected, i.worst);
  }
  h += "<tr><th>done</th><td>" +
       (i.action.empty() ? std::string("nothing automatic") : esc(i.action)) + "</td></tr>";
  if (!i.action_effect.empty())
    h += "<tr><th>what it changed</th><td>" + esc(i.action_effect) + "</td></tr>";
  h += "<tr><th>a person must</th><td>" + esc(i.recommendation) + "</td></tr>";
  h += "<tr><th>runbook</th><td>" + esc(i.runbook) + "</td></tr></table>";
  h += "<h2>The signal</h2>" + chart(i);
  h += "<h2>Timeline</h2><ol>";
  for (const IncidentEvent& e : i.timeline)
    h += "<li>" + esc(utc(e.at_ms)) + ": " + esc(e.what) + "</li>";
  h += "</ol><p>The same as JSON beside this file (" + esc(i.id) + ".json).</p></body></html>\n";
  return h;
}

bool write_incident_report(const std::string& dir, const Incident& i, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "cannot create " + dir + ": " + ec.message();
    return false;
  }
  for (const auto& [ext, body] :
       {std::pair<std::string, std::string>{".html", incident_html(i)},
        std::pair<std::string, std::string>{".json", incident_json(i) + "\n"}}) {
    const std::string path = dir + "/" + i.id + ext;
    std::ofstream out(path, std::ios::trunc);
    out << body;
    if (!out) {
      error = "cannot write " + path;
      return false;
    }
  }
  return true;
}

}  // namespace betcore::node
