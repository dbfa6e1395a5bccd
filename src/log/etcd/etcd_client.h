// A small etcd v3 client over gRPC (stubs generated from Debian's etcd .proto
// files): the calls betcore needs, with failover between the endpoints of one
// cluster. Thread-safe. No generated type appears in this header.
//
// Failover: every call goes to the current endpoint; a call that fails
// because that member is unreachable, has no leader or timed out moves the
// current endpoint to the next one. Reads (range, status) retry on the next
// endpoint within their deadline; writes (put, compact) never retry: their
// fate is unknown after a timeout, and the caller decides.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tls/tls.h"

#include "log/log.h"

namespace grpc {
class ChannelCredentials;
}  // namespace grpc

namespace betcore::log::etcd {

// "etcd://host:port,host:port/cluster" → endpoints + cluster name (default
// "betcore"). False with `error` set on a malformed URL.
struct Target {
  std::vector<std::string> endpoints;  // host:port
  std::string cluster = "betcore";
  bool tls = false;  // etcds://: mutual TLS to every member
};
bool parse_target(std::string_view url, Target& out, std::string& error);

// The end of the key range that holds exactly the keys starting with prefix.
std::string prefix_end(std::string_view prefix);

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision when the range was read
  uint64_t raft_term = 0;  // the answering member's Raft term (each election raises it)
  std::vector<KeyValue> kvs;
};

struct RangeOptions {
  int64_t limit = 0;            // 0: no limit
  bool newest_mod_first = false; // sort by mod_revision, descending
  bool keys_only = false;
  bool serializable = false;     // false: linearizable (a quorum read)
};

struct Member {
  uint64_t id = 0;
  std::string name;
  std::vector<std::string> client_urls;
  std::string endpoint;  // HOST:PORT of the first client URL ("" before it started)
  bool learner = false;
  // From the member's own Status (empty `error` when it answered).
  bool healthy = false;
  bool leader = false;
  std::string version;
  int64_t db_size = 0;
  int64_t db_size_in_use = 0;
  uint64_t raft_index = 0;
  uint64_t raft_term = 0;
  double status_s = 0;  // how long its Status took to answer (the median of the probes)
  // The most the calling process overslept a gap between probe rounds: its
  // own stall (a starved CPU, a stop), which lands on the Status times of
  // whichever members it caught; the same for every member of one call.
  double prober_stall_s = 0;
  std::string error;
};

// How often a client with a TLS certificate re-reads its files.
inline constexpr unsigned kCertRefreshS = 5;

struct ClientOptions {
  std::vector<std::string> endpoints;  // host:port
  int call_timeout_ms = 2'000;         // default deadline of one call
  // Mutual TLS to the members when set: their certificates must chain to
  // tls->ca_file and name the endpoint's host; ours is tls->cert_file (etcd's
  // --client-cert-auth refuses a client without one). With a certificate,
  // the three files are read at start and again every kCertRefreshS
  // seconds: a renewed certificate (files replaced by renames) is used by
  // the next connection, with no restart and no signal.
  std::optional<tls::ClientFiles> tls = std::nullopt;
};

// Options for `target`'s endpoints; with etcds://, TLS with the process's
// default client files (tls::default_client()).
ClientOptions client_options(const Target& target, int call_timeout_ms = 2'000);

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Returns the revision of the put. Errc::outcome_unknown when the member
  // could not say (timeout, lost connection, leader change mid-flight);
  // unavailable when etcd refused it (it did not happen); invalid_argument
  // when the value is too large.
  Result<int64_t> put(const std::string& key, const std::string& value, int64_t lease = 0,
                      int timeout_ms = 0);
  // Puts `value` at `key` only if the key's mod_revision is still
  // `expected_mod_revision` (0: the key does not exist). Otherwise nothing is
  // written and the key as it is now comes back. The outcome of a failed call
  // is unknown, as for put.
  struct CasResult {
    bool written = false;
    int64_t revision = 0;        // written: the revision of the put
    bool exists = false;         // not written: the key now
    std::string value;
    int64_t mod_revision = 0;
  };
  Result<CasResult> put_if_mod_revision(const std::string& key, const std::string& value,
                                        int64_t expected_mod_revision, int timeout_ms);
  Result<RangeResult> range(const std::string& key, const std::string& range_end,
                            RangeOptions options = {}, int timeout_ms = 0);

  Result<int64_t> lease_grant(int64_t ttl_s);
  // True while the lease lives; false once it expired (grant a new one).
  Result<bool> lease_keep_alive(int64_t lease_id);

  // Discards history below `revision`. Compacting at or below the current
  // compaction point is not an error.
  Result<Ok> compact(int64_t revision);
  // Defragments one member (by its client URL host:port): it stalls that
  // member while it runs, so callers do one member at a time.
  Result<Ok> defragment(const std::string& endpoint, int timeout_ms);

  // Asks the leader, at its client endpoint `leader_endpoint`, to hand its
  // leadership to member `target_id` (etcd's MoveLeader: the target catches
  // up, then campaigns). unavailable when it did not happen.
  Result<Ok> move_leader(const std::string& leader_endpoint, uint64_t target_id, int timeout_ms);

  // MemberList, then Status of every member (in parallel is not needed: a
  // handful of members, each with a short deadline).
  // With `probes` > 1, each member's Status is asked that many times (in
  // rounds across the members, `probe_gap_ms` apart, each round starting at
  // the next member), and status_s is the median.
  Result<std::vector<Member>> members(int status_timeout_ms = 500, int probes = 1,
                                      int probe_gap_ms = 0);

  const std::vector<std::string>& endpoints() const { return options_.endpoints; }
  // Asks every endpoint's channel to connect if it is not (gRPC connects on
  // the first call otherwise, and drops to idle when the link breaks): when
  // calls move to the next member, its connection and TLS session are
  // already up. Cheap; the constructor calls it, a node every tick.
  void keep_connected();
  // The endpoint calls go to now; `rotate` moves to the next one.
  size_t current() const { return current_.load(); }
  void rotate(size_t from);

  // The stubs of one endpoint (channel.h; inside the etcd backend only).
  struct Channel;
  Channel& channel(size_t index);
  Channel& channel_for(const std::string& endpoint);

 private:
  ClientOptions options_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;  // every channel's
  std::vector<std::unique_ptr<Channel>> channels_;
  std::atomic<size_t> current_{0};
  std::mutex extra_mu_;
  std::vector<std::unique_ptr<Channel>> extra_;  // members outside `endpoints`, by URL
};

}  // namespace betcore::log::etcd
