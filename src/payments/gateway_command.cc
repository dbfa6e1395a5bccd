// The command line of `betcore payment-gateway`.
#include <CLI/CLI.hpp>

#include "payments/payments_command.h"

namespace betcore::payments {

void add_gateway_command(CLI::App& app) {
  (void)app;  // TODO(gateway): the gateway's subcommand lands with gateway.cc
}

}  // namespace betcore::payments
