#include "api/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "domain/assert.h"
#include "domain/state_machine.h"

namespace betcore::api {

namespace {

constexpr std::string_view kHashPrefix = "sha256:";
constexpr size_t kTokenIdHex = 12;
constexpr char kHex[] = "0123456789abcdef";

std::string hex(const unsigned char* bytes, size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

// "sha256:<64 lower-case hex>" into bytes; false if it is not that.
bool parse_hash(std::string_view text, std::array<unsigned char, 32>& out) {
  if (text.substr(0, kHashPrefix.size()) != kHashPrefix) return false;
  text.remove_prefix(kHashPrefix.size());
  if (text.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    int v = 0;
    for (char c : text.substr(i * 2, 2)) {
      const char* at = std::char_traits<char>::find(kHex, 16, c);
      if (at == nullptr) return false;
      v = v * 16 + static_cast<int>(at - kHex);
    }
    out[i] = static_cast<unsigned char>(v);
  }
  return true;
}

std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

}  // namespace

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

std::array<unsigned char, 32> token_hash(std::string_view token) {
  std::array<unsigned char, 32> out{};
  unsigned int n = 0;
  BETCORE_ASSERT(EVP_Digest(token.data(), token.size(), out.data(), &n, EVP_sha256(), nullptr) == 1 &&
                 n == out.size());
  return out;
}

std::string token_hash_text(std::string_view token) {
  const auto h = token_hash(token);
  return std::string(kHashPrefix) + hex(h.data(), h.size());
}

std::string new_token() {
  unsigned char bytes[20];
  BETCORE_ASSERT(RAND_bytes(bytes, sizeof bytes) == 1);
  return "bct_" + hex(bytes, sizeof bytes);
}

Tokens::Tokens() : table_(std::make_shared<const Table>()) {}

size_t Tokens::size() const { return table_.load()->size(); }

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
  auto table = std::make_shared<Table>();
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    const std::vector<std::string_view> words = words_of(line);
    if (words.empty()) continue;
    auto fail = [&](const std::string& why) {
      error = "line " + std::to_string(line_no) + ": " + why;
      return false;
    };
    const std::optional<Role> role = parse_role(words[0]);
    if (!role) return fail("unknown role '" + std::string(words[0]) + "' (admin, trader, feed, payments, punter, backup)");
    if (words.size() < 2) return fail("a token hash is missing after the role");
    Principal p{*role, {}, {}, {}};
    if (!parse_hash(words[1], p.hash)) {
      // Never echo the word: it may be a token written in clear.
      return fail("not 'sha256:<64 hex digits>': the tokens file holds hashes of tokens, never "
                  "tokens (`betcore token add ROLE [ACCOUNT] --tokens FILE` adds one; `betcore "
                  "token hash --in OLD --out FILE` converts a file of clear-text tokens)");
    }
    p.token_id = hex(p.hash.data(), kTokenIdHex / 2);
    if (*role == Role::punter) {
      if (words.size() != 3 || !domain::valid_id(words[2])) {
        return fail("a punter token needs the account id it acts for: punter sha256:<hex> <account_id>");
      }
      p.account_id = std::string(words[2]);
    } else if (words.size() != 2) {
      return fail("only punter tokens name an account");
    }
    const std::string id = p.token_id;
    if (!table->emplace(id, std::move(p)).second) return fail("the same token appears twice");
  }
  if (table->empty()) {
    error = "no tokens: add one with `betcore token add admin --tokens FILE`";
    return false;
  }
  table_.store(std::move(table));
  return true;
}

std::shared_ptr<const Principal> Tokens::find(std::string_view header) const {
  // RFC 9110, 11.1: the scheme is case-insensitive.
  constexpr std::string_view kBearer = "bearer ";
  if (header.size() <= kBearer.size()) return nullptr;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    char ch = header[i];
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    if (ch != kBearer[i]) return nullptr;
  }
  const auto hash = token_hash(header.substr(kBearer.size()));
  const std::shared_ptr<const Table> table = table_.load();
  const auto it = table->find(hex(hash.data(), kTokenIdHex / 2));
  if (it == table->end()) return nullptr;
  // The id matched (12 hex digits, not secret); the whole hash decides, in
  // constant time.
  if (CRYPTO_memcmp(hash.data(), it->second.hash.data(), hash.size()) != 0) return nullptr;
  return std::shared_ptr<const Principal>(table, &it->second);
}

}  // namespace betcore::api
