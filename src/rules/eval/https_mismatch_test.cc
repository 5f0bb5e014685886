// rules/eval/https_mismatch_test.cc — HTTPSMismatch's check_https_http_mismatch: hits and no-hits.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"
#include "rules/eval/uri_eval.h"

namespace mailsift::rules {
namespace {

using Fixture = EvalFixture;

TEST(HttpsMismatchTest, HttpsHttpMismatch) {
  Fixture f("Subject: x\n\nbody\n", TestTldSettings());
  f.anchors = {{{"http://www.evil.com/x", "https://www.paypal.com/"}}};
  EXPECT_TRUE(f.Call("check_https_http_mismatch", {"1", "10"}));
  EXPECT_FALSE(f.Call("check_https_http_mismatch", {"2", "10"}));  // one anchor URI only
  EXPECT_FALSE(f.Call("check_https_http_mismatch", {"1", "1"}));   // anchors < max
  f.anchors = {{{"http://secure.paypal.com/x", "https://www.paypal.com/"}}};
  EXPECT_FALSE(f.Call("check_https_http_mismatch", {"1", "10"}));  // same domain
  f.anchors = {{{"http://1.2.3.4/x", "https://www.paypal.com/"}}};
  EXPECT_FALSE(f.Call("check_https_http_mismatch", {"1", "10"}));  // IP: other rule
  // Anchors are counted per distinct href, over the whole part.
  f.anchors = {{{"http://www.evil.com/x", "https://www.paypal.com/"},
                {"http://www.evil.com/x", "again"},
                {"http://www.other.net/", "plain"}}};
  EXPECT_TRUE(f.Call("check_https_http_mismatch", {"2", "3"}));
  EXPECT_FALSE(f.Call("check_https_http_mismatch", {"3", "10"}));
}

}  // namespace
}  // namespace mailsift::rules
