// `betcore certs`: a private CA and the certificates of a deployment.
#pragma once

namespace CLI {
class App;
}

namespace betcore::tls {
void add_certs_command(CLI::App& root);
}
