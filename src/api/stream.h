// GET /v1/stream: feeds the committed events of the journal to one client
// as newline-delimited JSON, from a cursor, and keeps feeding as batches are
// applied. Backpressure: when the client's buffer is full the session stops
// and resumes on the stream's on_change, from the same cursor, so nothing is
// skipped and nothing is sent twice.
#pragma once

#include <memory>

#include "api/http/http_server.h"
#include "node/event_journal.h"

namespace betcore::api {

// Starts the stream on `responder` with events strictly after `cursor`.
void start_event_stream(node::EventJournal& journal, const http::Responder& responder,
                        node::StreamCursor cursor);

}  // namespace betcore::api
