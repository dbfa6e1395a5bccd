// The open-files limit (RLIMIT_NOFILE) a server needs: each connection is a
// descriptor, and at the soft limit accept() fails with EMFILE long before
// connections_max. systemd and most shells start processes at a soft limit
// of 1024 with a far higher hard limit, which a process may raise itself.
#pragma once

#include <cstdint>
#include <string>

namespace betcore::ops {

// Descriptors a node holds besides its API connections: log files and
// snapshots, etcd's and the peers' connections, the agent check, /proc reads.
constexpr uint64_t kOpenFilesHeadroom = 256;

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit
// now in force (the old one if the raise failed). Call at start, before
// threads open files.
uint64_t raise_open_files_limit();

// "" when `limit` covers `connections_max` plus kOpenFilesHeadroom, else a
// warning for the log naming the fix (LimitNOFILE=, ulimit -n).
std::string open_files_warning(uint64_t limit, uint64_t connections_max);

}  // namespace betcore::ops
