// betcore: one binary, subcommands (node, bench, ...).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "api/token_command.h"
#include "backup/backup_command.h"
#include "drill/drill.h"
#include "etcd_flags_command.h"
#include "feed/feed_command.h"
#include "node_command.h"
#include "ops/build_info.h"
#include "ops/logging.h"
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
  // The same for jemalloc (CMake's BETCORE_JEMALLOC), unless the caller set
  // its options: huge pages for what it maps.
  const bool own_malloc_conf = std::getenv("MALLOC_CONF") == nullptr;
  if (own_malloc_conf) ::setenv("MALLOC_CONF", "thp:always,metadata_thp:auto", 1);
  ::setenv("BETCORE_REEXEC", "1", 1);
  ::execv("/proc/self/exe", argv);
  ::unsetenv("GLIBC_TUNABLES");  // no exec: run as we are
  if (own_malloc_conf) ::unsetenv("MALLOC_CONF");
  ::unsetenv("BETCORE_REEXEC");
}

// The option `name` (as typed: --flag, --flag=value, -f) of `app` or,
// through fall-through, of one of its parents; null when none.
const CLI::Option* known_option(const CLI::App* app, std::string name) {
  if (const size_t eq = name.find('='); eq != std::string::npos) name.resize(eq);
  for (; app != nullptr; app = app->get_parent()) {
    if (const CLI::Option* o = app->get_option_no_throw(name)) return o;
  }
  return nullptr;
}

// The flags on the command line that the subcommand they follow does not
// have, and that subcommand's path ("betcore node"): the parser would
// otherwise report a missing required flag first.
std::vector<std::string> unknown_flags(CLI::App& root, int argc, char** argv, std::string& path) {
  std::vector<std::string> out;
  const CLI::App* at = &root;
  path = "betcore";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") break;
    const bool number = a.size() > 1 && a[0] == '-' && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.');
    if (a.size() > 1 && a[0] == '-' && !number) {
      const CLI::Option* o = known_option(at, a);
      if (o == nullptr) out.push_back(a.substr(0, a.find('=')));
      // Its value is the next word (--log-level debug), not a command.
      if (o != nullptr && o->get_type_size() != 0 && a.find('=') == std::string::npos) ++i;
      continue;
    }
    const auto subs = at->get_subcommands([&a](const CLI::App* s) { return s->check_name(a); });
    if (!subs.empty() && out.empty()) {
      at = subs.front();
      path += " " + a;
    } else if (at == &root) {
      out.push_back(a);  // not a command
    }
  }
  return out;
}

// Exit status (docs/operations.md): 0 a clean run, 1 a failure at run time,
// 2 a usage or configuration error (the parser's included); a command may
// name its own (audit verify's 3, bench's).
int parse_and_run(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command's own status, already explained
  } catch (const CLI::ParseError& e) {
    std::string path;
    const std::vector<std::string> unknown = unknown_flags(app, argc, argv, path);
    if (!unknown.empty()) {
      const bool flag = unknown.front()[0] == '-';
      std::fprintf(stderr, "%s: unknown %s %s (`%s --help` lists them)\n", path.c_str(),
                   flag ? "flag" : "command", unknown.front().c_str(), path.c_str());
    } else {
      app.exit(e);
    }
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  run_with_huge_pages(argc, argv);
  const betcore::ops::LogSettings logs = betcore::ops::log_settings_from(argc, argv);
  if (std::string error; !betcore::ops::setup_logging(logs, error)) {
    std::fprintf(stderr, "betcore: %s\n", error.c_str());
    return 2;
  }
  CLI::App app{"betcore: a fault-tolerant betting platform core"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "betcore " + betcore::ops::build_line());
  // Every subcommand accepts these (fall-through); read before parsing
  // (ops/logging.h), declared here for --help and the parser.
  app.fallthrough();
  app.add_option("--log-level", "trace, debug, info, warn, error, critical or off (env BETCORE_LOG_LEVEL)")
      ->envname("BETCORE_LOG_LEVEL")
      ->default_str(logs.level);
  app.set_config("--config", "",
                 "A TOML file of flags: a [node] section holds `betcore node`'s, one 'name = value' "
                 "a line (the flag's long name without dashes; docs/operations.md)");
  app.add_option("--log-format", "text, or json: one JSON object a line (env BETCORE_LOG_FORMAT)")
      ->envname("BETCORE_LOG_FORMAT")
      ->default_str(logs.format);
  betcore::add_node_command(app);
  betcore::add_etcd_flags_command(app);
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
  return parse_and_run(app, argc, argv);
}
