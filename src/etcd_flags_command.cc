#include "etcd_flags_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "log/etcd/member_flags.h"

namespace betcore {

void add_etcd_flags_command(CLI::App& root) {
  auto timing = std::make_shared<log::etcd::MemberTiming>();
  CLI::App* cmd = root.add_subcommand(
      "etcd-flags",
      "Print the flags every etcd member of a betcore cluster runs with, one per line, beyond its "
      "name, URLs, initial cluster and TLS files (docs/cluster.md, \"etcd settings\"): "
      "mapfile -t flags < <(betcore etcd-flags)");
  cmd->add_option("--heartbeat-ms", timing->heartbeat_ms,
                  "etcd's --heartbeat-interval: about the longest round trip between members")
      ->capture_default_str();
  cmd->add_option("--election-ms", timing->election_ms,
                  "etcd's --election-timeout: at least 5 heartbeats, and longer than a member's "
                  "slowest fsync under load")
      ->capture_default_str();
  cmd->callback([timing] {
    if (std::string e = log::etcd::timing_error(*timing); !e.empty()) {
      std::fprintf(stderr, "betcore etcd-flags: %s\n", e.c_str());
      throw CLI::RuntimeError(2);
    }
    for (const std::string& flag : log::etcd::member_flags(*timing)) std::printf("%s\n", flag.c_str());
  });
}

}  // namespace betcore
