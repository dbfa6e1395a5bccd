// Disk faults: a node's tmpfs filled to the last byte, and the filler removed.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "drill/faults.h"

namespace betcore::drill {

bool inject_disk_full(FaultContext& ctx, const FaultTarget& t, FaultRecord& f) {
  std::filesystem::path filler = ctx.cluster.node_dir(t.members[0]) / kDiskFiller;
  int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  struct statvfs st {};
  if (fd < 0 || ::fstatvfs(fd, &st) != 0) {
    f.problems.push_back("cannot create the filler file " + filler.string() + ": " +
                         std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return false;
  }
  off_t free_bytes = static_cast<off_t>(st.f_bavail * st.f_frsize);
  int rc = ::posix_fallocate(fd, 0, free_bytes);
  ::close(fd);
  if (rc != 0) {
    f.problems.push_back(std::string("fallocate: ") + std::strerror(rc));
    return false;
  }
  f.detail = fmt::format("{} MiB filler on a {} MiB disk", free_bytes >> 20, kNodeDiskBytes >> 20);
  return true;
}

void heal_disk_full(FaultContext& ctx, const FaultTarget& t, FaultRecord&) {
  std::error_code ec;
  std::filesystem::remove(ctx.cluster.node_dir(t.members[0]) / kDiskFiller, ec);
}

}  // namespace betcore::drill
