// Where the archiver reads the committed log: an embedded node over HTTP.
#include "backup/log_source.h"

#include <algorithm>

#include <fmt/format.h>

#include "codec/snapshot.h"
#include "log/entry_frames.h"

namespace betcore::backup {
namespace {

tools::HttpClientOptions client_options() {
  tools::HttpClientOptions o;
  o.connect_timeout_ms = 2'000;
  o.request_timeout_ms = 30'000;  // a long poll, or a large snapshot
  o.response_bytes_max = size_t{1} << 30;
  return o;
}

std::string answer_text(const tools::Response& r) {
  if (r.status == 0) return r.error;
  return fmt::format("HTTP {}: {}", r.status, r.body.substr(0, 300));
}

}  // namespace

NodeSource::NodeSource(tools::Url node, std::string token)
    : url_(std::move(node)), token_(std::move(token)), client_(url_, client_options()) {}

std::string NodeSource::describe() const { return "node " + url_.origin(); }

log::Result<SourceRead> NodeSource::read(uint64_t from, const ArchiveProgress& progress, int wait_ms) {
  std::string target =
      fmt::format("{}/v1/log?from={}&archived={}&wait_ms={}", url_.path, from, progress.archived, wait_ms);
  target += fmt::format("&lag_ms={}", progress.lag_ms);
  if (progress.shipped) {
    target += fmt::format("&shipped={}&remote_lag_ms={}", *progress.shipped, std::max<int64_t>(0, progress.remote_lag_ms));
  }
  tools::Response r = client_.get(target, token_);
  if (r.status == 410) {
    uint64_t first = 0;
    try {
      first = std::stoull(r.header("x-betcore-log-first"));
    } catch (...) {
      first = 0;
    }
    return log::Error{
        log::Errc::compacted,
        "the node compacted its log past position " + std::to_string(from) + ": " + answer_text(r),
        first};
  }
  if (r.status != 200) {
    return log::Error{log::Errc::unavailable,
                      fmt::format("GET /v1/log from {}: {}", describe(), answer_text(r))};
  }
  SourceRead out;
  std::string error;
  if (!log::decode_entry_frames(r.body, out.entries, error)) {
    return log::Error{log::Errc::corrupt, "GET /v1/log from " + describe() + ": " + error};
  }
  if (!out.entries.empty() && out.entries.front().position.value != from) {
    return log::Error{log::Errc::corrupt,
                      fmt::format("GET /v1/log from {}: asked from {}, got from {}", describe(),
                                  from, out.entries.front().position.value)};
  }
  try {
    out.head = std::stoull(r.header("x-betcore-log-head"));
  } catch (...) {
    out.head = 0;
  }
  return out;
}

bool NodeSource::fetch_state(std::string& encoded, uint64_t& position, std::string& error) {
  tools::Response r = client_.get(url_.path + "/v1/snapshot", token_);
  if (r.status != 200) {
    error = "GET /v1/snapshot from " + describe() + ": " + answer_text(r);
    return false;
  }
  codec::OpenedSnapshot opened = codec::open_snapshot(r.body);
  if (!opened.error.empty()) {
    error = "the snapshot from " + describe() + " is damaged: " + opened.error;
    return false;
  }
  encoded = std::move(opened.encoded_state);
  position = opened.applied_index;
  return true;
}

}  // namespace betcore::backup
