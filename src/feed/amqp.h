// One AMQP 0-9-1 connection (RabbitMQ) over librabbitmq, for the odds feed:
// the provider publishes with publisher confirms, the adapter consumes with
// manual acks and a prefetch. One channel (1) per connection.
//
// Every failure throws AmqpError with what happened and where ("consume from
// betcore.feed.customer: connection closed by the broker"); the callers
// reconnect with jittered backoff. Not thread-safe: one thread per Amqp.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct amqp_connection_state_t_;

namespace betcore::feed {

class AmqpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct AmqpOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  int heartbeat_s = 10;  // the broker closes a connection silent for 2 heartbeats
  int connect_timeout_ms = 3000;
};

// "amqp://user:password@host:port/vhost" (user, password, port, vhost
// optional). nullopt when it is not such a URL.
std::optional<AmqpOptions> parse_amqp_url(std::string_view url);

struct Delivery {
  uint64_t tag = 0;         // for ack()
  bool redelivered = false; // the broker delivered it before, unacked
  std::string routing_key;
  std::string body;
};

class Amqp {
 public:
  // Connects, logs in and opens channel 1. Throws AmqpError.
  explicit Amqp(const AmqpOptions& options);
  ~Amqp();
  Amqp(const Amqp&) = delete;
  Amqp& operator=(const Amqp&) = delete;

  // A durable topic exchange.
  void declare_exchange(const std::string& exchange);
  // A durable queue (survives a broker restart; its persistent messages too),
  // bound to `exchange` with `binding_key` when `exchange` is not empty.
  void declare_queue(const std::string& queue, const std::string& exchange = {},
                     const std::string& binding_key = "#");

  // Publisher confirms: after this, every publish() is confirmed by the
  // broker (wait_confirms) once it is safely in every queue it routes to.
  void enable_confirms();
  // A persistent message (delivery mode 2). `headers` is one optional
  // string header (name, value), e.g. the reason of a dead letter.
  void publish(const std::string& exchange, const std::string& routing_key,
               std::string_view body, std::string_view header_name = {},
               std::string_view header_value = {});
  // Waits until the broker confirmed every message published so far, up to
  // `timeout_ms`. Throws AmqpError on a nack, a timeout or a lost connection.
  void wait_confirms(int timeout_ms);

  // Starts consuming `queue` with manual acks, at most `prefetch` unacked.
  void consume(const std::string& queue, int prefetch);
  // The next delivery, or nullopt when none came within `timeout_ms`
  // (heartbeats are sent and answered meanwhile). Throws AmqpError.
  std::optional<Delivery> next(int timeout_ms);
  // `multiple`: every unacked delivery up to and including `tag`.
  void ack(uint64_t tag, bool multiple = false);

 private:
  void check_reply(const char* what);
  amqp_connection_state_t_* conn_ = nullptr;
  std::string where_;              // "host:port", for messages
  uint64_t published_ = 0;         // delivery tags handed out (confirm mode)
  uint64_t confirmed_ = 0;         // highest tag confirmed so far
};

}  // namespace betcore::feed
