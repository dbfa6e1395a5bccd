// The tokens file shared by `betcore node --tokens FILE` and the tools.
//
// Format (design/API.md, "Starting a node"): one token a line,
// `<role> <token> [<account_id>]`, fields separated by blanks; `#` starts a
// comment; blank lines are ignored. The account is given for `punter` only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace betcore::tools {

struct TokenEntry {
  std::string role;  // admin, trader, payments, feed, punter
  std::string token;
  std::string account_id;  // punter only
  int line = 0;            // 1-based line in the file, for messages
};

struct TokensFile {
  std::vector<TokenEntry> entries;  // in file order
  std::vector<std::string> errors;  // "line 3: ..." for each bad line; empty when valid

  // The first token with this role, or nullopt.
  std::optional<std::string> first(std::string_view role) const;
};

// Roles the API knows (design/API.md, Conventions): an unknown role is an error
// so that a typo never passes silently.
bool is_known_role(std::string_view role);

TokensFile parse_tokens(std::string_view text);

// Reads and parses `path`; nullopt (with `error` set) if it cannot be read.
std::optional<TokensFile> read_tokens_file(const std::string& path, std::string* error);

}  // namespace betcore::tools
