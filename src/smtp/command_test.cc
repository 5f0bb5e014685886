#include "smtp/command.h"

#include <gtest/gtest.h>

namespace mailsift::smtp {
namespace {

TEST(Command, SplitsVerbAndArgument) {
  Command c = SplitCommand("mail FROM:<a@b>  SIZE=10");
  EXPECT_EQ(c.verb, Verb::kMail);
  EXPECT_EQ(c.argument, "FROM:<a@b>  SIZE=10");
  EXPECT_EQ(SplitCommand("QUIT").verb, Verb::kQuit);
  EXPECT_EQ(SplitCommand("XFORWARD NAME=x").verb, Verb::kXforward);
  EXPECT_EQ(SplitCommand("FOO bar").verb, Verb::kUnknown);
  EXPECT_EQ(SplitCommand("").verb, Verb::kUnknown);
}

TEST(Command, CleanLines) {
  EXPECT_TRUE(IsCleanCommandLine("MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8"));
  EXPECT_FALSE(IsCleanCommandLine(std::string("NOOP\0x", 6)));
  EXPECT_FALSE(IsCleanCommandLine("NOOP\r"));
}

TEST(Command, MailArgument) {
  CommandError error;
  auto mail = ParseMailArgument(
      "FROM:<user@example.org> SIZE=1000 BODY=8BITMIME RET=HDRS "
      "ENVID=QQ314159 SMTPUTF8",
      error);
  ASSERT_TRUE(mail);
  EXPECT_EQ(mail->address, "user@example.org");
  ASSERT_EQ(mail->parameters.size(), 5u);
  EXPECT_EQ(mail->Find("SIZE")->value, "1000");
  EXPECT_TRUE(mail->Find("SMTPUTF8"));
  EXPECT_FALSE(mail->Find("SMTPUTF8")->has_value);

  auto null_sender = ParseMailArgument("from:<>", error);
  ASSERT_TRUE(null_sender);
  EXPECT_EQ(null_sender->address, "");

  auto spaced = ParseMailArgument("FROM: <a@b>", error);  // Postfix accepts the space
  ASSERT_TRUE(spaced);
  EXPECT_EQ(spaced->address, "a@b");

  auto quoted = ParseMailArgument("FROM:<\"a > b\"@example.org>", error);
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->address, "\"a > b\"@example.org");
}

TEST(Command, MailArgumentErrors) {
  CommandError error;
  EXPECT_FALSE(ParseMailArgument("TO:<a@b>", error));
  EXPECT_EQ(error.reply, ReplyId::kSyntaxMail);
  EXPECT_FALSE(ParseMailArgument("FROM:<a@b", error));
  EXPECT_EQ(error.reply, ReplyId::kSyntaxMail);
  EXPECT_FALSE(ParseMailArgument("FROM:<a@b> FROB=1", error));
  EXPECT_EQ(error.reply, ReplyId::kUnsupportedParameter);
  EXPECT_EQ(error.detail, "FROB");
  EXPECT_FALSE(ParseMailArgument("FROM:<a@b> SIZE=lots", error));
  EXPECT_EQ(error.reply, ReplyId::kBadParameterValue);
  EXPECT_FALSE(ParseMailArgument("FROM:<a@b> BODY=BINARYMIME", error));
  EXPECT_FALSE(ParseMailArgument("FROM:<a@b> SIZE=1 SIZE=2", error));
  EXPECT_FALSE(ParseMailArgument("FROM:<" + std::string(300, 'a') + ">", error));
  EXPECT_EQ(error.reply, ReplyId::kBadSenderAddress);
}

TEST(Command, RcptArgument) {
  CommandError error;
  auto rcpt = ParseRcptArgument(
      "TO:<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Bx@example.net", error);
  ASSERT_TRUE(rcpt);
  EXPECT_EQ(rcpt->Find("NOTIFY")->value, "SUCCESS,FAILURE");
  EXPECT_EQ(rcpt->Find("ORCPT")->value, "rfc822;b+2Bx@example.net");
  EXPECT_FALSE(ParseRcptArgument("TO:<>", error));
  EXPECT_FALSE(ParseRcptArgument("TO:<b@c> NOTIFY=SOMETIMES", error));
  EXPECT_FALSE(ParseRcptArgument("TO:<b@c> ORCPT=nosemicolon", error));
  EXPECT_FALSE(ParseRcptArgument("TO:<b@c> SIZE=1", error));
  EXPECT_EQ(error.reply, ReplyId::kUnsupportedParameter);
}

TEST(Command, Xforward) {
  XforwardAttributes attributes;
  CommandError error;
  ASSERT_TRUE(ParseXforward("NAME=mail.example.org ADDR=192.0.2.1 PORT=4711", attributes, error));
  ASSERT_TRUE(ParseXforward("HELO=[UNAVAILABLE] IDENT=4XyzAB+2B SOURCE=REMOTE proto=ESMTP",
                            attributes, error));
  EXPECT_EQ(*attributes.addr, "192.0.2.1");
  EXPECT_EQ(*attributes.ident, "4XyzAB+");
  EXPECT_EQ(*attributes.proto, "ESMTP");
  EXPECT_FALSE(ParseXforward("COLOR=blue", attributes, error));
  EXPECT_FALSE(ParseXforward("NAME", attributes, error));
  auto commands = FormatXforward(attributes, {"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT"});
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0],
            "XFORWARD NAME=mail.example.org ADDR=192.0.2.1 PORT=4711 PROTO=ESMTP "
            "HELO=[UNAVAILABLE] IDENT=4XyzAB+2B");  // SOURCE not announced: not sent
}

TEST(Command, XforwardSplitsLongCommands) {
  XforwardAttributes attributes;
  attributes.name = std::string(250, 'n');
  attributes.helo = std::string(250, 'h');
  attributes.addr = "192.0.2.1";
  auto commands = FormatXforward(attributes, {"NAME", "ADDR", "HELO"});
  ASSERT_EQ(commands.size(), 2u);
  for (const auto& c : commands) EXPECT_LT(c.size() + 2, 512u);
}

TEST(Command, Bdat) {
  auto bdat = ParseBdatArgument("1000 LAST");
  ASSERT_TRUE(bdat);
  EXPECT_EQ(bdat->size, 1000u);
  EXPECT_TRUE(bdat->last);
  EXPECT_FALSE(ParseBdatArgument(""));
  EXPECT_FALSE(ParseBdatArgument("x"));
  EXPECT_FALSE(ParseBdatArgument("10 FIRST"));
}

TEST(Command, Xtext) {
  EXPECT_EQ(*DecodeXtext("a+2Bb+3Dc"), "a+b=c");
  EXPECT_FALSE(DecodeXtext("a+2"));
  EXPECT_FALSE(DecodeXtext("a b"));
  EXPECT_EQ(EncodeXtext("a+b=c d"), "a+2Bb+3Dc+20d");
}

}  // namespace
}  // namespace mailsift::smtp
