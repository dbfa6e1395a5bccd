// The command line of `betcore payments`.
#include <CLI/CLI.hpp>

#include "payments/payments_command.h"

namespace betcore::payments {

void add_payments_command(CLI::App& app) {
  (void)app;  // the adapter's subcommand lands with adapter.cc
}

}  // namespace betcore::payments
