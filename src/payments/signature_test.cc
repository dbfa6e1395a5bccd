// Webhook signatures: a known HMAC-SHA256 vector, round trips and every refusal.
#include "payments/signature.h"

#include <gtest/gtest.h>

namespace betcore::payments {
namespace {

TEST(Signature, MatchesRfc4231TestCase2) {
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Signature, RoundTripAndRefusals) {
  const std::string body = R"({"id":"evt_1"})";
  const std::string h = sign_webhook("whsec", 1000, body);
  EXPECT_EQ(h.substr(0, 7), "t=1000,");
  EXPECT_EQ(verify_webhook("whsec", h, body, 1000), Verdict::ok);
  EXPECT_EQ(verify_webhook("whsec", h, body, 1300), Verdict::ok);
  EXPECT_EQ(verify_webhook("whsec", h, body, 1301), Verdict::too_old);
  EXPECT_EQ(verify_webhook("whsec", h, body, 699), Verdict::too_new);
  EXPECT_EQ(verify_webhook("other", h, body, 1000), Verdict::bad_signature);
  EXPECT_EQ(verify_webhook("whsec", h, body + " ", 1000), Verdict::bad_signature);
  // An old time stamp with a valid signature for another time is still refused.
  EXPECT_EQ(verify_webhook("whsec", "t=1001," + h.substr(7), body, 1000), Verdict::bad_signature);
  EXPECT_EQ(verify_webhook("whsec", "", body, 1000), Verdict::malformed);
  EXPECT_EQ(verify_webhook("whsec", "v1=abc", body, 1000), Verdict::malformed);
  EXPECT_EQ(verify_webhook("whsec", "t=x,v1=abc", body, 1000), Verdict::malformed);
  EXPECT_EQ(verify_webhook("whsec", "t=1000", body, 1000), Verdict::malformed);
  // A second v1 (a secret being rotated) may be the one that matches.
  EXPECT_EQ(verify_webhook("whsec", "t=1000,v1=00," + h.substr(7), body, 1000), Verdict::ok);
}

}  // namespace
}  // namespace betcore::payments
