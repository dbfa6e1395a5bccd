#include "tools/bench.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <ostream>
#include <utility>

#include "tools/bench_load.h"
#include "tools/bench_plan.h"
#include "tools/bench_probe.h"
#include "tools/bench_report.h"
#include "tools/bench_setup.h"
#include "tools/tokens_file.h"
#include "tools/tls_flags.h"

namespace betcore::tools {

namespace {

constexpr std::string_view kDefaultTarget = "http://127.0.0.1:8080";

// Resolves the admin, trader and payments tokens from the file and the
// ROLE=TOKEN overrides; "" or an error for a person.
std::string resolve_tokens(const BenchOptions& o, BenchTokens& tokens) {
  if (!o.tokens_file.empty()) {
    std::string error;
    auto file = read_tokens_file(o.tokens_file, &error);
    if (!file) return error;
    if (!file->errors.empty()) {
      std::string all = "bad tokens file " + o.tokens_file + ":";
      for (const auto& e : file->errors) all += "\n  " + e;
      return all;
    }
    tokens.admin = file->first("admin").value_or("");
    tokens.trader = file->first("trader").value_or("");
    tokens.payments = file->first("payments").value_or("");
  }
  for (const auto& spec : o.tokens) {
    auto eq = spec.find('=');
    std::string role = spec.substr(0, eq);
    if (eq == std::string::npos || eq + 1 == spec.size()) {
      return "--token wants ROLE=TOKEN, got `" + spec + "`";
    }
    std::string token = spec.substr(eq + 1);
    if (role == "admin") {
      tokens.admin = token;
    } else if (role == "trader") {
      tokens.trader = token;
    } else if (role == "payments") {
      tokens.payments = token;
    } else if (!is_known_role(role)) {
      return "--token: unknown role `" + role + "`";
    }  // feed and punter tokens are not used by the bench
  }
  std::string missing;
  for (auto [role, token] : {std::pair{"admin", &tokens.admin}, std::pair{"trader", &tokens.trader},
                             std::pair{"payments", &tokens.payments}}) {
    if (token->empty()) missing += std::string(missing.empty() ? "" : ", ") + role;
  }
  if (!missing.empty()) {
    return "no " + missing +
           " token: the bench needs admin, trader and payments tokens. Pass the node's tokens "
           "file with --tokens FILE, or --token ROLE=TOKEN for each.";
  }
  return {};
}

// "node-1=4242" -> (node-1, 4242); nullopt unless NAME is non-empty and PID a
// positive number.
std::optional<std::pair<std::string, int>> parse_process(const std::string& spec) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size() || eq + 1 + 9 < spec.size()) return std::nullopt;
  int pid = 0;
  for (size_t i = eq + 1; i < spec.size(); ++i) {
    if (spec[i] < '0' || spec[i] > '9') return std::nullopt;
    pid = pid * 10 + (spec[i] - '0');
  }
  if (pid <= 0) return std::nullopt;
  return std::pair{spec.substr(0, eq), pid};
}

std::string validate(const BenchOptions& o, const std::string& run_id) {
  if (!is_valid_id(run_id) || run_id.size() > kRunIdLengthMax) {
    return fmt::format("--run-id must be 1–{} characters of [A-Za-z0-9_.:-], got `{}`",
                       kRunIdLengthMax, run_id);
  }
  if (o.connections < 1 || o.connections > kConnectionsMax) {
    return fmt::format("--connections must be in 1 .. {}", kConnectionsMax);
  }
  if (o.threads < 1) return "--threads must be at least 1";
  if (!(o.duration_s > 0)) return "--duration must be positive";
  if (!(o.warmup_s >= 0)) return "--warmup must not be negative";
  if (o.accounts < 1) return "--accounts must be at least 1";
  if (o.markets < 1) return "--markets must be at least 1";
  if (!(o.multiple_ratio >= 0 && o.multiple_ratio <= 1))
    return "--multiple-ratio must be in [0, 1]";
  if (o.setup_connections < 1) return "--setup-connections must be at least 1";
  if (o.deposit_cents < 1 || o.deposit_cents > 10'000'000'000'000) {
    return "--deposit must be in 1 .. 10^13 cents";
  }
  if (o.timeout_ms < 1) return "--timeout-ms must be at least 1";
  std::set<std::string> names{"bench"};  // the bench's own
  for (const std::string& p : o.processes) {
    const auto named = parse_process(p);
    if (!named) return "--process wants NAME=PID (a running process' id), got `" + p + "`";
    if (!names.insert(named->first).second) return "--process: the name `" + named->first + "` is given twice";
  }
  return {};
}

// The nodes' stages and the processes' CPU over the window (bench_probe.h).
BenchProbe make_probe(const BenchOptions& o, const std::vector<Url>& targets) {
  std::vector<std::string> metrics_urls = o.metrics_urls;
  if (metrics_urls.empty()) {
    for (const Url& t : targets) metrics_urls.push_back(t.origin() + t.path + "/metrics");
  }
  std::vector<std::pair<std::string, int>> processes;
  for (const std::string& p : o.processes) processes.push_back(*parse_process(p));
  return BenchProbe(metrics_urls, processes);
}

// Never an exception out of the window's callbacks: the load's threads run.
void watch_window(BenchProbe& probe, LoadOptions& load_options, std::ostream& err) {
  auto guarded = [&probe, &err](void (BenchProbe::*step)(std::ostream&)) {
    return [&probe, &err, step]() noexcept {
      try {
        (probe.*step)(err);
      } catch (const std::exception& e) {
        err << "bench: measuring the window failed: " << e.what() << "\n";
      } catch (...) {
        err << "bench: measuring the window failed\n";
      }
    };
  };
  load_options.on_window_open = guarded(&BenchProbe::open);
  load_options.on_window_close = guarded(&BenchProbe::close);
}

BenchReport make_report(const BenchOptions& o, const std::string& run_id, const std::vector<Url>& targets,
                        const SetupResult& setup, LoadResult load, const BenchProbe& probe) {
  BenchReport report;
  report.run_id = run_id;
  for (const auto& t : targets) report.targets.push_back(t.origin() + t.path);
  report.connections = o.connections;
  report.threads = std::min(o.threads, o.connections);
  report.accounts = o.accounts;
  report.markets = o.markets;
  report.multiple_ratio = o.multiple_ratio;
  report.warmup_s = o.warmup_s;
  report.duration_s = load.window_s;
  report.setup_s = setup.seconds;
  report.setup_writes = setup.writes;
  report.stats = std::move(load.stats);
  report.stages = probe.stages();
  report.cpu = probe.cpu(report.stats.ok);
  return report;
}

int run_bench_or_throw(const BenchOptions& o, std::ostream& out, std::ostream& err) {
  std::string run_id = o.run_id.empty() ? default_run_id() : o.run_id;
  if (std::string e = validate(o, run_id); !e.empty()) {
    err << "bench: " << e << "\n";
    return kBenchExitUsage;
  }
  std::vector<Url> targets;
  std::vector<std::string> target_texts = o.targets;
  if (target_texts.empty()) target_texts.emplace_back(kDefaultTarget);
  for (const auto& text : target_texts) {
    auto url = parse_url(text);
    if (!url) {
      err << "bench: --target `" << text << "` is not an http(s) URL like " << kDefaultTarget << "\n";
      return kBenchExitUsage;
    }
    targets.push_back(*url);
  }
  BenchTokens tokens;
  if (std::string e = resolve_tokens(o, tokens); !e.empty()) {
    err << "bench: " << e << "\n";
    return kBenchExitUsage;
  }

  BenchPlan plan = make_plan(run_id, invocation_nonce(), o.markets, o.accounts, o.deposit_cents);
  err << fmt::format("bench: run {}: setting up {} markets and {} accounts on {}\n", run_id,
                     o.markets, o.accounts, fmt::join(target_texts, ", "))
      << std::flush;
  SetupOptions setup_options;
  setup_options.connections = o.setup_connections;
  setup_options.timeout_ms = o.timeout_ms;
  SetupResult setup = run_setup(plan, targets, tokens, setup_options, err);
  if (!setup.ok) {
    err << "bench: setup failed: " << setup.error << "\n";
    return kBenchExitSetupFailed;
  }

  LoadOptions load_options;
  load_options.connections = o.connections;
  load_options.threads = o.threads;
  load_options.warmup_s = o.warmup_s;
  load_options.duration_s = o.duration_s;
  load_options.multiple_ratio = o.multiple_ratio;
  load_options.seed = o.seed;
  load_options.timeout_ms = o.timeout_ms;
  load_options.backoff_ms = o.backoff_ms;
  BenchProbe probe = make_probe(o, targets);
  watch_window(probe, load_options, err);
  err << fmt::format("bench: {} connections, {:.1f} s warmup, {:.1f} s measured\n", o.connections,
                     o.warmup_s, o.duration_s)
      << std::flush;
  LoadResult load = run_load(plan, targets, tokens.trader, load_options, err);
  if (!load.ok) {
    err << "bench: " << load.error << "\n";
    return kBenchExitSetupFailed;
  }

  const BenchReport report = make_report(o, run_id, targets, setup, std::move(load), probe);
  out << (o.json ? report_json(report) + "\n" : report_table(report)) << std::flush;
  if (report.stats.ok == 0) {
    err << "bench: no bet succeeded in the measured window; see the errors above\n";
    return kBenchExitNoBets;
  }
  return kBenchExitOk;
}

}  // namespace

int run_bench(const BenchOptions& options, std::ostream& out, std::ostream& err) {
  try {
    return run_bench_or_throw(options, out, err);
  } catch (const std::exception& e) {
    err << "bench: " << e.what() << "\n";
    return kBenchExitSetupFailed;
  }
}

void add_bench_command(CLI::App& root) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = root.add_subcommand("bench",
                                      "Closed-loop load test: place bets over HTTP and "
                                      "report throughput and latency");
  add_tls_client_flags(cmd);
  cmd->add_option("--target", o->targets,
                  "Node URL, repeatable; each connection starts on one and fails over to the "
                  "next (default http://127.0.0.1:8080)");
  cmd->add_option("--tokens", o->tokens_file,
                  "Tokens file as given to `betcore node --tokens` (first admin, trader, "
                  "payments tokens are used)");
  cmd->add_option("--token", o->tokens, "ROLE=TOKEN, repeatable; overrides --tokens");
  cmd->add_option("--connections", o->connections, "Concurrent keep-alive connections")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads running the connections")
      ->capture_default_str();
  cmd->add_option("--duration", o->duration_s, "Measured seconds")->capture_default_str();
  cmd->add_option("--warmup", o->warmup_s, "Seconds of load before measuring")
      ->capture_default_str();
  cmd->add_option("--accounts", o->accounts, "Accounts to create and fund")->capture_default_str();
  cmd->add_option("--markets", o->markets, "Markets to create")->capture_default_str();
  cmd->add_option("--multiple-ratio", o->multiple_ratio,
                  "Fraction of bets that are multiples of 2-4 legs")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object instead of the table");
  cmd->add_option("--seed", o->seed, "Seed for accounts, stakes and legs")->capture_default_str();
  cmd->add_option("--run-id", o->run_id,
                  "Prefix of every id the run creates (default: from time and pid)");
  cmd->add_option("--setup-connections", o->setup_connections, "Parallel connections for setup")
      ->capture_default_str();
  cmd->add_option("--deposit", o->deposit_cents, "Deposit per account, in cents")
      ->capture_default_str();
  cmd->add_option("--timeout-ms", o->timeout_ms, "Per-request timeout")->capture_default_str();
  cmd->add_option("--metrics", o->metrics_urls,
                  "A node's metrics URL for the per-stage figures, repeatable (default: each "
                  "target's /metrics; behind HAProxy give every node's, e.g. its --ops-listen)");
  cmd->add_option("--process", o->processes,
                  "NAME=PID of a process whose CPU per 1,000 bets to report, repeatable (nodes, etcd "
                  "members, HAProxy; the bench's own is always reported)");
  cmd->add_option("--backoff-ms", o->backoff_ms,
                  "Pause of a connection after 429/503, capped by Retry-After")
      ->capture_default_str();
  cmd->callback([o] {
    int code = run_bench(*o, std::cout, std::cerr);
    if (code != kBenchExitOk) throw CLI::RuntimeError(code);
  });
}

}  // namespace betcore::tools
