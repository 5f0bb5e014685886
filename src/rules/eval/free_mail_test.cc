// rules/eval/free_mail_test.cc — FreeMail's evals on hand-made header sets: hits and misses.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

using FreeMailTest = HeaderEvalFixture;

TEST_F(FreeMailTest, Freemail) {
  EXPECT_TRUE(Eval("check_freemail_from", "From: Joe <joe@gmail.com>"));
  EXPECT_TRUE(Eval("check_freemail_from", "From: Joe <joe@hotmail.de>"));
  EXPECT_TRUE(Eval("check_freemail_from", "From: Joe <joe@mail.ms>"));
  EXPECT_FALSE(Eval("check_freemail_from", "From: Joe <joe@hotmail.co.uk>"));
  EXPECT_FALSE(Eval("check_freemail_from", "From: support@gmail.com"));
  EXPECT_FALSE(Eval("check_freemail_from", "From: joe@example.com"));
  EXPECT_TRUE(Eval("check_freemail_header", "Reply-To: joe1@yahoo.com", {"Reply-To", "\\d@"}));
  EXPECT_FALSE(Eval("check_freemail_header", "Reply-To: joe@yahoo.com", {"Reply-To", "\\d@"}));
  EXPECT_TRUE(
      Eval("check_freemail_header", "From: a@b.com", {"EnvelopeFrom", "\\d@"}, "x9@gmail.com"));
  EXPECT_TRUE(
      Eval("check_freemail_replyto", "From: a@gmail.com\nReply-To: b@yahoo.com", {"replyto"}));
  EXPECT_FALSE(
      Eval("check_freemail_replyto", "From: a@gmail.com\nReply-To: a@gmail.com", {"replyto"}));
}

}  // namespace
}  // namespace mailsift::rules
