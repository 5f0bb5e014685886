#include "smtp/reply.h"

#include <gtest/gtest.h>

namespace mailsift::smtp {
namespace {

TEST(Reply, AssemblesMultiLineReplies) {
  ReplyAssembler assembler;
  Reply reply;
  EXPECT_EQ(assembler.AddLine("250-smtp-sink", reply), ReplyAssembler::Status::kNeedMore);
  EXPECT_EQ(assembler.AddLine("250-PIPELINING", reply), ReplyAssembler::Status::kNeedMore);
  EXPECT_EQ(assembler.AddLine("250 XFORWARD NAME ADDR", reply), ReplyAssembler::Status::kComplete);
  EXPECT_EQ(reply.code, 250);
  ASSERT_EQ(reply.lines.size(), 3u);
  EXPECT_EQ(reply.lines[2], "XFORWARD NAME ADDR");
  EXPECT_EQ(assembler.AddLine("354", reply), ReplyAssembler::Status::kComplete);
  EXPECT_EQ(reply.code, 354);
}

TEST(Reply, RefusesMalformedLines) {
  ReplyAssembler assembler;
  Reply reply;
  EXPECT_EQ(assembler.AddLine("25", reply), ReplyAssembler::Status::kMalformed);
  EXPECT_EQ(assembler.AddLine("250x", reply), ReplyAssembler::Status::kMalformed);
  EXPECT_EQ(assembler.AddLine("650 no", reply), ReplyAssembler::Status::kMalformed);
  EXPECT_EQ(assembler.AddLine("250-a", reply), ReplyAssembler::Status::kNeedMore);
  EXPECT_EQ(assembler.AddLine("251 b", reply), ReplyAssembler::Status::kMalformed);
}

TEST(Reply, EnhancedCodes) {
  Reply reply{250, {"2.0.0 Ok: queued as 4XyzAB"}};
  EXPECT_EQ(reply.Enhanced(), "2.0.0");
  EXPECT_EQ(reply.WireWithEnhanced("2.0.0"), "250 2.0.0 Ok: queued as 4XyzAB\r\n");
  Reply bare{550, {"no such user", "really"}};
  EXPECT_EQ(bare.Enhanced(), "");
  EXPECT_EQ(bare.WireWithEnhanced("5.0.0"), "550-5.0.0 no such user\r\n550 5.0.0 really\r\n");
  Reply mismatched{451, {"5.1.1 odd"}};
  EXPECT_EQ(mismatched.WireWithEnhanced("4.0.0"), "451 4.0.0 odd\r\n");
  EXPECT_EQ(LeadingEnhancedCode("5.7.1 denied"), "5.7.1");
  EXPECT_EQ(LeadingEnhancedCode("5.7.1000 x"), "");
  EXPECT_EQ(LeadingEnhancedCode("3.0.0 x"), "");
}

}  // namespace
}  // namespace mailsift::smtp
