// How a bootstrapping cluster node gets a peer's newest snapshot: it picks
// the peer (bootstrap_from_peers), fetches the file with GET /v1/snapshot
// and an admin token, written to disk as it arrives (a snapshot can be
// gigabytes) and fsynced, then checks it and moves it in.
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/uio.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>

#include "log/file/posix_file.h"
#include "node/node.h"
#include "node/snapshot_store.h"
#include "ops/logging.h"
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

std::unique_ptr<domain::State> bootstrap_from_peers(const std::vector<PeerSnapshot>& peers,
                                                    uint64_t applied, uint64_t log_first,
                                                    const FetchSnapshot& fetch, SnapshotStore& store,
                                                    log::Log& log, std::mutex* store_mu,
                                                    const BootstrapHooks& hooks) {
  // Usable: past what this node has, and the log still holds everything after
  // it. The newest first.
  std::vector<std::pair<uint64_t, std::string>> candidates;  // snapshot index, address
  for (const PeerSnapshot& p : peers) {
    if (p.snapshot_index > applied && p.snapshot_index + 1 >= log_first) {
      candidates.emplace_back(p.snapshot_index, p.address);
    }
  }
  std::sort(candidates.rbegin(), candidates.rend());
  if (candidates.empty()) {
    spdlog::error("bootstrap: no peer has a snapshot at or past index {} (the log starts at {}); "
                  "waiting for one", applied + 1, log_first);
    return nullptr;
  }
  const auto mib = [](uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); };
  for (const auto& [idx, address] : candidates) {
    if (hooks.cancelled && hooks.cancelled()) return nullptr;
    spdlog::info("bootstrap: fetching the snapshot at index {} from {}", idx, address);
    if (hooks.progress) hooks.progress(fmt::format("fetching the snapshot at index {} from {}", idx, address));
    SnapshotFetch fetch_one{address, store.partial_path(), nullptr, hooks.cancelled};
    auto said = std::chrono::steady_clock::time_point{};
    fetch_one.progress = [&, idx = idx](uint64_t received, uint64_t total) {
      auto now = std::chrono::steady_clock::now();
      if (!hooks.progress || now - said < std::chrono::milliseconds(500)) return;
      said = now;
      hooks.progress(total > 0 ? fmt::format("fetching the snapshot at index {} from {}: {:.1f} of {:.1f} MiB",
                                             idx, address, mib(received), mib(total))
                               : fmt::format("fetching the snapshot at index {} from {}: {:.1f} MiB",
                                             idx, address, mib(received)));
    };
    // The partial file never outlives a fetch that did not become a snapshot.
    const auto drop_partial = [&store] {
      std::error_code ignored;
      std::filesystem::remove(store.partial_path(), ignored);
    };
    std::string err;
    const bool fetched = fetch(fetch_one, err);
    if (hooks.cancelled && hooks.cancelled()) {
      drop_partial();
      spdlog::info("bootstrap: stopped while fetching the snapshot from {}", address);
      return nullptr;
    }
    if (!fetched) {
      drop_partial();
      spdlog::warn("bootstrap: {} did not give its snapshot: {}", address, err);
      continue;
    }
    if (hooks.progress) hooks.progress(fmt::format("loading the snapshot at index {} from {}", idx, address));
    LoadedSnapshot loaded = store.open_partial();
    if (!loaded.state) {
      drop_partial();
      spdlog::error("bootstrap: the snapshot from {} cannot be used ({}); trying another peer", address,
                    loaded.problems.empty() ? "?" : loaded.problems.front());
      continue;
    }
    if (loaded.index <= applied) {
      drop_partial();
      continue;
    }
    std::error_code size_error;
    const uintmax_t bytes = std::filesystem::file_size(store.partial_path(), size_error);
    // Kept locally too, so a restart does not fetch it again.
    std::unique_lock<std::mutex> files;
    if (store_mu != nullptr) files = std::unique_lock<std::mutex>(*store_mu);
    if (!store.adopt_partial(loaded.index, err)) {
      drop_partial();
      spdlog::warn("bootstrap: cannot keep the fetched snapshot locally: {}", err);
    } else {
      std::vector<uint64_t> kept = store.list();
      if (!kept.empty()) log.compact(log::Position{kept.front() + 1});
    }
    ops::log(spdlog::level::info,
             fmt::format("bootstrap: loaded the snapshot at index {} from {} ({} bytes)", loaded.index, address,
                         bytes),
             {{"event", "bootstrap"}, {"peer", address}, {"snapshot_index", loaded.index}, {"bytes", bytes}});
    return std::move(loaded.state);
  }
  return nullptr;
}

}  // namespace betcore::node
