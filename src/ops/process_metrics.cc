// The process_* series (process_metrics.h), read from /proc/self.
#include "ops/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "ops/build_info.h"
#include "ops/wall_clock.h"

namespace betcore::ops {
namespace {

double cpu_seconds() {
  rusage u{};
  if (::getrusage(RUSAGE_SELF, &u) != 0) return 0;
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// /proc/self/statm: size and resident, in pages.
double memory_bytes(bool resident) {
  std::ifstream in("/proc/self/statm");
  double size = 0, rss = 0;
  if (!(in >> size >> rss)) return 0;
  return (resident ? rss : size) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double open_fds() {
  std::error_code ec;
  double n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++n;
  return n > 0 ? n - 1 : 0;  // not the iterator's own descriptor
}

double max_fds() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur == RLIM_INFINITY) return std::numeric_limits<double>::infinity();
  return static_cast<double>(r.rlim_cur);
}

// Unix time the process started: boot time + its start in clock ticks
// (/proc/self/stat field 22, after the parenthesised command name).
double start_time_seconds() {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  const size_t close = line.rfind(')');
  double btime = 0;
  std::ifstream proc_stat("/proc/stat");
  for (std::string key; proc_stat >> key;) {
    if (key == "btime") {
      proc_stat >> btime;
      break;
    }
  }
  if (close == std::string::npos || btime == 0) return static_cast<double>(wall_ms()) / 1000;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return btime + std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  return static_cast<double>(wall_ms()) / 1000;
}

}  // namespace

std::vector<Registration> register_process_metrics(Registry& registry) {
  std::vector<Registration> out;
  out.push_back(registry.counter_callback("process_cpu_seconds_total",
                                          "Total user and system CPU time spent in seconds.", {},
                                          cpu_seconds));
  out.push_back(registry.gauge_callback("process_resident_memory_bytes",
                                        "Resident memory size in bytes.", {},
                                        [] { return memory_bytes(true); }));
  out.push_back(registry.gauge_callback("process_virtual_memory_bytes",
                                        "Virtual memory size in bytes.", {},
                                        [] { return memory_bytes(false); }));
  out.push_back(registry.gauge_callback("process_open_fds", "Number of open file descriptors.", {},
                                        open_fds));
  out.push_back(registry.gauge_callback("process_max_fds",
                                        "Maximum number of open file descriptors.", {}, max_fds));
  const double started = start_time_seconds();
  out.push_back(registry.gauge_callback("process_start_time_seconds",
                                        "Start time of the process since unix epoch in seconds.",
                                        {}, [started] { return started; }));
  out.push_back(registry.gauge_callback(
      "betcore_build_info", "The build this process runs: its version and git revision (always 1)",
      {{"version", std::string(build_version())}, {"revision", std::string(build_revision())}},
      [] { return 1.0; }));
  return out;
}

}  // namespace betcore::ops
