#include "tools/tls_flags.h"

#include <CLI/CLI.hpp>

#include "tls/tls.h"

namespace betcore::tools {

void add_tls_client_flags(CLI::App* cmd) {
  // Each flag updates the process default as it is parsed, before the
  // command's callback makes any client.
  const auto set = [](std::string tls::ClientFiles::*field) {
    return [field](const std::string& value) {
      tls::ClientFiles files = tls::default_client();
      files.*field = value;
      tls::set_default_client(std::move(files));
    };
  };
  cmd->add_option_function<std::string>(
         "--tls-ca", set(&tls::ClientFiles::ca_file),
         "The CA that signed the servers' certificates (https:// URLs, etcds://); default: the "
         "system's store")
      ->envname("BETCORE_TLS_CA")
      ->check(CLI::ExistingFile);
  cmd->add_option_function<std::string>(
         "--tls-cert", set(&tls::ClientFiles::cert_file),
         "A client certificate (PEM) for servers that require one (etcd, mutual TLS)")
      ->envname("BETCORE_TLS_CERT")
      ->check(CLI::ExistingFile);
  cmd->add_option_function<std::string>("--tls-key", set(&tls::ClientFiles::key_file),
                                        "The key of --tls-cert (PEM)")
      ->envname("BETCORE_TLS_KEY")
      ->check(CLI::ExistingFile);
}

}  // namespace betcore::tools
