// betcore: one binary, subcommands (node, bench, ...).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <string_view>

#include "api/token_command.h"
#include "backup/backup_command.h"
#include "drill/drill.h"
#include "feed/feed_command.h"
#include "node_command.h"
#include "payments/payments_command.h"
#include "sim/sim_command.h"
#include "tls/certs_command.h"
#include "tools/bench.h"

namespace {

// `betcore restore`, `betcore backup verify` and `betcore backup run` build
// a whole state in memory, and much of their time went to faulting in its
// new pages 4 KiB at a time. They run again with glibc's malloc asking
// for transparent huge pages (the tunable is read only at start), unless
// the caller set GLIBC_TUNABLES itself; docs/backup.md, "Figures".
void run_with_huge_pages(int argc, char** argv) {
  // BETCORE_REEXEC: once only, even where exec drops GLIBC_TUNABLES
  // (a setuid or file-capability binary).
  if (argc < 2 || std::getenv("GLIBC_TUNABLES") != nullptr ||
      std::getenv("BETCORE_REEXEC") != nullptr)
    return;
  const std::string_view cmd = argv[1];
  const bool builds_state =
      cmd == "restore" ||
      (cmd == "backup" && argc > 2 &&
       (std::string_view(argv[2]) == "verify" || std::string_view(argv[2]) == "run"));
  if (!builds_state) return;
  ::setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
  ::setenv("BETCORE_REEXEC", "1", 1);
  ::execv("/proc/self/exe", argv);
  ::unsetenv("GLIBC_TUNABLES");  // no exec: run as we are
  ::unsetenv("BETCORE_REEXEC");
}

}  // namespace

int main(int argc, char** argv) {
  run_with_huge_pages(argc, argv);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  CLI::App app{"betcore: a fault-tolerant betting platform core"};
  app.require_subcommand(1);
  betcore::add_node_command(app);
  betcore::tools::add_bench_command(app);
  betcore::sim::add_sim_command(app);
  betcore::drill::add_drill_command(app);
  betcore::feed::add_feed_commands(app);
  betcore::payments::add_payments_command(app);
  betcore::payments::add_gateway_command(app);
  betcore::backup::add_backup_commands(app);
  betcore::backup::add_audit_command(app);
  betcore::tls::add_certs_command(app);
  betcore::api::add_token_command(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
