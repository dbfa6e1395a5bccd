// The gRPC channel and stubs of one etcd endpoint. Internal to the etcd
// backend: the only header that includes generated code.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "log/etcd/etcd_client.h"

namespace betcore::log::etcd {

namespace pb = ::etcdserverpb;

struct Client::Channel {
  // Over `credentials` (the client's: plain, or mutual TLS that re-reads
  // its files; see Client::Client).
  Channel(std::string endpoint, std::shared_ptr<grpc::ChannelCredentials> credentials);

  std::string endpoint;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::KV::Stub> kv;
  std::unique_ptr<pb::Watch::Stub> watch;
  std::unique_ptr<pb::Lease::Stub> lease;
  std::unique_ptr<pb::Cluster::Stub> cluster;
  std::unique_ptr<pb::Maintenance::Stub> maintenance;
};

// A context with a deadline `timeout_ms` from now.
void set_deadline(grpc::ClientContext& ctx, int timeout_ms);

// Whether a failed call says that this member cannot serve now (down,
// unreachable, no leader, timed out): the caller moves to the next endpoint.
bool endpoint_failed(const grpc::Status& status);

std::string describe(const grpc::Status& status);

}  // namespace betcore::log::etcd
