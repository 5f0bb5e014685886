// policy/reply_table_test.cc — every reply after the greeting has an enhanced code; multi-line
// replies.
#include "policy/reply_table.h"

#include <gtest/gtest.h>

namespace mailsift::policy {
namespace {

TEST(ReplyTable, EveryReplyAfterTheGreetingHasAnEnhancedCode) {
  for (int i = 0; i < static_cast<int>(ReplyId::kCount); ++i) {
    auto id = static_cast<ReplyId>(i);
    const ReplyEntry& entry = Entry(id);
    std::string wire = FormatReply(id, "x");
    EXPECT_EQ(wire.substr(wire.size() - 2), "\r\n");
    EXPECT_LE(wire.size(), 512u);
    if (id == ReplyId::kGreeting || id == ReplyId::kGreetingLmtp ||
        id == ReplyId::kStartMailInput || id == ReplyId::kHeloOk || id == ReplyId::kEhloOk) {
      continue;
    }
    ASSERT_NE(entry.enhanced[0], '\0') << wire;
    EXPECT_EQ(entry.enhanced[0] - '0', entry.code / 100) << wire;
  }
  EXPECT_EQ(FormatReply(ReplyId::kProtocolSynchronization),
            "554 5.5.0 Error: SMTP protocol synchronization\r\n");
  EXPECT_EQ(FormatReply(ReplyId::kRecipientOk, "a@b"), "250 2.1.5 Recipient <a@b> OK\r\n");
  // The last entries, so that a missing one shows (the table is positional).
  EXPECT_EQ(FormatReply(ReplyId::kHeaderTooBig), "552 5.3.4 Message header size exceeds limit\r\n");
  EXPECT_EQ(FormatReply(ReplyId::kEmptyMessage), "554 5.6.0 Error: empty message\r\n");
  EXPECT_EQ(FormatReply(ReplyId::kDataTooSlow),
            "421 4.4.2 Error: message data arriving too slowly\r\n");
  EXPECT_EQ(FormatReply(ReplyId::kRelayClosedAtEnd, "ID"),
            "451 4.4.2 id=ID - Temporary failure: next hop closed the connection\r\n");
}

TEST(ReplyTable, MultiLineRepliesAndAnotherEnhancedCode) {
  EXPECT_EQ(FormatReply(ReplyId::kHeloOk, "mx.example"), "250 mx.example\r\n");
  EXPECT_EQ(FormatReply(ReplyId::kEhloOk, "mx.example", "1000"),
            "250-mx.example\r\n"
            "250-PIPELINING\r\n"
            "250-SIZE 1000\r\n"
            "250-VRFY\r\n"
            "250-ENHANCEDSTATUSCODES\r\n"
            "250-8BITMIME\r\n"
            "250-SMTPUTF8\r\n"
            "250-DSN\r\n"
            "250-CHUNKING\r\n"
            "250 XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE\r\n");
  EXPECT_EQ(FormatReply(ReplyId::kRelayTempfail, "ID - from MTA(x): 451 4.3.2 busy"),
            "451 4.0.0 id=ID - from MTA(x): 451 4.3.2 busy\r\n");
  EXPECT_EQ(FormatReplyWithEnhanced(ReplyId::kRelayTempfail, "4.3.2", "ID"), "451 4.3.2 id=ID\r\n");
}

}  // namespace
}  // namespace mailsift::policy
