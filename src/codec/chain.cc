#include "codec/chain.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "domain/assert.h"

namespace betcore::codec {

namespace {
constexpr std::string_view kDomain = "betcore-chain-v1";
}

ChainHash chain_next(const ChainHash& previous, uint64_t position, std::string_view bytes) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  BETCORE_ASSERT(ctx != nullptr);
  unsigned char pos[8];
  for (int i = 0; i < 8; ++i) pos[i] = static_cast<unsigned char>(position >> (8 * i));
  ChainHash out{};
  unsigned int n = 0;
  const bool ok = EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx.get(), kDomain.data(), kDomain.size()) == 1 &&
                  EVP_DigestUpdate(ctx.get(), previous.data(), previous.size()) == 1 &&
                  EVP_DigestUpdate(ctx.get(), pos, sizeof pos) == 1 &&
                  EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx.get(), out.data(), &n) == 1;
  BETCORE_ASSERT(ok && n == out.size());
  return out;
}

std::string chain_hex(const ChainHash& chain) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(64);
  for (uint8_t b : chain) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

AnchorCheck check_anchors(const domain::AuditChain& chain, const std::vector<ChainAnchor>& anchors) {
  AnchorCheck out;
  const auto& recent = chain.recent;
  // The window is full once the chain is older than it: an anchor before
  // the window is then unchecked. Before that, the window's front is where
  // the chain began, and an anchor before it names nothing.
  const bool window_full = recent.size() >= domain::AuditChain::kWindow;
  for (const ChainAnchor& a : anchors) {
    if (window_full && a.position < recent.front().position) {
      ++out.unchecked;
      continue;
    }
    auto it = std::lower_bound(recent.begin(), recent.end(), a.position,
                               [](const domain::ChainPoint& p, uint64_t v) { return p.position < v; });
    if (it == recent.end() || it->position != a.position) {
      out.ok = false;
      out.detail = recent.empty() || a.position < recent.front().position
                       ? "an anchor names position " + std::to_string(a.position) +
                             ", before the audit chain began in this replica's log"
                       : "an anchor names position " + std::to_string(a.position) +
                             ", where this replica's log holds no batch";
      return out;
    }
    ++out.checked;
    if (it->chain != a.chain) {
      out.ok = false;
      out.detail = "the anchor for position " + std::to_string(a.position) + " carries chain " +
                   chain_hex(a.chain) + " but this replica computed " + chain_hex(it->chain);
      return out;
    }
  }
  return out;
}

AnchorCheck chain_entry(domain::StateMachine& machine, uint64_t position, std::string_view bytes,
                        const DecodedBatch& batch) {
  const domain::AuditChain& chain = machine.state().audit;
  AnchorCheck out;
  if (batch.error == BatchError::none) out = check_anchors(chain, batch.header.anchors);
  const bool begins = batch.error == BatchError::none && batch.header.version >= 2;
  if (chain.begun() || begins) machine.record_chain(position, chain_next(chain.head, position, bytes));
  return out;
}

std::vector<ChainAnchor> anchors_after(const domain::AuditChain& chain, uint64_t after) {
  std::vector<ChainAnchor> out;
  auto it = std::upper_bound(chain.recent.begin(), chain.recent.end(), after,
                             [](uint64_t v, const domain::ChainPoint& p) { return v < p.position; });
  const size_t n = static_cast<size_t>(chain.recent.end() - it);
  if (n > kBatchAnchorsMax) it += static_cast<std::ptrdiff_t>(n - kBatchAnchorsMax);
  for (; it != chain.recent.end(); ++it) out.push_back(ChainAnchor{it->position, it->chain});
  return out;
}

}  // namespace betcore::codec
