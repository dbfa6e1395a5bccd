// GET /v1/stream: the cursor from the query, then the journal's events as NDJSON.
#include "api/stream.h"

#include <mutex>
#include <string>

#include "api/answers.h"
#include "api/route_handlers.h"

namespace betcore::api {
namespace {

constexpr size_t kChunkBytesMax = 64 * 1024;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(node::EventJournal& journal, node::StreamCursor cursor) : journal_(journal), cursor_(cursor) {}

  void attach(http::Stream stream) {
    std::lock_guard lock(mu_);
    stream_ = std::move(stream);
  }
  bool open() {
    std::lock_guard lock(mu_);
    return stream_.is_open();
  }

  // Sends everything after the cursor that fits. Any thread; serialised.
  void pump() {
    std::lock_guard lock(mu_);
    while (stream_.is_open()) {
      std::string chunk;
      bool gap = false;
      node::StreamCursor next = journal_.read_after(cursor_, chunk, kChunkBytesMax, &gap);
      if (gap) {
        // Events this client has not seen were dropped: never skip ahead.
        // Ending the stream sends it back to GET /v1/stream, whose 404 says
        // from where to resync.
        stream_.finish();
        return;
      }
      if (chunk.empty()) return;  // caught up: the journal wakes us
      if (stream_.write(chunk) != http::Stream::Write::ok) return;  // full: on_change resumes
      cursor_ = next;
    }
  }

 private:
  node::EventJournal& journal_;
  std::mutex mu_;
  node::StreamCursor cursor_;  // guarded by mu_
  http::Stream stream_;
};

}  // namespace

void start_event_stream(node::EventJournal& journal, const http::Responder& responder,
                        node::StreamCursor cursor) {
  auto session = std::make_shared<Session>(journal, cursor);
  std::weak_ptr<Session> weak = session;
  http::StreamHead head;
  head.on_change = [weak] {
    if (auto s = weak.lock()) s->pump();
  };
  http::Stream stream = responder.start_stream(std::move(head));
  if (!stream.is_open()) return;
  session->attach(stream);
  // Subscribe before the first pump: a batch applied in between then wakes
  // it (pumps are serialised and always read from the cursor). The
  // subscription owns the session until its stream closes; the stream's own
  // callback holds it only weakly (no cycle).
  journal.subscribe([session] {
    if (!session->open()) return false;
    session->pump();
    return true;
  });
  session->pump();
}

namespace routes {

void stream(Services& services, Call& call) {
  node::EventJournal& journal = services.node.journal();
  node::StreamCursor cursor;
  auto from = call.req.query_param("from");
  auto after_seq = call.req.query_param("after_seq");
  if (from) {
    auto v = parse_u64(*from);
    if (!v) {
      call.answer.send(
          error(400, "invalid_request", "from must be a log index (a non-negative integer)"));
      return;
    }
    // from=N: every event of index N and after.
    cursor.index = *v;
    cursor.seq = 0;
    if (after_seq) {
      auto q = parse_u64(*after_seq);
      if (!q || *q > UINT32_MAX) {
        call.answer.send(
            error(400, "invalid_request", "after_seq must be the seq of the last event handled"));
        return;
      }
      cursor.seq = static_cast<uint32_t>(*q);
    }
    uint64_t first = journal.first_covered();
    // Index 0 never holds a batch, so a journal covering 1.. covers everything.
    if ((cursor.index < first && first > 1) || journal.dropped_after(cursor)) {
      call.answer.send(
          error(404, "not_found",
                "events before index " + std::to_string(first) +
                    " are no longer kept on this node; resync from the API, then stream from " +
                    std::to_string(first)));
      return;
    }
  } else {
    // No cursor: only what commits from now on.
    cursor.index = services.node.status().applied_index;
    cursor.seq = UINT32_MAX;
  }
  call.answer.metrics->record(200, call.answer.start);
  start_event_stream(journal, call.answer.responder, cursor);
}

}  // namespace routes

}  // namespace betcore::api
