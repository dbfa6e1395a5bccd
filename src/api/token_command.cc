// `betcore token add ROLE [ACCOUNT] --tokens FILE`: a new random token; its
// hash goes into the node's tokens file, the token itself is printed once
// (and, with --credentials, appended to a client's credentials file).
// `betcore token hash --in OLD --out NEW`: a file of clear-text tokens (the
// format before 0.13) converted to hashes.
#include "api/token_command.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "api/auth.h"
#include "domain/state_machine.h"
#include "tools/tokens_file.h"

namespace betcore::api {

namespace {

struct AddFlags {
  std::string role;
  std::string account;
  std::string tokens_file;
  std::string credentials_file;
};

// Appends `line` to `path`, creating it with mode 600; false on failure.
bool append_line(const std::string& path, const std::string& line) {
  const mode_t old = ::umask(077);
  std::ofstream out(path, std::ios::app);
  ::umask(old);
  out << line << "\n";
  out.flush();
  return static_cast<bool>(out);
}

int run_add(const AddFlags& f) {
  const std::optional<Role> role = parse_role(f.role);
  if (!role) {
    std::fprintf(stderr, "unknown role '%s' (admin, trader, feed, payments, punter, backup)\n",
                 f.role.c_str());
    return 2;
  }
  if ((*role == Role::punter) != !f.account.empty() ||
      (!f.account.empty() && !domain::valid_id(f.account))) {
    std::fprintf(stderr, "a punter token needs the account it acts for (`token add punter "
                         "ACCOUNT`), and only a punter token names one\n");
    return 2;
  }
  const std::string token = new_token();
  const std::string suffix = f.account.empty() ? "" : " " + f.account;
  if (!append_line(f.tokens_file, f.role + " " + token_hash_text(token) + suffix)) {
    std::fprintf(stderr, "cannot append to %s\n", f.tokens_file.c_str());
    return 1;
  }
  if (!f.credentials_file.empty() &&
      !append_line(f.credentials_file, f.role + " " + token + suffix)) {
    std::fprintf(stderr, "cannot append to %s\n", f.credentials_file.c_str());
    return 1;
  }
  // The token on stdout alone, for scripts; what to do with it on stderr.
  std::printf("%s\n", token.c_str());
  std::fprintf(stderr,
               "added a %s token (id %s) to %s; the node reads it at start or on SIGHUP. The token "
               "is shown only now: give it to its holder.\n",
               f.role.c_str(), token_hash_text(token).substr(7, 12).c_str(), f.tokens_file.c_str());
  return 0;
}

int run_hash(const std::string& in, const std::string& out) {
  std::string error;
  std::optional<tools::TokensFile> file = tools::read_tokens_file(in, &error);
  if (!file || !file->errors.empty()) {
    std::fprintf(stderr, "%s: %s\n", in.c_str(), file ? file->errors.front().c_str() : error.c_str());
    return 1;
  }
  std::ostringstream text;
  text << "# betcore tokens file: <role> sha256:<hash> [<account_id>] (betcore token add)\n";
  for (const tools::TokenEntry& e : file->entries) {
    text << e.role << " " << token_hash_text(e.token)
         << (e.account_id.empty() ? "" : " " + e.account_id) << "\n";
  }
  const mode_t old = ::umask(077);
  std::ofstream o(out, std::ios::trunc);
  ::umask(old);
  o << text.str();
  o.flush();
  if (!o) {
    std::fprintf(stderr, "cannot write %s\n", out.c_str());
    return 1;
  }
  std::fprintf(stderr, "wrote %zu hashes to %s; keep %s only where clients need the tokens\n",
               file->entries.size(), out.c_str(), in.c_str());
  return 0;
}

}  // namespace

void add_token_command(CLI::App& root) {
  CLI::App* token = root.add_subcommand("token", "Tokens: add one, or convert a clear-text file");
  token->require_subcommand(1);
  auto f = std::make_shared<AddFlags>();
  CLI::App* add = token->add_subcommand(
      "add", "Make a token, append its hash to the tokens file and print the token once");
  add->add_option("role", f->role, "admin, trader, feed, payments, punter or backup")->required();
  add->add_option("account", f->account, "The account a punter token acts for");
  add->add_option("--tokens", f->tokens_file, "The node's tokens file (created mode 600)")->required();
  add->add_option("--credentials", f->credentials_file,
                  "Also append '<role> <token> [<account>]' to this client credentials file (the "
                  "file betcore's own tools read with --tokens)");
  add->callback([f] {
    const int rc = run_add(*f);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
  auto in = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  CLI::App* hash = token->add_subcommand(
      "hash", "Convert a file of clear-text tokens ('<role> <token> [<account>]') to hashes");
  hash->add_option("--in", *in, "The clear-text file")->required()->check(CLI::ExistingFile);
  hash->add_option("--out", *out, "The tokens file to write (mode 600)")->required();
  hash->callback([in, out] {
    const int rc = run_hash(*in, *out);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace betcore::api
