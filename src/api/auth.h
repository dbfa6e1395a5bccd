// Bearer tokens and roles (API.md, Auth; docs/security.md).
//
// The tokens file holds hashes, never tokens: one a line,
// `<role> sha256:<64 hex> [<account_id>]` (the account only for punter), `#`
// starts a comment. `betcore token add ROLE [ACCOUNT]` writes a line and
// prints the new token once. A token's id, the first 12 hex digits of its
// hash, names it in logs and the audit trail; the token itself is never
// logged.
//
// Why a plain SHA-256 and not a slow password hash: the tokens are 160-bit
// random strings, not passwords a person chose, so there is nothing to
// brute-force; a slow hash would only cost every request time.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace betcore::api {

enum class Role : uint8_t { admin, trader, feed, payments, punter, backup };

std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view name);

struct Principal {
  Role role;
  std::string account_id;  // punter only
  std::string token_id;    // the first 12 hex digits of the token's hash
  std::array<unsigned char, 32> hash{};
};

// SHA-256 of `token`, and its text form "sha256:<64 hex>" (the file's).
std::array<unsigned char, 32> token_hash(std::string_view token);
std::string token_hash_text(std::string_view token);

// A new random token: "bct_" and 40 hex digits (160 bits from the OS).
std::string new_token();

// Thread-safe: find() may run on every I/O thread while load() swaps in a
// new file (SIGHUP); a request keeps the principal it found.
class Tokens {
 public:
  Tokens();
  // Loads a tokens file; false with `error` (which line and why) on failure,
  // and then the tokens in use stay as they were.
  bool load(const std::string& path, std::string& error);
  // Parses the file's text (for tests).
  bool parse(std::string_view text, std::string& error);

  // The principal for an `Authorization` header value, or null. The hash of
  // the presented token is compared in constant time (CRYPTO_memcmp).
  std::shared_ptr<const Principal> find(std::string_view authorization_header) const;
  size_t size() const;

 private:
  using Table = absl::flat_hash_map<std::string, Principal>;  // by token id
  std::atomic<std::shared_ptr<const Table>> table_;
};

}  // namespace betcore::api
