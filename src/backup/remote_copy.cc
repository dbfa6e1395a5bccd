// The remote copy's list, store and remove, as shell commands over one
// multiplexed `ssh` connection.
#include "backup/remote_copy.h"

#include <fmt/format.h>
#include <signal.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

#include "tools/process.h"

namespace betcore::backup {
namespace {

constexpr std::string_view kListedMark = "betcore-ship-listed";
constexpr std::string_view kStoredMark = "betcore-ship-stored";
constexpr std::string_view kRemovedMark = "betcore-ship-removed";
constexpr int kControlPersistS = 60;    // the connection outlives its last command this long
constexpr int kServerAliveS = 5;        // a silent server is given up after 3 of these
constexpr int kWaitSliceMs = 50;        // how often a running command looks at `stop`
constexpr int kCloseTimeoutMs = 5'000;  // `ssh -O exit`
constexpr size_t kErrorCharsMax = 400;
constexpr size_t kHashChunkBytes = size_t{1} << 20;

// One word for a POSIX shell, whatever `s` holds.
std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

bool has_line(const std::string& text, std::string_view line) {
  const auto lines = lines_of(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// sha256sum's line: "<64 hex>  NAME" (text mode) or "<64 hex> *NAME"
// (binary). `hex` in lower case; a leading "./" is dropped from `name`.
bool parse_hash_line(std::string_view line, std::string& hex, std::string& name) {
  if (line.size() < 67 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*')) return false;
  for (char c : line.substr(0, 64)) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  hex.assign(line.substr(0, 64));
  for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  name.assign(line.substr(66));
  if (name.starts_with("./")) name.erase(0, 2);
  return true;
}

// What ssh or the remote command said, without hash lines, on one line.
std::string summary(const std::string& text) {
  std::string out, hex, name;
  for (const std::string& line : lines_of(text)) {
    if (line.empty() || parse_hash_line(line, hex, name)) continue;
    out += (out.empty() ? "" : "; ") + line;
  }
  if (out.size() > kErrorCharsMax) out = "..." + out.substr(out.size() - kErrorCharsMax);
  return out.empty() ? "no message" : out;
}

}  // namespace

bool sha256_file(const std::string& path, std::string& hex, std::string& error) {
  FILE* file = std::fopen(path.c_str(), "rbe");
  if (file == nullptr) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  std::vector<unsigned char> buffer(kHashChunkBytes);
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file)) > 0) {
    crypto_hash_sha256_update(&state, buffer.data(), n);
  }
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) {
    error = "cannot read " + path + ": read error";
    return false;
  }
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest;
  crypto_hash_sha256_final(&state, digest.data());
  std::array<char, crypto_hash_sha256_BYTES * 2 + 1> text;
  sodium_bin2hex(text.data(), text.size(), digest.data(), digest.size());
  hex = text.data();
  return true;
}

bool is_archive_name(std::string_view name) {
  if (name == kArchiveIdentityName) return true;
  std::string_view file;
  if (name.starts_with("segments/") && name.ends_with(".bcseg")) {
    file = name.substr(9);
  } else if (name.starts_with("snapshots/") && name.ends_with(".bcsnap")) {
    file = name.substr(10);
  } else {
    return false;
  }
  return std::all_of(file.begin(), file.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '.' || c == '_';
  });
}

bool parse_ssh_target(const std::string& text, SshTarget& target, std::string& error) {
  const size_t split = text.find(":/");
  if (split == std::string::npos || split == 0) {
    error = "the remote target '" + text + "' is not [user@]host:/absolute/path";
    return false;
  }
  target.destination = text.substr(0, split);
  target.path = text.substr(split + 1);
  std::erase_if(target.destination, [](char c) { return c == '[' || c == ']'; });
  // Never an option to ssh, never split into words.
  if (target.destination.empty() || target.destination.front() == '-' ||
      target.destination.find_first_of(" \t\n'\"") != std::string::npos) {
    error = "the remote target's host '" + target.destination + "' is not a host name";
    return false;
  }
  if (target.path.find_first_of(std::string_view("\n\0", 2)) != std::string::npos) {
    error = "the remote target's path holds a newline or NUL";
    return false;
  }
  while (target.path.size() > 1 && target.path.back() == '/') target.path.pop_back();
  return true;
}

RemoteResult RemoteCopy::list(std::map<std::string, std::string>& held,
                              const std::atomic<bool>& stop) {
  const std::string p = shell_quote(target_.path);
  const std::string command = fmt::format(
      "mkdir -p {0}/segments {0}/snapshots && cd {0} && "
      "find . -maxdepth 2 -type f -name '*.tmp' -exec rm -f {{}} + && "
      "find . -maxdepth 2 -type f \\( -name {1} -o -name '*.bcseg' -o -name '*.bcsnap' \\) "
      "-exec sha256sum {{}} + && echo {2}",
      p, kArchiveIdentityName, kListedMark);
  Output out = run(command, "", kListedMark, stop);
  held.clear();
  std::string hex, name;
  for (const std::string& line : lines_of(out.text)) {
    if (parse_hash_line(line, hex, name) && is_archive_name(name)) held[name] = hex;
  }
  return out.result;
}

RemoteResult RemoteCopy::store(const std::string& name, const std::string& local_path,
                               const std::string& sha256, std::string& remote_sha256,
                               const std::atomic<bool>& stop) {
  const size_t slash = name.find('/');
  const std::string folder = slash == std::string::npos ? "." : name.substr(0, slash);
  const std::string tmp = name + ".tmp";
  // `test` keeps a damaged upload from ever having the final name; the
  // hash is printed for this side to check as well.
  const std::string command = fmt::format(
      "cd {0} && cat > {1} && h=$(sha256sum {1}) && echo \"$h\" && test \"${{h%% *}}\" = {2} && "
      "sync {1} && mv -f {1} {3} && sync {4} && echo {5}",
      shell_quote(target_.path), shell_quote(tmp), sha256, shell_quote(name), shell_quote(folder),
      kStoredMark);
  Output out = run(command, local_path, kStoredMark, stop);
  remote_sha256.clear();
  std::string hex, printed;
  for (const std::string& line : lines_of(out.text)) {
    if (parse_hash_line(line, hex, printed) && printed == tmp) remote_sha256 = hex;
  }
  if (out.result.outcome == RemoteOutcome::ok && remote_sha256 != sha256) {
    out.result = {RemoteOutcome::remote_failed,
                  "the remote printed SHA-256 '" + remote_sha256 + "', not " + sha256};
  }
  return out.result;
}

RemoteResult RemoteCopy::remove(const std::vector<std::string>& names,
                                const std::atomic<bool>& stop) {
  std::string command = "cd " + shell_quote(target_.path) + " && rm -f --";
  for (const std::string& name : names) command += " " + shell_quote(name);
  command += fmt::format(" && sync segments snapshots && echo {}", kRemovedMark);
  return run(command, "", kRemovedMark, stop).result;
}

RemoteCopy::Output RemoteCopy::run(const std::string& command, const std::string& stdin_path,
                                   std::string_view mark, const std::atomic<bool>& stop) {
  tools::SpawnOptions spawn;
  spawn.program = "ssh";
  spawn.args = ssh_args();
  spawn.args.push_back(target_.destination);
  spawn.args.push_back(command);
  spawn.log_path = work_dir_ + "/command.log";
  spawn.stdin_path = stdin_path;
  std::error_code ec;
  std::filesystem::remove(spawn.log_path, ec);  // the log appends: this command's output only
  tools::Process ssh = tools::Process::spawn(spawn);
  if (!ssh.started()) {
    return {{RemoteOutcome::unreachable, "cannot run ssh: " + ssh.spawn_error()}, ""};
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.command_timeout_ms);
  std::optional<tools::ExitStatus> status;
  while (!(status = ssh.wait(kWaitSliceMs))) {
    const bool timed_out = std::chrono::steady_clock::now() >= deadline;
    if (!stop.load() && !timed_out) continue;
    ssh.kill(SIGKILL);
    ssh.wait(-1);
    close();  // the shared connection may be what hangs
    if (!timed_out) return {{RemoteOutcome::interrupted, "stopped"}, ""};
    return {{RemoteOutcome::unreachable, fmt::format("no answer within {} ms (command_timeout_ms)",
                                                     options_.command_timeout_ms)},
            ssh.read_log()};
  }
  Output out{{}, ssh.read_log()};
  if (status->success()) {
    if (!has_line(out.text, mark)) {
      out.result = {RemoteOutcome::remote_failed, "cut short: " + summary(out.text)};
    }
    return out;
  }
  // ssh(1): "ssh exits with the exit status of the remote command or with
  // 255 if an error occurred."
  if (status->exited && status->code == 255) {
    const std::string said = summary(out.text);  // ssh's own words start "ssh: ", mostly
    out.result = {RemoteOutcome::unreachable, said.starts_with("ssh") ? said : "ssh: " + said};
  } else {
    out.result = {RemoteOutcome::remote_failed,
                  "remote command " + status->describe() + ": " + summary(out.text)};
  }
  return out;
}

void RemoteCopy::close() {
  if (work_dir_.empty() || !std::filesystem::exists(control_path())) return;
  tools::SpawnOptions spawn;
  spawn.program = "ssh";
  spawn.args = ssh_args();
  spawn.args.insert(spawn.args.end(), {"-O", "exit", target_.destination});
  spawn.log_path = work_dir_ + "/close.log";
  tools::Process ssh = tools::Process::spawn(spawn);
  if (ssh.started() && !ssh.wait(kCloseTimeoutMs)) ssh.kill(SIGKILL);
}

std::vector<std::string> RemoteCopy::ssh_args() const {
  std::vector<std::string> settings = {
      "BatchMode=yes",  // never a prompt: a missing key or host key is an error
      "IdentitiesOnly=yes",
      fmt::format("ConnectTimeout={}", options_.connect_timeout_s),
      "ControlMaster=auto",
      "ControlPath=" + control_path(),
      fmt::format("ControlPersist={}", kControlPersistS),
      fmt::format("ServerAliveInterval={}", kServerAliveS),
      "ServerAliveCountMax=3",
      "LogLevel=ERROR",
  };
  if (!options_.known_hosts.empty()) {
    // Quoted: ssh reads this option as a list of files split at spaces.
    settings.push_back("UserKnownHostsFile=\"" + options_.known_hosts + "\"");
    settings.push_back("StrictHostKeyChecking=yes");
  }
  std::vector<std::string> args = {"-T", "-p", std::to_string(options_.port), "-i",
                                   options_.identity_file};
  for (std::string& s : settings) {
    args.push_back("-o");
    args.push_back(std::move(s));
  }
  return args;
}

}  // namespace betcore::backup
