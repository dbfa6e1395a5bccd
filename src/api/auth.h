// Bearer tokens and roles (API.md, Auth). The tokens file holds one token a
// line: `<role> <token> [<account_id>]` (the account only for punter), `#`
// starts a comment. Tokens are secrets: nothing here logs them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <absl/container/flat_hash_map.h>

namespace betcore::api {

enum class Role : uint8_t { admin, trader, feed, payments, punter, backup };

std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view name);

struct Principal {
  Role role;
  std::string account_id;  // punter only
};

class Tokens {
 public:
  // Loads a tokens file; false with `error` (which line and why) on failure.
  bool load(const std::string& path, std::string& error);
  // Parses the file's text (for tests).
  bool parse(std::string_view text, std::string& error);

  // The principal for an `Authorization` header value, or null.
  const Principal* find(std::string_view authorization_header) const;
  size_t size() const { return tokens_.size(); }

 private:
  absl::flat_hash_map<std::string, Principal> tokens_;
};

}  // namespace betcore::api
