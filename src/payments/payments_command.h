// The command lines of `betcore payments` (payments_command.cc) and
// `betcore payment-gateway` (gateway_command.cc).
#pragma once

namespace CLI {
class App;
}

namespace betcore::payments {

void add_payments_command(CLI::App& app);
void add_gateway_command(CLI::App& app);

}  // namespace betcore::payments
