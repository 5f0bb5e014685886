// rules/eval/wlbl_eval_test.cc — WLBLEval's URI-host lists: hits, no-hits, delisting and the
// per-message host list.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

using Fixture = EvalFixture;

TEST(WlblEvalTest, UriHostLists) {
  EvalSettings s = TestTldSettings();
  s.uri_host_directives = {{false, "SUSP", {"top"}},
                           {false, "SUSP", {"!Good.top"}},
                           {false, "BLOCK", {"bad.com"}},
                           {false, "WELCOME", {"friend.org", "gone.org"}},
                           {true, "", {"!gone.org"}}};
  Fixture f("Subject: x\n\nbody\n", s);
  f.uris = {"http://www.shop.top/x"};
  EXPECT_TRUE(f.Call("check_uri_host_listed", {"SUSP"}));
  f.uris = {"http://www.good.top/", "mailto:x@evil.top"};
  EXPECT_FALSE(f.Call("check_uri_host_listed", {"SUSP"}));  // excluded; mailto skipped
  EXPECT_FALSE(f.Call("check_uri_host_listed", {"NOSUCH"}));
  f.uris = {"https://a.b.bad.com/"};
  EXPECT_TRUE(f.Call("check_uri_host_in_blocklist"));
  EXPECT_TRUE(f.Call("check_uri_host_in_blacklist"));
  EXPECT_FALSE(f.Call("check_uri_host_in_welcomelist"));
  f.uris = {"http://friend.org/"};
  EXPECT_TRUE(f.Call("check_uri_host_in_welcomelist"));
  f.uris = {"http://gone.org/"};
  EXPECT_FALSE(f.Call("check_uri_host_in_whitelist"));  // delisted
  f.uris = {"http://notbad.com/"};
  EXPECT_FALSE(f.Call("check_uri_host_in_blocklist"));
  // With a slot for the message, the hosts are looked up once (distinct, in order, no mailto:)
  // and the other lists read them from there.
  std::optional<std::vector<std::string>> hosts;
  f.uri_hosts = &hosts;
  f.uris = {"http://www.shop.top/x", "mailto:a@bad.com", "https://a.b.bad.com/",
            "http://www.shop.top/y"};
  EXPECT_TRUE(f.Call("check_uri_host_listed", {"SUSP"}));
  ASSERT_TRUE(hosts);
  EXPECT_EQ(*hosts, (std::vector<std::string>{"www.shop.top", "a.b.bad.com"}));
  EXPECT_TRUE(f.Call("check_uri_host_in_blocklist"));
  EXPECT_FALSE(f.Call("check_uri_host_in_welcomelist"));
}

}  // namespace
}  // namespace mailsift::rules
