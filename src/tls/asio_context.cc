// Server and client TLS contexts (asio_context.h).
#include "tls/asio_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <mutex>

namespace betcore::tls {

namespace ssl = boost::asio::ssl;

namespace {

// Mozilla's "intermediate" TLS 1.2 suites (TLS 1.3's are all AEAD already).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

bool base_settings(ssl::context& ctx, std::string* error) {
  SSL_CTX* native = ctx.native_handle();
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  // TLS 1.3: AES-128-GCM first (hardware AES, and cheaper than AES-256 for
  // the same forward secrecy), then ChaCha20 for machines without AES-NI.
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(native, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"
                                       "TLS_AES_256_GCM_SHA384") != 1) {
    *error = "cannot configure TLS: " + openssl_error();
    return false;
  }
  // Renegotiation is a denial-of-service lever and HTTP/1.1 never needs it.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  return true;
}

std::mutex default_mu;
ClientFiles default_files;  // guarded by default_mu

}  // namespace

void set_default_client(ClientFiles files) {
  std::lock_guard lock(default_mu);
  default_files = std::move(files);
}

ClientFiles default_client() {
  std::lock_guard lock(default_mu);
  return default_files;
}

std::string openssl_error() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

std::shared_ptr<ssl::context> server_context(const ServerFiles& files, std::string* error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  if (!base_settings(*ctx, error)) return nullptr;
  SSL_CTX* native = ctx->native_handle();
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, files.cert_file.c_str()) != 1) {
    *error = "cannot load the TLS certificate " + files.cert_file + ": " + openssl_error();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(native, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = "cannot load the TLS key " + files.key_file + " for the certificate " +
             files.cert_file + " (a key that does not match it is refused: replace both "
             "files together): " + openssl_error();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    *error = "the TLS key " + files.key_file + " does not match the certificate " +
             files.cert_file + " (rotate both files together)";
    return nullptr;
  }
  if (!files.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(native, files.client_ca_file.c_str(), nullptr) != 1) {
      *error = "cannot load the client CA " + files.client_ca_file + ": " + openssl_error();
      return nullptr;
    }
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

std::shared_ptr<ssl::context> client_context(const ClientFiles& files, std::string* error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  if (!base_settings(*ctx, error)) return nullptr;
  SSL_CTX* native = ctx->native_handle();
  ERR_clear_error();
  const int loaded = files.ca_file.empty()
                         ? SSL_CTX_set_default_verify_paths(native)
                         : SSL_CTX_load_verify_locations(native, files.ca_file.c_str(), nullptr);
  if (loaded != 1) {
    *error = "cannot load the CA " + (files.ca_file.empty() ? "store" : files.ca_file) + ": " +
             openssl_error();
    return nullptr;
  }
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  if (!files.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(native, files.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(native, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(native) != 1) {
      *error = "cannot load the client certificate " + files.cert_file + " and key " +
               files.key_file + ": " + openssl_error();
      return nullptr;
    }
  }
  return ctx;
}

bool set_peer_host(void* ssl_native_handle, const std::string& host, std::string* error) {
  SSL* s = static_cast<SSL*>(ssl_native_handle);
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(host, ec);  // only: is it an address?
  X509_VERIFY_PARAM* param = SSL_get0_param(s);
  int ok = 0;
  if (!ec) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    // SNI only for names (RFC 6066, 3: "Literal IPv4 and IPv6 addresses are
    // not permitted").
    ok = SSL_set_tlsext_host_name(s, host.c_str()) == 1 &&
         X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1;
  }
  if (!ok) {
    *error = "cannot set the TLS peer name " + host + ": " + openssl_error();
    return false;
  }
  return true;
}

}  // namespace betcore::tls
