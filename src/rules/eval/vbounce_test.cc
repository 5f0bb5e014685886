// rules/eval/vbounce_test.cc — VBounce's bounce-relay evals: hits and no-hits.
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

TEST(VBounceTest, BounceRelays) {
  const std::string bounce =
      "From: MAILER-DAEMON@example.net\nSubject: Undelivered Mail\n"
      "Content-Type: multipart/report; boundary=\"R\"\n\n--R\nContent-Type: text/plain\n\n"
      "Delivery failed.\n--R\nContent-Type: message/rfc822\n\n"
      "Received: from client.example.org (client.example.org [10.0.0.1])\n"
      "\tby relay2.mydomain.com (Postfix) with ESMTP id 1234\n"
      "From: me@mydomain.com\nSubject: hi\n\nhi\n--R--\n";
  Fixture none(bounce);
  EXPECT_FALSE(none.Call("have_any_bounce_relays"));
  EXPECT_FALSE(none.Call("check_welcomelist_bounce_relays"));

  EvalSettings s;
  s.welcomelist_bounce_relays = {"relay*.MyDomain.com"};
  Fixture f(bounce, s);
  EXPECT_TRUE(f.Call("have_any_bounce_relays"));
  EXPECT_TRUE(f.Call("check_welcomelist_bounce_relays"));  // folded header, pristine body

  s.welcomelist_bounce_relays = {"mx.other.com"};
  Fixture g(bounce, s);
  EXPECT_FALSE(g.Call("check_welcomelist_bounce_relays"));
  // The rendered body: "Received:" lines quoted in text.
  g.body_lines = {"bounce\n", "> Received: from mx.other.com (x) by y"};
  EXPECT_TRUE(g.Call("check_whitelist_bounce_relays"));
  g.body_lines = {"> Received: from mx.other.com"};  // not followed by a space
  EXPECT_FALSE(g.Call("check_welcomelist_bounce_relays"));
}

}  // namespace
}  // namespace mailsift::rules
