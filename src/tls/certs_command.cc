// `betcore certs --dir DIR --name NAME --host H...`: creates DIR/ca.{pem,key}
// once (a rerun keeps the CA clients already trust) and issues NAME's
// certificate for the hosts. scripts/start.sh, scripts/cluster.sh, the test
// cluster and the drill all make theirs this way.
#include "tls/certs_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "tls/tls.h"

namespace betcore::tls {

namespace {

struct CertsFlags {
  std::string dir;
  std::vector<std::string> names;
  std::vector<std::string> hosts = {"127.0.0.1", "localhost"};
  int valid_days = 825;
};

int run_certs(const CertsFlags& f) {
  if (std::string e = ensure_ca(f.dir, "betcore private CA"); !e.empty()) {
    std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  for (const std::string& name : f.names) {
    CertSpec spec;
    spec.hosts = f.hosts;
    spec.valid_days = f.valid_days;
    if (std::string e = issue_cert(f.dir, f.dir, name, spec); !e.empty()) {
      std::fprintf(stderr, "%s\n", e.c_str());
      return 1;
    }
    std::printf("%s/%s.pem, %s.key, %s.bundle.pem (HAProxy): valid %d days for", f.dir.c_str(),
                name.c_str(), name.c_str(), name.c_str(), f.valid_days);
    for (const auto& h : f.hosts) std::printf(" %s", h.c_str());
    std::printf("\n");
  }
  std::printf("CA: %s/ca.pem (give it to clients: curl --cacert, --tls-ca)\n", f.dir.c_str());
  return 0;
}

}  // namespace

void add_certs_command(CLI::App& root) {
  auto flags = std::make_shared<CertsFlags>();
  CLI::App* cmd = root.add_subcommand(
      "certs", "Create a private CA (once) and issue TLS certificates for nodes, HAProxy, etcd");
  cmd->add_option("--dir", flags->dir, "Where the CA and the certificates live")->required();
  cmd->add_option("--name", flags->names,
                  "A certificate to issue (repeat): writes NAME.pem, NAME.key, NAME.bundle.pem; "
                  "an existing one is replaced (rotation: then send the process SIGHUP)")
      ->required();
  cmd->add_option("--host", flags->hosts,
                  "A DNS name or IP address the certificates are valid for (repeat)")
      ->capture_default_str();
  cmd->add_option("--days", flags->valid_days, "How long the certificates are valid")
      ->capture_default_str()
      ->check(CLI::Range(1, 3650));
  cmd->callback([flags] {
    const int rc = run_certs(*flags);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace betcore::tls
