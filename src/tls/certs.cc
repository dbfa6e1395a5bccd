// A private CA and the certificates it signs (tls.h), with OpenSSL's API:
// what `openssl req -x509` and `openssl x509 -req` do, without a config file
// and with exact validity times (the tests need expired certificates).
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/asio/ip/address.hpp>
#include <cstdio>
#include <functional>
#include <ctime>
#include <filesystem>
#include <memory>

#include "tls/asio_context.h"
#include "tls/tls.h"

namespace betcore::tls {

namespace {

namespace fs = std::filesystem;

struct Free {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(FILE* p) const { std::fclose(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using X509Ptr = std::unique_ptr<X509, Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using FilePtr = std::unique_ptr<FILE, Free>;

X509Ptr read_cert(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "r"));
  if (!f) return nullptr;
  return X509Ptr(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
}

KeyPtr read_key(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "r"));
  if (!f) return nullptr;
  return KeyPtr(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
}

// Writes through a temporary file and a rename: a reader (a node reloading
// on SIGHUP) sees the old file or the new one, never a mix. Keys are 0600.
bool write_pem(const std::string& path, mode_t mode,
               const std::function<bool(FILE*)>& write) {
  const std::string tmp = path + ".tmp";
  {
    FilePtr f(std::fopen(tmp.c_str(), "w"));
    if (!f || ::chmod(tmp.c_str(), mode) != 0 || !write(f.get())) return false;
    if (std::fflush(f.get()) != 0) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool set_validity(X509* cert, const CertSpec& spec) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const int64_t from = spec.not_before_unix != 0 ? spec.not_before_unix : now - 3600;
  const int64_t to =
      spec.not_after_unix != 0 ? spec.not_after_unix : from + int64_t{spec.valid_days} * 86400;
  return ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(from)) != nullptr &&
         ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(to)) != nullptr;
}

// A new certificate with a random serial, its subject and validity set.
X509Ptr new_cert(EVP_PKEY* key, const std::string& common_name, const CertSpec& spec) {
  X509Ptr cert(X509_new());
  unsigned char serial[16];
  if (!cert || X509_set_version(cert.get(), 2) != 1 || RAND_bytes(serial, sizeof serial) != 1) {
    return nullptr;
  }
  serial[0] &= 0x7f;  // positive (RFC 5280, 4.1.2.2)
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  const bool serial_ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!serial_ok || !set_validity(cert.get(), spec) || X509_set_pubkey(cert.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("betcore"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    return nullptr;
  }
  return cert;
}

std::string subject_alt_names(const std::vector<std::string>& hosts) {
  std::string out;
  for (const auto& h : hosts) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(h, ec);
    if (!out.empty()) out += ',';
    out += (ec ? "DNS:" : "IP:") + h;
  }
  return out;
}

}  // namespace

std::optional<int64_t> cert_not_after(const std::string& cert_file, std::string* error) {
  X509Ptr cert = read_cert(cert_file);
  if (!cert) {
    *error = "cannot read a PEM certificate from " + cert_file;
    ERR_clear_error();
    return std::nullopt;
  }
  struct tm t {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &t) != 1) {
    *error = "cannot read the expiry of " + cert_file;
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&t));
}

std::string ensure_ca(const std::string& dir, const std::string& name) {
  const std::string cert_path = dir + "/ca.pem";
  const std::string key_path = dir + "/ca.key";
  const bool have_cert = fs::exists(cert_path), have_key = fs::exists(key_path);
  if (have_cert && have_key) return "";
  if (have_cert != have_key) {
    // Half a CA: a new one would silently replace the root every client
    // trusts (or orphan the certificates it signed). An operator decides.
    const std::string& missing = have_cert ? key_path : cert_path;
    const std::string& present = have_cert ? cert_path : key_path;
    return "the CA in " + dir + " is incomplete: " + missing + " is missing but " + present +
           " exists; restore " + missing + " from a backup, or remove " + present +
           " as well to create a new CA (then reissue every certificate and give clients the "
           "new ca.pem)";
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  KeyPtr key(EVP_EC_gen("P-256"));
  CertSpec spec;
  spec.valid_days = 3650;
  X509Ptr cert = key ? new_cert(key.get(), name, spec) : nullptr;
  if (!cert || X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1 ||
      !add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash") ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return "cannot create a CA: " + openssl_error();
  }
  const bool ok =
      write_pem(key_path, 0600, [&](FILE* f) {
        return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
      }) &&
      write_pem(cert_path, 0644, [&](FILE* f) { return PEM_write_X509(f, cert.get()) == 1; });
  return ok ? "" : "cannot write the CA into " + dir;
}

std::string issue_cert(const std::string& ca_dir, const std::string& dir, const std::string& name,
                       const CertSpec& spec) {
  X509Ptr ca = read_cert(ca_dir + "/ca.pem");
  KeyPtr ca_key = read_key(ca_dir + "/ca.key");
  if (!ca || !ca_key) return "cannot read the CA in " + ca_dir + " (create it with betcore certs)";
  KeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert = key ? new_cert(key.get(), spec.common_name.empty() ? name : spec.common_name,
                                spec)
                     : nullptr;
  const std::string san = subject_alt_names(spec.hosts);
  if (!cert || X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) != 1 ||
      !add_ext(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !add_ext(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
      !add_ext(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth,clientAuth") ||
      !add_ext(cert.get(), ca.get(), NID_authority_key_identifier, "keyid:always") ||
      (!san.empty() && !add_ext(cert.get(), ca.get(), NID_subject_alt_name, san)) ||
      X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    return "cannot issue a certificate for " + name + ": " + openssl_error();
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  const auto write_key = [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  };
  const auto write_chain = [&](FILE* f) {
    return PEM_write_X509(f, cert.get()) == 1 && PEM_write_X509(f, ca.get()) == 1;
  };
  const std::string base = dir + "/" + name;
  // The key first: a reload between the two renames then fails its key
  // check and keeps the old pair, rather than serving a mismatched one.
  const bool ok =
      write_pem(base + ".key", 0600, write_key) && write_pem(base + ".pem", 0644, write_chain) &&
      write_pem(base + ".bundle.pem", 0600, [&](FILE* f) { return write_chain(f) && write_key(f); });
  return ok ? "" : "cannot write the certificate files " + base + ".{pem,key,bundle.pem}";
}

}  // namespace betcore::tls
