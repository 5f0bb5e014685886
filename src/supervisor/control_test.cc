// supervisor/control_test.cc — control requests parse as they are formatted; answers.
#include "supervisor/control.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mailsift::supervisor {
namespace {

TEST(Control, EveryRequestParsesAsItIsFormatted) {
  for (Request r : {Request::kReload, Request::kStatus, Request::kStatusJson, Request::kStop,
                    Request::kStopFast, Request::kUpgrade}) {
    EXPECT_EQ(ParseRequest(FormatRequest(r)), r) << FormatRequest(r);
  }
  EXPECT_EQ(FormatRequest(Request::kStatusJson), "status json");
  EXPECT_EQ(FormatRequest(Request::kStopFast), "stop fast");
}

TEST(Control, OtherLinesAreNoRequest) {
  EXPECT_FALSE(ParseRequest(""));
  EXPECT_FALSE(ParseRequest("Reload"));
  EXPECT_FALSE(ParseRequest("reload "));
  EXPECT_FALSE(ParseRequest("status  json"));
  EXPECT_FALSE(ParseRequest("stop now"));
}

TEST(Control, AnswerWritesOneLineAndCloses) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  Answer(pair[0], "ok fine");
  char buffer[64];
  ssize_t n = ::read(pair[1], buffer, sizeof buffer);
  ASSERT_EQ(n, 8);
  EXPECT_EQ(std::string(buffer, 8), "ok fine\n");
  EXPECT_EQ(::read(pair[1], buffer, sizeof buffer), 0);  // closed
  ::close(pair[1]);
  Answer(-1, "nobody asked");  // a signal's request: nothing to write
}

}  // namespace
}  // namespace mailsift::supervisor
