// The drill's log recorder: every committed batch of the etcd log, for the checker.
#include "drill/recorder.h"

#include "drill/clock.h"
#include "drill/cluster.h"
#include "tls/tls.h"
#include "log/etcd/etcd_client.h"

namespace betcore::drill {

Recorder::Recorder(const std::vector<std::string>& endpoints, std::vector<log::Entry> before)
    : entries_(std::move(before)) {
  if (!entries_.empty()) last_.store(entries_.back().position.value);
  log::etcd::EtcdLogOptions o;
  o.node_id = "drill-recorder";
  o.cluster = kCluster;
  log_ = std::make_unique<log::etcd::EtcdLog>(
      std::make_shared<log::etcd::Client>(log::etcd::ClientOptions{endpoints, 2'000, tls::default_client()}), o);
  thread_ = std::thread([this] { run(); });
}

void Recorder::stop() {
  stop_.store(true);
  if (log_) log_->close();
  if (thread_.joinable()) thread_.join();
}

std::vector<log::Entry> Recorder::entries() {
  std::lock_guard lock(mu_);
  return entries_;
}

std::string Recorder::problem() {
  std::lock_guard lock(mu_);
  return problem_;
}

void Recorder::run() {
  while (!stop_.load()) {
    auto r = log_->read(log::Position{last_.load() + 1}, 1024, 8 << 20, 200);
    if (!r.ok()) {
      if (r.error().code == log::Errc::compacted) {
        std::lock_guard lock(mu_);
        problem_ = "the log was compacted past the drill's recorder: " + r.error().message;
        return;
      }
      sleep_ms(50);
      continue;
    }
    std::lock_guard lock(mu_);
    for (log::Entry& e : r.value()) {
      last_.store(e.position.value);
      entries_.push_back(std::move(e));
    }
  }
}

}  // namespace betcore::drill
