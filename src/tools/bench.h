// `betcore bench`: a closed-loop HTTP load generator for POST /v1/bets.
//
// Sets up an event, markets and funded accounts on the target node(s), then
// keeps --connections keep-alive connections each sending one bet at a time
// for --duration seconds after --warmup, and prints throughput, answers by
// status and error code, and latency percentiles (a table, or one JSON object
// with --json), with where the nodes' time went (their per-stage latency,
// from /metrics) and the CPU each process spent per 1,000 bets
// (bench_probe.h). Setup progress and per-second progress go to stderr.
//
//   betcore bench --target http://127.0.0.1:8080 --tokens tokens.txt
//                 --connections 64 --duration 10 --json
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace betcore::tools {

// Exit codes of `betcore bench`.
inline constexpr int kBenchExitOk = 0;
inline constexpr int kBenchExitSetupFailed = 1;  // node unreachable, a setup write refused
inline constexpr int kBenchExitUsage = 2;        // bad flags, missing or unreadable tokens
inline constexpr int kBenchExitNoBets = 3;       // the run completed but no bet succeeded

struct BenchOptions {
  std::vector<std::string> targets;  // URLs; default {"http://127.0.0.1:8080"}
  std::string tokens_file;
  std::vector<std::string> tokens;  // "ROLE=TOKEN"; override the tokens file
  int connections = 64;
  int threads = 1;
  double duration_s = 10;
  double warmup_s = 2;
  int accounts = 10000;
  int markets = 100;
  double multiple_ratio = 0.1;
  bool json = false;
  uint64_t seed = 1;
  std::string run_id;  // default: default_run_id()
  int setup_connections = 16;
  int64_t deposit_cents = 1'000'000'000;  // per account: 10M EUR, ample for any run
  int timeout_ms = 10000;
  int backoff_ms = 20;
  // The nodes' /metrics URLs for the stage figures (bench_probe.h); default:
  // each target's /metrics.
  std::vector<std::string> metrics_urls;
  // "NAME=PID" of every process whose CPU the report gives per 1,000 bets
  // (nodes, etcd members, HAProxy); the bench's own is always there.
  std::vector<std::string> processes;
};

// Runs setup and load; the report goes to `out`, progress and errors to
// `err`. Returns one of the kBenchExit* codes. Throws nothing.
int run_bench(const BenchOptions& options, std::ostream& out, std::ostream& err);

// Adds the `bench` subcommand to `root`. Its callback runs the bench and, on a
// non-zero exit code, throws CLI::RuntimeError(code): CLI11_PARSE (or
// `catch (const CLI::ParseError& e) { return app.exit(e); }`) then returns
// that code from main without printing anything more.
void add_bench_command(CLI::App& root);

}  // namespace betcore::tools
