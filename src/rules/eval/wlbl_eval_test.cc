// rules/eval/wlbl_eval_test.cc — WLBLEval: the address lists and *_from_rcvd on hand-made header
// sets, and the URI-host lists (hits, no-hits, delisting, the per-message host list).
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
using WlblAddressTest = HeaderEvalFixture;

TEST_F(WlblAddressTest, AddressLists) {
  EXPECT_TRUE(Eval("check_from_in_list", "From: x@online.barclays.co.uk", {"BANKS"}));
  EXPECT_FALSE(Eval("check_from_in_list", "From: x@barclays.co.uk", {"BANKS"}));
  EXPECT_FALSE(Eval("check_from_in_list", "From: x@hsbc.com", {"NO_SUCH_LIST"}));
  EXPECT_TRUE(Eval("check_replyto_in_list", "Reply-To: a@HSBC.com", {"BANKS"}));
  EXPECT_TRUE(Eval("check_from_in_welcomelist", "From: friend@example.org"));
  EXPECT_FALSE(Eval("check_from_in_welcomelist", "From: foe@example.org"));
  EXPECT_TRUE(Eval("check_from_in_blocklist", "From: a@spammer.example"));
  EXPECT_TRUE(Eval("check_to_in_welcomelist", "To: me@example.net"));
  EXPECT_FALSE(Eval("check_to_in_blocklist", "To: me@example.net"));
}

TEST_F(WlblAddressTest, WelcomelistRcvd) {
  Relay bank = MakeRelay("192.0.2.1", "mx1.bank.com");
  Relay other = MakeRelay("10.1.2.3", "evil.example");
  EXPECT_TRUE(Eval("check_from_in_welcomelist", "From: a@bank.com", {}, std::nullopt, {bank}));
  EXPECT_FALSE(Eval("check_from_in_welcomelist", "From: a@bank.com", {}, std::nullopt, {other}));
  EXPECT_TRUE(Eval("check_from_in_welcomelist", "From: a@ipbank.com", {}, std::nullopt, {other}));
  Relay paypal = MakeRelay("192.0.2.9", "mail.paypal.com");
  EXPECT_TRUE(Eval("check_from_in_default_welcomelist", "From: news@paypal.com", {}, std::nullopt,
                   {paypal}));
  EXPECT_FALSE(Eval("check_from_in_default_welcomelist", "From: news@paypal.com", {}, std::nullopt,
                    {other}));
}

TEST_F(WlblAddressTest, MailfromMatchesRcvd) {
  Relay relay = MakeRelay("192.0.2.1", "mail.example.co.uk");
  EXPECT_TRUE(
      Eval("check_mailfrom_matches_rcvd", "From: x@y.com", {}, "a@lists.example.co.uk", {relay}));
  EXPECT_FALSE(Eval("check_mailfrom_matches_rcvd", "From: x@y.com", {}, "a@other.co.uk", {relay}));
  EXPECT_FALSE(Eval("check_mailfrom_matches_rcvd", "From: x@y.com", {}, "a@example.co.uk"));
}

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
