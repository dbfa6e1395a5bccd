// Webhook signatures (docs/payment-gateway.md, "Signature"): the header
// `Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
// The gateway signs; the adapter verifies, in constant time, and refuses a
// time stamp too far from its clock (a replayed delivery).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace betcore::payments {

inline constexpr std::string_view kSignatureHeader = "gateway-signature";

// The header value for `body` signed at `unix_s`.
std::string sign_webhook(std::string_view secret, int64_t unix_s, std::string_view body);

enum class Verdict { ok, malformed, bad_signature, too_old, too_new };
std::string_view to_string(Verdict v);

// Checks `header` against `body`: the signature first, then that `t` is
// within `tolerance_s` of `now_s`. Several v1= entries are allowed (a secret
// being rotated); one match is enough.
Verdict verify_webhook(std::string_view secret, std::string_view header, std::string_view body,
                       int64_t now_s, int64_t tolerance_s = 300);

// Compares two secrets in constant time (for their common length).
bool same_secret(std::string_view a, std::string_view b);

// Lower-case hex HMAC-SHA256 of `data` keyed with `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

}  // namespace betcore::payments
