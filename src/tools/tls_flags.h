// The TLS flags every client command shares (bench, feed, payments, backup):
// what it trusts and, for mutual TLS, what it presents. They set the
// process's default (http_client.h), used by every https URL and etcds://.
#pragma once

namespace CLI {
class App;
}

namespace betcore::tools {

// --tls-ca, --tls-cert, --tls-key (and BETCORE_TLS_CA, BETCORE_TLS_CERT,
// BETCORE_TLS_KEY from the environment).
void add_tls_client_flags(CLI::App* cmd);

}  // namespace betcore::tools
