// HMAC-SHA256 webhook signatures with OpenSSL.
#include "payments/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <string>

namespace betcore::payments {

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(size_t{len} * 2, '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[mac[i] >> 4];
    out[2 * i + 1] = kHex[mac[i] & 15];
  }
  return out;
}

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string sign_webhook(std::string_view secret, int64_t unix_s, std::string_view body) {
  std::string t = std::to_string(unix_s);
  std::string payload = t;
  payload += '.';
  payload += body;
  return "t=" + t + ",v1=" + hmac_sha256_hex(secret, payload);
}

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::malformed: return "malformed";
    case Verdict::bad_signature: return "bad_signature";
    case Verdict::too_old: return "too_old";
    case Verdict::too_new: return "too_new";
  }
  return "unknown";
}

Verdict verify_webhook(std::string_view secret, std::string_view header, std::string_view body,
                       int64_t now_s, int64_t tolerance_s) {
  std::string_view t_text;
  bool have_t = false;
  bool any_v1 = false;
  bool matched = false;
  std::string expected;
  // Two passes would need the t first; t comes first by the format, but a
  // sender may order them otherwise, so collect the v1 values after finding t.
  std::string_view rest = header;
  std::string_view v1s[8];
  int n_v1 = 0;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view part = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) return Verdict::malformed;
    const std::string_view name = part.substr(0, eq);
    const std::string_view value = part.substr(eq + 1);
    if (name == "t") {
      if (have_t) return Verdict::malformed;
      have_t = true;
      t_text = value;
    } else if (name == "v1") {
      any_v1 = true;
      if (n_v1 == 8) return Verdict::malformed;
      v1s[n_v1++] = value;
    }  // other schemes are ignored, as a receiver must for forward compatibility
  }
  int64_t t = 0;
  if (!have_t || !any_v1 || t_text.empty() ||
      std::from_chars(t_text.data(), t_text.data() + t_text.size(), t).ptr !=
          t_text.data() + t_text.size()) {
    return Verdict::malformed;
  }
  std::string payload(t_text);
  payload += '.';
  payload += body;
  expected = hmac_sha256_hex(secret, payload);
  for (int i = 0; i < n_v1; ++i) {
    if (v1s[i].size() == expected.size() &&
        CRYPTO_memcmp(v1s[i].data(), expected.data(), expected.size()) == 0) {
      matched = true;
    }
  }
  if (!matched) return Verdict::bad_signature;
  if (t < now_s - tolerance_s) return Verdict::too_old;
  if (t > now_s + tolerance_s) return Verdict::too_new;
  return Verdict::ok;
}

}  // namespace betcore::payments
