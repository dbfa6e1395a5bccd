#include "ops/open_files.h"

#include <sys/resource.h>

namespace betcore::ops {

uint64_t raise_open_files_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    rlimit raised = r;
    raised.rlim_cur = r.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) r = raised;
  }
  return r.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(r.rlim_cur);
}

std::string open_files_warning(uint64_t limit, uint64_t connections_max) {
  const uint64_t needed = connections_max + kOpenFilesHeadroom;
  if (limit >= needed) return "";
  return "the open-files limit (RLIMIT_NOFILE, raised to the hard limit) is " +
         std::to_string(limit) + ", below the " +
         std::to_string(needed) + " that --connections-max " + std::to_string(connections_max) +
         " needs with headroom: connections past it fail to be accepted (EMFILE). Raise the hard "
         "limit: LimitNOFILE=" + std::to_string(needed) + " in the systemd unit, or `ulimit -n " +
         std::to_string(needed) + "` before starting the node (or lower --connections-max)";
}

}  // namespace betcore::ops
