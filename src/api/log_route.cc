// GET /v1/log: the embedded node's durable batches, whole, for the archiver
// (`betcore backup run`, docs/backup.md). The answer is the entries framed
// back to back (log/entry_frames.h); X-Betcore-Log-Head says how far the log
// goes. The query carries the archiver's own progress (archived, shipped),
// which the node keeps its log for and alerts on (node/archive_watch.h).
#include <algorithm>
#include <memory>

#include "api/answers.h"
#include "api/route_handlers.h"
#include "log/entry_frames.h"

namespace betcore::api::routes {
namespace {

constexpr int kWaitMsMax = 1'000;
constexpr size_t kBytesMax = size_t{16} << 20;

// Reads an unsigned query parameter; false with `refused` set when present
// but not a number.
bool query_u64(const http::Request& req, std::string_view name, std::optional<uint64_t>& out,
               std::optional<http::Response>& refused) {
  auto text = req.query_param(name);
  if (!text) return true;
  out = parse_u64(*text);
  if (!out) {
    refused = error(400, "invalid_request", std::string(name) + " must be a non-negative integer");
    return false;
  }
  return true;
}

}  // namespace

void log_read(Services& services, Call& call) {
  std::optional<uint64_t> from, archived, shipped, wait_ms, max_bytes, lag_ms, remote_lag_ms;
  std::optional<http::Response> refused;
  if (!query_u64(call.req, "from", from, refused) || !query_u64(call.req, "archived", archived, refused) ||
      !query_u64(call.req, "shipped", shipped, refused) ||
      !query_u64(call.req, "wait_ms", wait_ms, refused) ||
      !query_u64(call.req, "max_bytes", max_bytes, refused) ||
      !query_u64(call.req, "lag_ms", lag_ms, refused) ||
      !query_u64(call.req, "remote_lag_ms", remote_lag_ms, refused)) {
    call.answer.send(std::move(*refused));
    return;
  }
  if (!from || *from == 0) {
    call.answer.send(error(400, "invalid_request", "from (the first log position wanted, >= 1) is required"));
    return;
  }
  node::ArchiveReport report;
  report.from = *from;
  report.archived = archived.value_or(*from - 1);
  report.shipped = shipped;
  if (lag_ms) report.lag_ms = static_cast<int64_t>(*lag_ms);
  if (remote_lag_ms) report.remote_lag_ms = static_cast<int64_t>(*remote_lag_ms);
  const int wait = static_cast<int>(std::min<uint64_t>(wait_ms.value_or(0), kWaitMsMax));
  const size_t bytes = static_cast<size_t>(std::clamp<uint64_t>(max_bytes.value_or(kBytesMax), 1, kBytesMax));
  auto shared = std::make_shared<Call>(std::move(call));
  node::Node& node = services.node;
  bool queued = services.log_worker.run([&node, shared, report, wait, bytes] {
    auto got = node.read_log_for_archive(report, bytes, wait);
    if (!got.ok()) {
      const log::Error& e = got.error();
      if (e.code == log::Errc::compacted) {
        http::Response r = error(410, "log_compacted", e.message);
        r.headers.emplace_back("X-Betcore-Log-First", std::to_string(e.position));
        shared->answer.send(std::move(r));
      } else if (e.code == log::Errc::invalid_argument) {
        shared->answer.send(error(409, "wrong_mode", e.message));
      } else {
        shared->answer.send(with_retry_after(error(503, "unavailable", e.message), 1));
      }
      return;
    }
    http::Response r;
    r.status = 200;
    r.content_type = "application/octet-stream";
    r.body = log::encode_entry_frames(got.value());
    // The durable head (never behind a batch served here): an archiver that
    // sees it below its archive knows the log went back.
    r.headers.emplace_back("X-Betcore-Log-Head", std::to_string(node.status().log_head));
    shared->answer.send(std::move(r));
  });
  if (!queued) {
    shared->answer.send(with_retry_after(
        error(503, "unavailable", "too many log reads are waiting; one archiver per node is enough"), 1));
  }
}

}  // namespace betcore::api::routes
