// betcore: one binary, subcommands (node, bench, ...).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "backup/backup_command.h"
#include "drill/drill.h"
#include "feed/feed_command.h"
#include "node_command.h"
#include "payments/payments_command.h"
#include "sim/sim_command.h"
#include "tools/bench.h"

int main(int argc, char** argv) {
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
  CLI11_PARSE(app, argc, argv);
  return 0;
}
