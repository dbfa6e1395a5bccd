// How a bootstrapping cluster node fetches a peer's newest snapshot: GET
// /v1/snapshot with an admin token, the body written to a file as it
// arrives (a snapshot can be gigabytes), then fsynced.
#include <fcntl.h>
#include <sys/uio.h>

#include "log/file/posix_file.h"
#include "node/node.h"
#include "tools/http_client.h"

namespace betcore::node {

FetchSnapshot http_snapshot_fetcher(std::string admin_token, bool tls, int stall_ms, uint64_t bytes_max) {
  return [token = std::move(admin_token), tls, stall_ms, bytes_max](const SnapshotFetch& fetch,
                                                                     std::string& error) {
    // Every node of a cluster speaks the same scheme; peers register HOST:PORT.
    auto url = tools::parse_url((tls ? "https://" : "http://") + fetch.address);
    if (!url) {
      error = "bad peer address '" + fetch.address + "'";
      return false;
    }
    auto file = log::file::open_file(fetch.to_path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (!file.ok()) {
      error = file.error().message;
      return false;
    }
    tools::HttpClientOptions ho;
    ho.request_timeout_ms = stall_ms;
    ho.response_bytes_max = bytes_max;
    tools::HttpClient client(*url, ho);
    tools::Request req;
    req.method = "GET";
    req.target = "/v1/snapshot";
    req.bearer_token = token;
    uint64_t written = 0;
    tools::Download download;
    download.cancelled = fetch.cancelled;
    download.sink = [&](std::string_view piece, uint64_t total, std::string& why) {
      iovec iov{const_cast<char*>(piece.data()), piece.size()};
      if (auto w = log::file::write_all_at(file.value(), fetch.to_path, &iov, 1, written); !w.ok()) {
        why = w.error().message;
        return false;
      }
      written += piece.size();
      if (fetch.progress) fetch.progress(written, total);
      return true;
    };
    tools::Response r = client.download(req, download);
    if (r.status != 200) {
      error = r.status == 0 ? r.error : "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 300);
      return false;
    }
    if (auto synced = log::file::sync_all(file.value(), fetch.to_path); !synced.ok()) {
      error = synced.error().message;
      return false;
    }
    return true;
  };
}

}  // namespace betcore::node
