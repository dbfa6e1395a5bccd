#include "api/stream.h"

#include <mutex>

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

}  // namespace betcore::api
