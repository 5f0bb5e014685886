#include "smtp/trace.h"

#include <gtest/gtest.h>

namespace mailsift::smtp {
namespace {

TEST(Trace, MailIdsAreTwelveSafeCharacters) {
  std::string a = NewMailId(), b = NewMailId();
  EXPECT_EQ(a.size(), 12u);
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  EXPECT_NE(a[0], '-');
}

TEST(Trace, ReceivedHeaderInAmavisdLayout) {
  ReceivedFacts facts{"client.example",
                      "127.0.0.1",
                      "filter.example",
                      "port 10024",
                      "ESMTP",
                      "Cnw1d0fyNqA6",
                      "user@example.org",
                      std::chrono::system_clock::from_time_t(1795975275)};
  EXPECT_EQ(ReceivedHeader(facts),
            "Received: from client.example ([127.0.0.1])\r\n"
            " by filter.example (mailsift, port 10024)\r\n"
            " with ESMTP id Cnw1d0fyNqA6 for <user@example.org>;\r\n"
            " Sun, 29 Nov 2026 18:01:15 +0000\r\n");
}

}  // namespace
}  // namespace mailsift::smtp
