// The AMQP connection over librabbitmq: connect, declare, publish with
// confirms, consume with acks.
#include "feed/amqp.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <fmt/format.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <vector>

namespace betcore::feed {
namespace {

amqp_bytes_t bytes_of(std::string_view s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

timeval timeval_of(int ms) {
  ms = std::max(ms, 0);
  return timeval{ms / 1000, (ms % 1000) * 1000};
}

std::string text_of(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

// What a connection.close or channel.close from the broker said.
std::string close_reason(const amqp_method_t& method) {
  if (method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    auto* m = static_cast<amqp_connection_close_t*>(method.decoded);
    return fmt::format("the broker closed the connection: {} {}", m->reply_code,
                       text_of(m->reply_text));
  }
  if (method.id == AMQP_CHANNEL_CLOSE_METHOD) {
    auto* m = static_cast<amqp_channel_close_t*>(method.decoded);
    return fmt::format("the broker closed the channel: {} {}", m->reply_code,
                       text_of(m->reply_text));
  }
  return fmt::format("unexpected AMQP method 0x{:08x}", method.id);
}

}  // namespace

std::optional<AmqpOptions> parse_amqp_url(std::string_view url) {
  std::string copy(url);  // amqp_parse_url writes into its argument
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(copy.data(), &info) != AMQP_STATUS_OK || info.ssl) return std::nullopt;
  AmqpOptions o;
  o.host = info.host;
  o.port = static_cast<uint16_t>(info.port);
  o.user = info.user;
  o.password = info.password;
  // "amqp://host/" names the empty vhost in the URI spec, which RabbitMQ
  // never has; read it as the default "/", as most clients do.
  o.vhost = *info.vhost == '\0' ? "/" : info.vhost;
  return o;
}

Amqp::Amqp(const AmqpOptions& options) : where_(fmt::format("{}:{}", options.host, options.port)) {
  conn_ = amqp_new_connection();
  if (conn_ == nullptr) throw AmqpError("out of memory for an AMQP connection");
  amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
  if (socket == nullptr) {
    amqp_destroy_connection(conn_);
    throw AmqpError("out of memory for an AMQP socket");
  }
  timeval connect_timeout = timeval_of(options.connect_timeout_ms);
  // Every later RPC (declare, close) gives up after this long too: a broker
  // that stopped answering must not hang the adapter.
  amqp_set_rpc_timeout(conn_, &connect_timeout);
  amqp_set_handshake_timeout(conn_, &connect_timeout);
  int rc = amqp_socket_open_noblock(socket, options.host.c_str(), options.port, &connect_timeout);
  if (rc != AMQP_STATUS_OK) {
    amqp_destroy_connection(conn_);
    throw AmqpError(fmt::format("cannot connect to RabbitMQ at {}: {}; is it running?", where_,
                                amqp_error_string2(rc)));
  }
  amqp_rpc_reply_t login =
      amqp_login(conn_, options.vhost.c_str(), 0, 131072, options.heartbeat_s,
                 AMQP_SASL_METHOD_PLAIN, options.user.c_str(), options.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    amqp_destroy_connection(conn_);
    throw AmqpError(fmt::format("RabbitMQ at {} refused the login of user '{}' on vhost '{}'; "
                                "check --amqp's user, password and vhost",
                                where_, options.user, options.vhost));
  }
  amqp_channel_open(conn_, 1);
  try {
    check_reply("open channel 1");
  } catch (...) {
    amqp_destroy_connection(conn_);
    throw;
  }
}

Amqp::~Amqp() {
  // Best effort: the broker may be gone already (each call gives up after
  // the RPC timeout).
  amqp_channel_close(conn_, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn_);
}

void Amqp::check_reply(const char* what) {
  amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_);
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return;
    case AMQP_RESPONSE_NONE:
      throw AmqpError(fmt::format("{} at {}: no answer from the broker", what, where_));
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      throw AmqpError(
          fmt::format("{} at {}: {}", what, where_, amqp_error_string2(r.library_error)));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      throw AmqpError(fmt::format("{} at {}: {}", what, where_, close_reason(r.reply)));
  }
  throw AmqpError(fmt::format("{} at {}: unknown reply", what, where_));
}

void Amqp::declare_exchange(const std::string& exchange) {
  amqp_exchange_declare(conn_, 1, bytes_of(exchange), amqp_cstring_bytes("topic"), 0, 1, 0, 0,
                        amqp_empty_table);
  check_reply("declare exchange");
}

void Amqp::declare_queue(const std::string& queue, const std::string& exchange,
                         const std::string& binding_key) {
  amqp_queue_declare(conn_, 1, bytes_of(queue), 0, 1, 0, 0, amqp_empty_table);
  check_reply("declare queue");
  if (exchange.empty()) return;
  amqp_queue_bind(conn_, 1, bytes_of(queue), bytes_of(exchange), bytes_of(binding_key),
                  amqp_empty_table);
  check_reply("bind queue");
}

void Amqp::enable_confirms() {
  amqp_confirm_select(conn_, 1);
  check_reply("enable publisher confirms");
}

void Amqp::publish(const std::string& exchange, const std::string& routing_key,
                   std::string_view body, std::string_view header_name,
                   std::string_view header_value) {
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = 2;  // persistent: kept across a broker restart
  amqp_table_entry_t entry{};
  if (!header_name.empty()) {
    entry.key = bytes_of(header_name);
    entry.value.kind = AMQP_FIELD_KIND_UTF8;
    entry.value.value.bytes = bytes_of(header_value);
    props.headers = amqp_table_t{1, &entry};
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
  }
  int rc = amqp_basic_publish(conn_, 1, bytes_of(exchange), bytes_of(routing_key), 0, 0, &props,
                              bytes_of(body));
  if (rc != AMQP_STATUS_OK) {
    throw AmqpError(fmt::format("publish to {} at {}: {}", exchange.empty() ? routing_key : exchange,
                                where_, amqp_error_string2(rc)));
  }
  ++published_;
}

void Amqp::wait_confirms(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::set<uint64_t> single;  // confirmed one by one above confirmed_
  while (confirmed_ < published_) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) {
      throw AmqpError(fmt::format("the broker at {} confirmed {} of {} messages in {} ms", where_,
                                  confirmed_, published_, timeout_ms));
    }
    timeval tv = timeval_of(left);
    amqp_frame_t frame;
    amqp_maybe_release_buffers(conn_);  // each decoded ack otherwise stays in the pool
    int rc = amqp_simple_wait_frame_noblock(conn_, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) continue;
    if (rc != AMQP_STATUS_OK) {
      throw AmqpError(fmt::format("wait for confirms at {}: {}", where_, amqp_error_string2(rc)));
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    const amqp_method_t& m = frame.payload.method;
    if (m.id == AMQP_BASIC_ACK_METHOD) {
      auto* ack = static_cast<amqp_basic_ack_t*>(m.decoded);
      if (ack->multiple) {
        confirmed_ = std::max(confirmed_, ack->delivery_tag);
      } else {
        single.insert(ack->delivery_tag);
      }
      single.erase(single.begin(), single.upper_bound(confirmed_));
      while (!single.empty() && *single.begin() == confirmed_ + 1) {
        ++confirmed_;
        single.erase(single.begin());
      }
    } else if (m.id == AMQP_BASIC_NACK_METHOD) {
      throw AmqpError(fmt::format("the broker at {} refused a message (nack); publish it again",
                                  where_));
    } else if (m.id == AMQP_CHANNEL_CLOSE_METHOD || m.id == AMQP_CONNECTION_CLOSE_METHOD) {
      throw AmqpError(fmt::format("wait for confirms at {}: {}", where_, close_reason(m)));
    }
  }
}

void Amqp::consume(const std::string& queue, int prefetch) {
  amqp_basic_qos(conn_, 1, 0, static_cast<uint16_t>(std::clamp(prefetch, 1, 65535)), 0);
  check_reply("set prefetch");
  amqp_basic_consume(conn_, 1, bytes_of(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  check_reply(fmt::format("consume from {}", queue).c_str());
}

std::optional<Delivery> Amqp::next(int timeout_ms) {
  amqp_maybe_release_buffers(conn_);
  amqp_envelope_t envelope;
  timeval tv = timeval_of(timeout_ms);
  amqp_rpc_reply_t r = amqp_consume_message(conn_, &envelope, &tv, 0);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) {
    Delivery d{envelope.delivery_tag, envelope.redelivered != 0, text_of(envelope.routing_key),
               text_of(envelope.message.body)};
    amqp_destroy_envelope(&envelope);
    return d;
  }
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
    return std::nullopt;
  }
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    // Not a delivery: read the frame that came instead.
    amqp_frame_t frame;
    timeval zero = timeval_of(0);
    int rc = amqp_simple_wait_frame_noblock(conn_, &frame, &zero);
    if (rc == AMQP_STATUS_OK && frame.frame_type == AMQP_FRAME_METHOD &&
        (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
         frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
      throw AmqpError(fmt::format("consume at {}: {}", where_, close_reason(frame.payload.method)));
    }
    if (rc != AMQP_STATUS_OK && rc != AMQP_STATUS_TIMEOUT) {
      throw AmqpError(fmt::format("consume at {}: {}", where_, amqp_error_string2(rc)));
    }
    return std::nullopt;  // e.g. a basic.cancel-ok; nothing to deliver
  }
  throw AmqpError(fmt::format("consume at {}: {}", where_,
                              r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
                                  ? amqp_error_string2(r.library_error)
                                  : close_reason(r.reply)));
}

void Amqp::ack(uint64_t tag, bool multiple) {
  int rc = amqp_basic_ack(conn_, 1, tag, multiple ? 1 : 0);
  if (rc != AMQP_STATUS_OK) {
    throw AmqpError(fmt::format("ack at {}: {}", where_, amqp_error_string2(rc)));
  }
}

}  // namespace betcore::feed
