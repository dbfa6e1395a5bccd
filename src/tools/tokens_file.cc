#include "tools/tokens_file.h"

#include <array>
#include <fstream>
#include <sstream>

namespace betcore::tools {

namespace {

std::vector<std::string_view> split_blanks(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

}  // namespace

bool is_known_role(std::string_view role) {
  static constexpr std::array<std::string_view, 6> kRoles = {"admin", "trader", "payments", "feed",
                                                             "punter", "backup"};
  for (auto r : kRoles) {
    if (r == role) return true;
  }
  return false;
}

std::optional<std::string> TokensFile::first(std::string_view role) const {
  for (const auto& e : entries) {
    if (e.role == role) return e.token;
  }
  return std::nullopt;
}

TokensFile parse_tokens(std::string_view text) {
  TokensFile out;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    auto fields = split_blanks(line);
    if (fields.empty()) continue;
    auto fail = [&](const std::string& why) {
      out.errors.push_back("line " + std::to_string(line_no) + ": " + why);
    };
    if (fields.size() < 2 || fields.size() > 3) {
      fail("expected `<role> <token> [<account_id>]`");
      continue;
    }
    TokenEntry e{std::string(fields[0]), std::string(fields[1]),
                 fields.size() == 3 ? std::string(fields[2]) : std::string(), line_no};
    if (!is_known_role(e.role)) {
      fail("unknown role `" + e.role + "` (admin, trader, payments, feed, punter, backup)");
    } else if (e.role == "punter" && e.account_id.empty()) {
      fail("a punter token needs its account: `punter <token> <account_id>`");
    } else if (e.role != "punter" && !e.account_id.empty()) {
      fail("only a punter token is bound to an account");
    } else {
      out.entries.push_back(std::move(e));
    }
  }
  return out;
}

std::optional<TokensFile> read_tokens_file(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    if (error) *error = "cannot read tokens file " + path;
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_tokens(text.str());
}

}  // namespace betcore::tools
