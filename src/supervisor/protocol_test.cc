// supervisor/protocol_test.cc — supervisor↔generation messages: Format and Parse agree.
#include "supervisor/protocol.h"

#include <gtest/gtest.h>

namespace mailsift::supervisor {
namespace {

TEST(Protocol, FormatsEachMessage) {
  EXPECT_EQ(FormatMessage({MessageType::kReady, ""}), "READY");
  EXPECT_EQ(FormatMessage({MessageType::kFailed, "config: spam.rule_dirs: none"}),
            "FAILED config: spam.rule_dirs: none");
  EXPECT_EQ(FormatMessage({MessageType::kStatus, ""}), "STATUS");
  EXPECT_EQ(FormatMessage({MessageType::kStatus, "active=1 sessions=20"}),
            "STATUS active=1 sessions=20");
  EXPECT_EQ(FormatMessage({MessageType::kRules, "ab12"}), "RULES ab12");
  EXPECT_EQ(FormatMessage({MessageType::kStoppedAccepting, ""}), "STOPPED_ACCEPTING");
  EXPECT_EQ(FormatMessage({MessageType::kDrain, ""}), "DRAIN");
}

TEST(Protocol, ParsesWhatItFormats) {
  for (const Message& m :
       {Message{MessageType::kReady, ""}, Message{MessageType::kFailed, "x y"},
        Message{MessageType::kStatus, ""}, Message{MessageType::kStatus, "a=1"},
        Message{MessageType::kRules, "d1"}, Message{MessageType::kStoppedAccepting, ""},
        Message{MessageType::kDrain, ""}}) {
    EXPECT_EQ(ParseMessage(FormatMessage(m)), m) << FormatMessage(m);
  }
}

TEST(Protocol, TextIsEverythingAfterTheFirstSpace) {
  EXPECT_EQ(ParseMessage("FAILED"), (Message{MessageType::kFailed, ""}));
  EXPECT_EQ(ParseMessage("FAILED "), (Message{MessageType::kFailed, ""}));
  EXPECT_EQ(ParseMessage("FAILED  two spaces"), (Message{MessageType::kFailed, " two spaces"}));
  EXPECT_EQ(ParseMessage("RULES "), (Message{MessageType::kRules, ""}));
}

TEST(Protocol, RefusesWhatIsNoMessage) {
  EXPECT_FALSE(ParseMessage(""));
  EXPECT_FALSE(ParseMessage("ready"));
  EXPECT_FALSE(ParseMessage("READY now"));
  EXPECT_FALSE(ParseMessage("DRAIN 5"));
  EXPECT_FALSE(ParseMessage("STOPPED_ACCEPTING x"));
  EXPECT_FALSE(ParseMessage("RULES"));
  EXPECT_FALSE(ParseMessage("STATUSES a=1"));
  EXPECT_FALSE(ParseMessage("FAILEDx"));
}

TEST(Protocol, ParseStatusTakesTheNumbers) {
  auto values = ParseStatus("STATUS active=1 sessions=20 junk bad=x");
  EXPECT_EQ(values.size(), 2u);
  EXPECT_EQ(values["active"], 1);
  EXPECT_EQ(values["sessions"], 20);
}

TEST(Protocol, TakeLinesKeepsAPartialLine) {
  std::string buffer = "READY\nSTATUS a=1\nDRA";
  auto lines = TakeLines(buffer);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "READY");
  EXPECT_EQ(lines[1], "STATUS a=1");
  EXPECT_EQ(buffer, "DRA");
}

}  // namespace
}  // namespace mailsift::supervisor
