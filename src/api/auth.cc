#include "api/auth.h"

#include <fstream>
#include <sstream>

#include "domain/state_machine.h"

namespace betcore::api {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::admin: return "admin";
    case Role::trader: return "trader";
    case Role::feed: return "feed";
    case Role::payments: return "payments";
    case Role::punter: return "punter";
    case Role::backup: return "backup";
  }
  return "unknown";
}

std::optional<Role> parse_role(std::string_view name) {
  for (Role r : {Role::admin, Role::trader, Role::feed, Role::payments, Role::punter, Role::backup}) {
    if (role_name(r) == name) return r;
  }
  return std::nullopt;
}

bool Tokens::load(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read tokens file " + path;
    return false;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (!parse(buf.str(), error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

bool Tokens::parse(std::string_view text, std::string& error) {
  tokens_.clear();
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::vector<std::string_view> words;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
      if (i > start) words.push_back(line.substr(start, i - start));
    }
    if (words.empty()) continue;
    auto fail = [&](const std::string& why) {
      error = "line " + std::to_string(line_no) + ": " + why;
      return false;
    };
    std::optional<Role> role = parse_role(words[0]);
    if (!role) return fail("unknown role '" + std::string(words[0]) + "' (admin, trader, feed, payments, punter, backup)");
    if (words.size() < 2) return fail("a token is missing after the role");
    if (words[1].size() < 16) return fail("token is shorter than 16 characters");
    Principal p{*role, {}};
    if (*role == Role::punter) {
      if (words.size() != 3 || !domain::valid_id(words[2])) {
        return fail("a punter token needs the account id it acts for: punter <token> <account_id>");
      }
      p.account_id = std::string(words[2]);
    } else if (words.size() != 2) {
      return fail("only punter tokens name an account");
    }
    if (!tokens_.emplace(std::string(words[1]), p).second) return fail("the same token appears twice");
  }
  if (tokens_.empty()) {
    error = "no tokens: add a line like 'admin <secret of 16+ chars>'";
    return false;
  }
  return true;
}

const Principal* Tokens::find(std::string_view header) const {
  // RFC 9110, 11.1: the scheme is case-insensitive.
  constexpr std::string_view kBearer = "bearer ";
  if (header.size() <= kBearer.size()) return nullptr;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    char ch = header[i];
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    if (ch != kBearer[i]) return nullptr;
  }
  auto it = tokens_.find(std::string(header.substr(kBearer.size())));
  return it == tokens_.end() ? nullptr : &it->second;
}

}  // namespace betcore::api
