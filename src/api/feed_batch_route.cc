// POST /v1/feed-prices: many feed price changes submitted together, answered after the last.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "api/answers.h"
#include "api/json_writer.h"
#include "api/request_parsing.h"
#include "api/route_handlers.h"
#include "codec/command_codec.h"
#include "domain/assert.h"
#include "domain/rejection.h"

namespace betcore::api {

namespace {

// One change's fate. Written once: by the parser (a bad change) before the
// submit, or by its command's WriteDone after it.
struct Slot {
  std::string market_id;
  node::WriteResult::Kind kind = node::WriteResult::Kind::applied;
  std::string json;    // the element of "results" (applied, or refused for itself)
  uint64_t index = 0;  // the log position it was applied at; 0 if it was not submitted
  std::string detail;  // outcome_unknown, unavailable: why
};

// The request's answer, shared by the WriteDones of its commands. They run on
// the applier thread, or on the submitter's when an append fails, so possibly
// on two threads for one request (its commands split over two batches): each
// writes only its own slot, and the one that brings `pending` to zero (acq_rel:
// it sees every other slot) answers.
struct BatchAnswer {
  BatchAnswer(Answer a, size_t n) : answer(std::move(a)), slots(n) {}
  Answer answer;
  std::vector<Slot> slots;
  std::atomic<size_t> pending{0};
};

void write_element_error(std::string& out, std::string_view market_id, std::string_view code,
                         std::string_view message, uint64_t index) {
  JsonWriter w(out);
  w.begin_object();
  w.field("market_id", market_id);
  w.key("error").begin_object();
  w.field("code", code);
  w.field("message", message);
  if (index != 0) w.field_u64("index", index);
  w.end_object();
  w.end_object();
}

// A change as the state machine answered it (docs/api.md: applied:false for
// one not after the market's last; a refusal carries its index as the
// single route's does).
void render_applied(Slot& slot, const domain::Outcome& out, uint64_t index) {
  slot.index = index;
  if (!out.ok()) {
    write_element_error(slot.json, slot.market_id, domain::code_name(out.code), out.message, index);
    return;
  }
  JsonWriter w(slot.json);
  w.begin_object();
  w.field("market_id", slot.market_id);
  w.field_bool("applied", !out.duplicate);
  w.end_object();
}

// Any change the node took but did not apply decides the whole answer, as
// for the single route: 504 if one may have been committed (the adapter sends
// the batch again; what was applied answers applied:false), else 503.
http::Response whole_answer(const BatchAnswer& b) {
  const Slot* failed = nullptr;
  for (const Slot& s : b.slots) {
    const bool worse = failed == nullptr || (s.kind == node::WriteResult::Kind::outcome_unknown &&
                                             failed->kind != s.kind);
    if (s.kind != node::WriteResult::Kind::applied && worse) failed = &s;
  }
  if (failed != nullptr) {
    node::WriteResult r;
    r.kind = failed->kind;
    r.detail = failed->detail;
    return write_failed(r);
  }
  std::string body;
  size_t bytes = 32;
  for (const Slot& s : b.slots) bytes += s.json.size() + 1;
  body.reserve(bytes);
  uint64_t index_max = 0;
  body.append("{\"results\":[");
  for (size_t i = 0; i < b.slots.size(); ++i) {
    if (i > 0) body.push_back(',');
    body.append(b.slots[i].json);
    index_max = std::max(index_max, b.slots[i].index);
  }
  body.append("],\"index\":" + std::to_string(index_max) + "}");
  return json_response(200, std::move(body));
}

void on_done(const std::shared_ptr<BatchAnswer>& b, size_t i, const node::WriteResult& r) {
  Slot& slot = b->slots[i];
  slot.kind = r.kind;
  if (r.kind == node::WriteResult::Kind::applied) {
    render_applied(slot, *r.outcome, r.index);  // r.state lives only during this call
  } else {
    slot.detail = r.detail;
  }
  const size_t before = b->pending.fetch_sub(1, std::memory_order_acq_rel);
  BETCORE_ASSERT(before > 0);
  if (before == 1) b->answer.send(whole_answer(*b));
}

}  // namespace

namespace routes {

void feed_prices_batch(Services& services, Call& call) {
  ParsedFeedBatch parsed = parse_feed_prices_batch(call.req.body);
  if (!parsed.ok()) {
    call.answer.send(error(400, "invalid_request", parsed.error));
    return;
  }
  auto b = std::make_shared<BatchAnswer>(call.answer, parsed.changes.size());
  std::vector<std::string> encoded;
  std::vector<node::WriteDone> done;
  encoded.reserve(parsed.changes.size());
  done.reserve(parsed.changes.size());
  for (size_t i = 0; i < parsed.changes.size(); ++i) {
    ParsedChange& c = parsed.changes[i];
    Slot& slot = b->slots[i];
    slot.market_id = std::move(c.market_id);
    if (!c.parsed.ok()) {
      // The message quotes only what nlohmann parsed, which is valid UTF-8.
      write_element_error(slot.json, slot.market_id, "invalid_request", c.parsed.error, 0);
      continue;
    }
    encoded.emplace_back().reserve(128);
    codec::encode_command(c.parsed.command, encoded.back());
    done.emplace_back([b, i](const node::WriteResult& r) { on_done(b, i, r); });
  }
  if (encoded.empty()) {
    call.answer.send(whole_answer(*b));
    return;
  }
  // Before the submit: a WriteDone may run (and answer) before it returns.
  b->pending.store(encoded.size(), std::memory_order_release);
  node::SubmitStatus st = services.node.submit_all(std::move(encoded), std::move(done), actor_of(call));
  // Not accepted: nothing was queued and no WriteDone will run.
  if (st != node::SubmitStatus::accepted) call.answer.send(submit_refused(services, st));
}

}  // namespace routes

}  // namespace betcore::api
