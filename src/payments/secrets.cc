// Reads the gateway secrets file.
#include "payments/secrets.h"

#include <fstream>
#include <sstream>

namespace betcore::payments {

std::optional<Secrets> read_secrets_file(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + " cannot be read: create it with the lines 'api_key <key>' and "
                    "'webhook_secret <secret>'";
    return std::nullopt;
  }
  Secrets s;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string name, value, extra;
    if (!(words >> name)) continue;
    if (!(words >> value) || (words >> extra)) {
      *error = path + " line " + std::to_string(n) + ": expected 'name value'";
      return std::nullopt;
    }
    if (name == "api_key") s.api_key = value;
    else if (name == "webhook_secret") s.webhook_secret = value;
    else {
      *error = path + " line " + std::to_string(n) + ": unknown name '" + name +
               "' (known: api_key, webhook_secret)";
      return std::nullopt;
    }
  }
  if (s.api_key.empty() || s.webhook_secret.empty()) {
    *error = path + ": needs both an 'api_key' and a 'webhook_secret' line";
    return std::nullopt;
  }
  return s;
}

}  // namespace betcore::payments
