#include "net/endpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace mailsift::net {
namespace {

TEST(Endpoint, ParsesTheThreeForms) {
  auto v4 = ParseEndpoint("127.0.0.1:10024");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 10024);
  auto v6 = ParseEndpoint("[::1]:10025");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:10025");
  auto unix_path = ParseEndpoint("unix:/run/mailsift.sock");
  ASSERT_TRUE(unix_path);
  EXPECT_EQ(unix_path->kind, Endpoint::Kind::kUnix);
  EXPECT_EQ(unix_path->path, "/run/mailsift.sock");
}

TEST(Endpoint, RefusesBadForms) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:25", "unix:rel",
                          ":25", "[::1]25", "host:port"}) {
    EXPECT_FALSE(ParseEndpoint(bad)) << bad;
  }
}

TEST(Network, Contains) {
  auto loopback = Network::Parse("127.0.0.0/8");
  ASSERT_TRUE(loopback);
  EXPECT_TRUE(loopback->Contains("127.1.2.3"));
  EXPECT_FALSE(loopback->Contains("128.0.0.1"));
  EXPECT_TRUE(loopback->Contains("::ffff:127.0.0.1"));
  auto v6 = Network::Parse("::1/128");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->Contains("::1"));
  EXPECT_FALSE(v6->Contains("::2"));
  auto odd = Network::Parse("10.0.0.0/9");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->Contains("10.127.0.1"));
  EXPECT_FALSE(odd->Contains("10.128.0.1"));
  EXPECT_FALSE(Network::Parse("10.0.0.0/33"));
  EXPECT_FALSE(Network::Parse("nonsense"));
}

TEST(Listener, BindsAnEphemeralPortAndAUnixPath) {
  auto fd = OpenListener(*ParseEndpoint("127.0.0.1:1"), 16);
  // Port 1 needs privileges we may or may not have; either way no crash and a clear result.
  if (fd) ::close(*fd);
  std::string path = "/tmp/mailsift-endpoint-test-" + std::to_string(::getpid()) + ".sock";
  auto unix_fd = OpenListener(*ParseEndpoint("unix:" + path), 16);
  ASSERT_TRUE(unix_fd) << unix_fd.error().message;
  ::close(*unix_fd);
  auto again = OpenListener(*ParseEndpoint("unix:" + path), 16);  // stale file replaced
  ASSERT_TRUE(again) << again.error().message;
  auto stolen = OpenListener(*ParseEndpoint("unix:" + path), 16);  // a live one is not
  ASSERT_FALSE(stolen);
  EXPECT_NE(stolen.error().message.find("another server"), std::string::npos);
  ::close(*again);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace mailsift::net
