#include "log/etcd/etcd_client.h"

#include <fmt/format.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "log/etcd/channel.h"

namespace betcore::log::etcd {

bool parse_target(std::string_view url, Target& out, std::string& error) {
  constexpr std::string_view plain = "etcd://";
  constexpr std::string_view secure = "etcds://";
  Target t;
  std::string_view rest;
  if (url.substr(0, plain.size()) == plain) {
    rest = url.substr(plain.size());
  } else if (url.substr(0, secure.size()) == secure) {
    rest = url.substr(secure.size());
    t.tls = true;
  } else {
    error = "the log URL must start with etcds:// (mutual TLS) or etcd:// (plain): "
            "etcds://HOST:PORT,HOST:PORT/CLUSTER";
    return false;
  }
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view name = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!name.empty()) {
      for (char c : name) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
          error = "the cluster name in the log URL may hold only letters, digits, '-', '_' and '.'";
          return false;
        }
      }
      t.cluster = std::string(name);
    }
  }
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view ep = rest.substr(0, comma);
    size_t colon = ep.rfind(':');
    if (ep.empty() || colon == std::string_view::npos || colon == 0 || colon + 1 == ep.size()) {
      error = fmt::format("'{}' in the log URL is not HOST:PORT", ep);
      return false;
    }
    t.endpoints.emplace_back(ep);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (t.endpoints.empty()) {
    error = "the log URL names no etcd endpoint (etcd://HOST:PORT,HOST:PORT/CLUSTER)";
    return false;
  }
  out = std::move(t);
  return true;
}

ClientOptions client_options(const Target& target, int call_timeout_ms) {
  ClientOptions o{target.endpoints, call_timeout_ms};
  if (target.tls) o.tls = tls::default_client();
  return o;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Mutual TLS through gRPC's file watcher: the key, certificate and CA are
// read now and every kCertRefreshS seconds, so a renewed client certificate
// reaches etcd on the next connection without a restart (a key and
// certificate that do not match, e.g. read between two renames, are skipped
// until the next read). The members' certificates must name the endpoint's
// host (checked as SslCredentials checks it).
std::shared_ptr<grpc::ChannelCredentials> credentials(const std::optional<tls::ClientFiles>& tls) {
  if (!tls) return grpc::InsecureChannelCredentials();
  const std::string root = read_file(tls->ca_file);
  if (root.empty()) {
    spdlog::error("etcd TLS: cannot read the CA file '{}': every call will fail its handshake; "
                  "give the CA that signed the etcd members' certificates (--tls-ca)",
                  tls->ca_file);
  }
  // The file watcher needs a key with the certificate (gRPC aborts
  // otherwise) and a CA file (it would never deliver roots): without them,
  // the files are read once, and no CA file means the system store.
  if (tls->cert_file.empty() || tls->key_file.empty() || tls->ca_file.empty()) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = root;
    if (!tls->cert_file.empty() && !tls->key_file.empty()) {
      o.pem_cert_chain = read_file(tls->cert_file);
      o.pem_private_key = read_file(tls->key_file);
    }
    return grpc::SslCredentials(o);
  }
  namespace gx = grpc::experimental;
  gx::TlsChannelCredentialsOptions o;
  o.set_certificate_provider(std::make_shared<gx::FileWatcherCertificateProvider>(
      tls->key_file, tls->cert_file, tls->ca_file, kCertRefreshS));
  o.watch_root_certs();
  o.watch_identity_key_cert_pairs();
  o.set_verify_server_certs(true);
  o.set_certificate_verifier(std::make_shared<gx::HostNameCertificateVerifier>());
  return gx::TlsCredentials(o);
}

}  // namespace

Client::Channel::Channel(std::string ep, std::shared_ptr<grpc::ChannelCredentials> credentials)
    : endpoint(std::move(ep)) {
  grpc::ChannelArguments args;
  // etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time);
  // a dead member is found sooner by failed calls and watch progress checks.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // Reconnect to a restarted member within a second. (The minimum backoff is
  // also gRPC's connect timeout: left at its default, a slow handshake on a
  // busy machine is not cut short.)
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1'000);
  // After a refused connection, pick_first asks the resolver for addresses
  // again before its next attempt, and the resolver waits out its minimum
  // time between resolutions first (measured: ~10 s on Debian's gRPC 1.51,
  // whatever the backoff above says). A member that was down when a node
  // started, or was restarted, stayed unreachable that long; a cluster test
  // started its health check a moment before etcd listened and gave up at
  // 30 s. The endpoints are IP literals: resolving them costs nothing.
  args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 100);
  // A connection kept for a failover is not closed for want of calls
  // (keep_connected).
  args.SetInt(GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS, std::numeric_limits<int>::max());
  args.SetMaxReceiveMessageSize(256 << 20);  // watch fragments stay near etcd's request limit
  args.SetMaxSendMessageSize(16 << 20);
  channel = grpc::CreateCustomChannel(endpoint, credentials, args);
  kv = pb::KV::NewStub(channel);
  watch = pb::Watch::NewStub(channel);
  lease = pb::Lease::NewStub(channel);
  cluster = pb::Cluster::NewStub(channel);
  maintenance = pb::Maintenance::NewStub(channel);
}

void set_deadline(grpc::ClientContext& ctx, int timeout_ms) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
}

bool endpoint_failed(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
      return true;
    default:
      return false;
  }
}

std::string describe(const grpc::Status& s) {
  static constexpr const char* kNames[] = {
      "OK",        "CANCELLED",          "UNKNOWN",           "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS",    "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  int code = static_cast<int>(s.error_code());
  const char* name = code >= 0 && code < 17 ? kNames[code] : "?";
  return fmt::format("{} ({})", s.error_message(), name);
}

Client::Client(ClientOptions options)
    : options_(std::move(options)), credentials_(credentials(options_.tls)) {
  for (const std::string& ep : options_.endpoints) channels_.push_back(std::make_unique<Channel>(ep, credentials_));
  keep_connected();
}

void Client::keep_connected() {
  for (auto& c : channels_) c->channel->GetState(/*try_to_connect=*/true);
}

Client::~Client() = default;

Client::Channel& Client::channel(size_t index) { return *channels_[index % channels_.size()]; }

Client::Channel& Client::channel_for(const std::string& endpoint) {
  for (auto& c : channels_) {
    if (c->endpoint == endpoint) return *c;
  }
  std::lock_guard lock(extra_mu_);
  for (auto& c : extra_) {
    if (c->endpoint == endpoint) return *c;
  }
  extra_.push_back(std::make_unique<Channel>(endpoint, credentials_));
  return *extra_.back();
}

void Client::rotate(size_t from) {
  size_t next = (from + 1) % channels_.size();
  current_.compare_exchange_strong(from, next);
}

namespace {

// Runs `call(channel)` on the current endpoint, moving to the next one when
// the member cannot serve, at most once around the ring. For idempotent calls.
template <class Call>
grpc::Status with_failover(Client& c, Call&& call) {
  grpc::Status st;
  size_t n = c.endpoints().size();
  for (size_t attempt = 0; attempt < n; ++attempt) {
    size_t at = c.current();
    st = call(c.channel(at));
    if (st.ok() || !endpoint_failed(st)) return st;
    c.rotate(at);
  }
  return st;
}

Error call_error(Errc code, std::string_view what, const grpc::Status& st) {
  return Error{code, fmt::format("etcd {} failed: {}", what, describe(st))};
}

}  // namespace

namespace {

Error put_error(const grpc::Status& st, const std::string& endpoint) {
  switch (st.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return call_error(Errc::invalid_argument, "put", st);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:  // too many requests, no space: refused
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::UNIMPLEMENTED:
      return call_error(Errc::unavailable, "put (refused, not written)", st);
    case grpc::StatusCode::UNAVAILABLE:
      // Never connected: the request cannot have reached etcd.
      if (st.error_message().find("failed to connect") != std::string::npos) {
        return call_error(Errc::unavailable, "put (member unreachable, not written)", st);
      }
      [[fallthrough]];
    default:
      return call_error(Errc::outcome_unknown, fmt::format("put via {}", endpoint), st);
  }
}

}  // namespace

Result<int64_t> Client::put(const std::string& key, const std::string& value, int64_t lease,
                            int timeout_ms) {
  size_t at = current();
  Channel& ch = channel(at);
  grpc::ClientContext ctx;
  set_deadline(ctx, timeout_ms > 0 ? timeout_ms : options_.call_timeout_ms);
  pb::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  req.set_lease(lease);
  pb::PutResponse resp;
  grpc::Status st = ch.kv->Put(&ctx, req, &resp);
  if (st.ok()) return resp.header().revision();
  if (endpoint_failed(st)) rotate(at);
  return put_error(st, ch.endpoint);
}

Result<Client::CasResult> Client::put_if_mod_revision(const std::string& key, const std::string& value,
                                                      int64_t expected_mod_revision, int timeout_ms) {
  size_t at = current();
  Channel& ch = channel(at);
  grpc::ClientContext ctx;
  set_deadline(ctx, timeout_ms > 0 ? timeout_ms : options_.call_timeout_ms);
  // A member that knows it has no leader (an election is on) refuses at once
  // ("etcdserver: no leader") instead of holding the put to its deadline: the
  // next attempt, on the next member, comes a backoff later, not 500 ms.
  ctx.AddMetadata("hasleader", "true");
  pb::TxnRequest req;
  pb::Compare* cmp = req.add_compare();
  cmp->set_key(key);
  cmp->set_target(pb::Compare::MOD);
  cmp->set_result(pb::Compare::EQUAL);
  cmp->set_mod_revision(expected_mod_revision);
  pb::PutRequest* put = req.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  req.add_failure()->mutable_request_range()->set_key(key);
  pb::TxnResponse resp;
  grpc::Status st = ch.kv->Txn(&ctx, req, &resp);
  if (!st.ok()) {
    if (endpoint_failed(st)) rotate(at);
    return put_error(st, ch.endpoint);
  }
  CasResult r;
  if (resp.succeeded()) {
    r.written = true;
    r.revision = resp.header().revision();
    return r;
  }
  if (resp.responses_size() == 1 && resp.responses(0).has_response_range()) {
    const auto& range = resp.responses(0).response_range();
    if (range.kvs_size() > 0) {
      r.exists = true;
      r.value = range.kvs(0).value();
      r.mod_revision = range.kvs(0).mod_revision();
    }
  }
  return r;
}

Result<RangeResult> Client::range(const std::string& key, const std::string& range_end,
                                  RangeOptions o, int timeout_ms) {
  pb::RangeRequest req;
  req.set_key(key);
  req.set_range_end(range_end);
  req.set_limit(o.limit);
  if (o.newest_mod_first) {
    req.set_sort_order(pb::RangeRequest::DESCEND);
    req.set_sort_target(pb::RangeRequest::MOD);
  }
  req.set_keys_only(o.keys_only);
  req.set_serializable(o.serializable);
  pb::RangeResponse resp;
  grpc::Status st = with_failover(*this, [&](Channel& ch) {
    grpc::ClientContext ctx;
    set_deadline(ctx, timeout_ms > 0 ? timeout_ms : options_.call_timeout_ms);
    resp.Clear();
    return ch.kv->Range(&ctx, req, &resp);
  });
  if (!st.ok()) return call_error(Errc::unavailable, "range", st);
  RangeResult r;
  r.revision = resp.header().revision();
  r.raft_term = resp.header().raft_term();
  r.kvs.reserve(static_cast<size_t>(resp.kvs_size()));
  for (const auto& kv : resp.kvs()) {
    r.kvs.push_back(KeyValue{kv.key(), kv.value(), kv.create_revision(), kv.mod_revision(), kv.lease()});
  }
  return r;
}

Result<int64_t> Client::lease_grant(int64_t ttl_s) {
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl_s);
  pb::LeaseGrantResponse resp;
  grpc::Status st = with_failover(*this, [&](Channel& ch) {
    grpc::ClientContext ctx;
    set_deadline(ctx, options_.call_timeout_ms);
    return ch.lease->LeaseGrant(&ctx, req, &resp);
  });
  if (!st.ok()) return call_error(Errc::unavailable, "lease grant", st);
  if (!resp.error().empty()) return Error{Errc::unavailable, "etcd lease grant: " + resp.error()};
  return resp.id();
}

Result<bool> Client::lease_keep_alive(int64_t lease_id) {
  pb::LeaseKeepAliveResponse resp;
  grpc::Status st = with_failover(*this, [&](Channel& ch) {
    grpc::ClientContext ctx;
    set_deadline(ctx, options_.call_timeout_ms);
    auto stream = ch.lease->LeaseKeepAlive(&ctx);
    pb::LeaseKeepAliveRequest req;
    req.set_id(lease_id);
    resp.Clear();
    bool ok = stream->Write(req) && stream->Read(&resp);
    stream->WritesDone();
    grpc::Status finished = stream->Finish();
    if (!finished.ok()) return finished;
    if (!ok) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "keep-alive stream closed");
    return grpc::Status::OK;
  });
  if (!st.ok()) return call_error(Errc::unavailable, "lease keep-alive", st);
  return resp.ttl() > 0;
}

Result<Ok> Client::compact(int64_t revision) {
  pb::CompactionRequest req;
  req.set_revision(revision);
  pb::CompactionResponse resp;
  size_t at = current();
  grpc::ClientContext ctx;
  set_deadline(ctx, options_.call_timeout_ms * 5);
  grpc::Status st = channel(at).kv->Compact(&ctx, req, &resp);
  if (st.ok()) return Ok{};
  // "required revision has been compacted": someone compacted further already.
  if (st.error_message().find("compacted") != std::string::npos) return Ok{};
  if (endpoint_failed(st)) rotate(at);
  return call_error(Errc::unavailable, fmt::format("compact to {}", revision), st);
}

Result<Ok> Client::defragment(const std::string& endpoint, int timeout_ms) {
  Channel& ch = channel_for(endpoint);
  grpc::ClientContext ctx;
  set_deadline(ctx, timeout_ms);
  pb::DefragmentRequest req;
  pb::DefragmentResponse resp;
  grpc::Status st = ch.maintenance->Defragment(&ctx, req, &resp);
  if (!st.ok()) return call_error(Errc::unavailable, "defragment of " + endpoint, st);
  return Ok{};
}

Result<Ok> Client::move_leader(const std::string& leader_endpoint, uint64_t target_id,
                               int timeout_ms) {
  Channel& ch = channel_for(leader_endpoint);
  grpc::ClientContext ctx;
  set_deadline(ctx, timeout_ms);
  pb::MoveLeaderRequest req;
  req.set_targetid(target_id);
  pb::MoveLeaderResponse resp;
  grpc::Status st = ch.maintenance->MoveLeader(&ctx, req, &resp);
  if (!st.ok()) return call_error(Errc::unavailable, "move of the leadership from " + leader_endpoint, st);
  return Ok{};
}

// Long: the member list, then rounds of Status calls across the members and
// what each answer says, in one place.
Result<std::vector<Member>> Client::members(int status_timeout_ms, int probes, int probe_gap_ms) {
  pb::MemberListRequest req;
  pb::MemberListResponse resp;
  grpc::Status st = with_failover(*this, [&](Channel& ch) {
    grpc::ClientContext ctx;
    set_deadline(ctx, options_.call_timeout_ms);
    return ch.cluster->MemberList(&ctx, req, &resp);
  });
  if (!st.ok()) return call_error(Errc::unavailable, "member list", st);
  std::vector<Member> out;
  for (const auto& m : resp.members()) {
    Member member;
    member.id = m.id();
    member.name = m.name();
    member.learner = m.islearner();
    for (const std::string& u : m.clienturls()) member.client_urls.push_back(u);
    if (member.client_urls.empty()) {
      member.error = "not started yet (no client URL)";
    } else {
      member.endpoint = member.client_urls.front();
      if (size_t p = member.endpoint.find("://"); p != std::string::npos) {
        member.endpoint = member.endpoint.substr(p + 3);
      }
    }
    out.push_back(std::move(member));
  }
  // `probes` rounds, `probe_gap_ms` apart, each asking every member once in
  // turn; status_s is the median of a member's answers. A member that stalls
  // now and then shows in most of its answers; a stall of this process
  // shows in whichever answers it lands on, of any member. Each round starts
  // at the next member: a process stopped on a cycle (a throttled cgroup, a
  // starved CPU) wakes in step with its sleeps, and with a fixed order its
  // stall would land on the same member every round.
  std::vector<std::vector<double>> took(out.size());
  std::vector<pb::StatusResponse> answers(out.size());
  std::vector<grpc::Status> failed(out.size());
  double stall_s = 0;
  for (int round = 0; round < std::max(1, probes); ++round) {
    if (round > 0) {
      const auto from = std::chrono::steady_clock::now();
      std::this_thread::sleep_for(std::chrono::milliseconds(probe_gap_ms));
      const double slept = std::chrono::duration<double>(std::chrono::steady_clock::now() - from).count();
      stall_s = std::max(stall_s, slept - probe_gap_ms / 1000.0);
    }
    for (size_t k = 0; k < out.size(); ++k) {
      const size_t i = (k + static_cast<size_t>(round)) % out.size();
      if (out[i].endpoint.empty() || !failed[i].ok()) continue;
      grpc::ClientContext ctx;
      set_deadline(ctx, status_timeout_ms);
      pb::StatusRequest sreq;
      const auto t0 = std::chrono::steady_clock::now();
      failed[i] = channel_for(out[i].endpoint).maintenance->Status(&ctx, sreq, &answers[i]);
      if (failed[i].ok()) took[i].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    Member& member = out[i];
    if (member.endpoint.empty()) continue;
    member.prober_stall_s = stall_s;
    if (!took[i].empty()) {
      std::sort(took[i].begin(), took[i].end());
      member.status_s = took[i][took[i].size() / 2];
    }
    if (!failed[i].ok()) {
      member.error = describe(failed[i]);
      continue;
    }
    const pb::StatusResponse& sresp = answers[i];
    member.version = sresp.version();
    member.db_size = sresp.dbsize();
    member.db_size_in_use = sresp.dbsizeinuse();
    member.raft_index = sresp.raftindex();
    member.raft_term = sresp.raftterm();
    member.leader = sresp.leader() == member.id;
    for (const std::string& e : sresp.errors()) {
      member.error += (member.error.empty() ? "" : "; ") + e;
    }
    member.healthy = member.error.empty() && sresp.leader() != 0;
    if (sresp.leader() == 0) member.error = "no leader";
  }
  return out;
}

}  // namespace betcore::log::etcd
