// TLS for every link betcore speaks (docs/security.md): the files a server or
// a client is configured with, the certificate's expiry for the alert, and a
// private CA for the local cluster, the quick start and the tests.
//
// Asio's ssl::context stays in asio_context.h, so this header is cheap.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace betcore::tls {

// A server's certificate chain and key (PEM), re-read on reload. With
// `client_ca_file`, every client must present a certificate signed by it
// (mutual TLS); without, any client may connect and authenticates by token.
struct ServerFiles {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  bool enabled() const { return !cert_file.empty(); }
};

// What a client trusts and, for mutual TLS, presents. An empty ca_file
// trusts the system's store (/etc/ssl/certs).
struct ClientFiles {
  std::string ca_file;
  std::string cert_file;  // with key_file: the client's certificate (etcd, mTLS)
  std::string key_file;
};

// What TLS clients of this process trust and present unless told otherwise
// (https URLs, etcds://): set once by a command's --tls-ca/--tls-cert/--tls-key
// (tools/tls_flags.h) or the node's flags, before any client is made.
void set_default_client(ClientFiles files);
ClientFiles default_client();

// The certificate's notAfter as Unix seconds (the first certificate of a
// chain file), or nullopt with `error` set.
std::optional<int64_t> cert_not_after(const std::string& cert_file, std::string* error);

// ---- A private CA (betcore certs) ---------------------------------------------

struct CertSpec {
  std::string common_name;
  // DNS names and IP addresses the certificate is valid for (subjectAltName).
  std::vector<std::string> hosts;
  int64_t not_before_unix = 0;  // 0: now minus one hour (clock skew)
  int64_t not_after_unix = 0;   // 0: not_before + valid_days
  int valid_days = 825;
};

// Writes `dir`/ca.pem and `dir`/ca.key (EC P-256) unless both exist already;
// then the CA is reused, so a rerun never replaces a trusted root. When only
// one of the two exists it fails, naming the missing file, and writes
// nothing. Returns "" or what failed.
std::string ensure_ca(const std::string& dir, const std::string& name);

// Writes `dir`/NAME.pem (certificate then the CA's), `dir`/NAME.key and
// `dir`/NAME.bundle.pem (certificate, CA, key: HAProxy's `crt` format),
// signed by the CA in `ca_dir`. For servers and clients alike (both extended
// key usages), so one file serves a node's API, its etcd client and HAProxy.
// Replaces existing files atomically (rename), so a reload never reads half.
std::string issue_cert(const std::string& ca_dir, const std::string& dir, const std::string& name,
                       const CertSpec& spec);

}  // namespace betcore::tls
