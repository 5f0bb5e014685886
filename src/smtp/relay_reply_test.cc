#include "smtp/relay_reply.h"

#include <gtest/gtest.h>

#include <string>

namespace mailsift::smtp {
namespace {

using Status = RelayReplyReader::Status;

TEST(RelayReplyReader, ReadsOneReplyAfterAnother) {
  RelayReplyReader reader;
  Reply reply;
  EXPECT_EQ(reader.AddLine("250-mx.example.org", reply), Status::kNeedMore);
  EXPECT_EQ(reader.AddLine("250 PIPELINING", reply), Status::kComplete);
  EXPECT_EQ(reply.code, 250);
  EXPECT_EQ(reply.lines.size(), 2u);
  EXPECT_EQ(reader.AddLine("354 go ahead", reply), Status::kComplete);
  EXPECT_EQ(reply.code, 354);
  EXPECT_EQ(reader.AddLine("hello", reply), Status::kMalformed);
}

TEST(RelayReplyReader, AReplyOfMoreThanTheLimitIsMalformed) {
  RelayReplyReader reader;
  Reply reply;
  for (size_t i = 1; i < kMaxRelayReplyLines; ++i) {
    ASSERT_EQ(reader.AddLine("250-line", reply), Status::kNeedMore) << i;
  }
  EXPECT_EQ(reader.AddLine("250 last", reply), Status::kComplete);
  EXPECT_EQ(reply.lines.size(), kMaxRelayReplyLines);
  for (size_t i = 1; i < kMaxRelayReplyLines; ++i) reader.AddLine("250-line", reply);
  EXPECT_EQ(reader.AddLine("250-one too many", reply), Status::kMalformed);
  EXPECT_EQ(reader.AddLine("221 bye", reply), Status::kComplete);  // afresh after the error
  EXPECT_EQ(reply.lines.size(), 1u);
}

TEST(ParseExtensions, ReadsTheKeywordLinesCaseInsensitively) {
  Reply ehlo{250,
             {"mx.example.org greets you", "pipelining", "SIZE 10240000", "8BITMIME", "DSN",
              "SMTPUTF8", "XFORWARD name Addr PROTO"}};
  Extensions extensions = ParseExtensions(ehlo);
  EXPECT_TRUE(extensions.pipelining && extensions.size && extensions.eight_bit_mime &&
              extensions.dsn && extensions.smtputf8);
  EXPECT_EQ(extensions.xforward, (std::vector<std::string>{"NAME", "ADDR", "PROTO"}));
  // The greeting line is no keyword.
  EXPECT_FALSE(ParseExtensions(Reply{250, {"PIPELINING"}}).pipelining);
}

}  // namespace
}  // namespace mailsift::smtp
