#!/usr/bin/env bash
# Installs every Debian 12 package betcore needs to build, test and run, and
# the extra packages named as arguments (scripts/pg-anchor.sh: postgresql-15).
# Idempotent: packages already present are skipped by apt. Needs root.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build pkg-config git
  libboost-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libxxhash-dev libzstd-dev libabsl-dev
  # the betcore binary's allocator (CMake option BETCORE_JEMALLOC)
  libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # the etcd client: gRPC stubs generated from Debian's etcd .proto files
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  golang-etcd-server-dev golang-github-gogo-protobuf-dev
  golang-github-grpc-ecosystem-grpc-gateway-dev
  # the cluster: etcd members, etcdctl, the load balancer
  etcd-server etcd-client haproxy
  # the odds feed: the broker (tests start their own) and its C client
  rabbitmq-server librabbitmq-dev libssl-dev
  # alert rules: promtool checks and unit-tests deploy/prometheus; a test runs
  # Prometheus and Alertmanager against a local cluster
  prometheus prometheus-alertmanager
  # the dashboard test opens the page in headless Chromium
  chromium
  curl procps python3 iproute2 jq
  # rebuilds of unchanged sources (scripts/test.sh uses it when present)
  ccache
  # failover drills: network partitions between network namespaces
  nftables
  # the drill's slow disk: a FUSE file system with slow fsyncs (betcore-slowfs)
  fuse3 libfuse3-dev
  # backups: archive files sealed with libsodium, the remote copy shipped with
  # ssh (the shipper's tests start their own sshd)
  openssh-server openssh-client libsodium-dev
  # the fuzz targets (fuzz/, scripts/fuzz.sh): clang with libFuzzer, llvm-cov for coverage
  clang-15 libfuzzer-15-dev llvm-15
  # the Debian package (debian/, scripts/package.sh) and its checks
  debhelper dpkg-dev lintian systemd file
)
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages with a daemon (etcd, HAProxy, RabbitMQ) must not start a system
# copy at install: betcore's scripts and tests start their own, on their own
# ports. policy-rc.d saying 101 ("not allowed") is Debian's way to ask that.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
