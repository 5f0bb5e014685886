// supervisor/upgrade_test.cc — the state `mailsift upgrade` hands to the new program.
#include "supervisor/upgrade.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

namespace mailsift::supervisor {
namespace {

UpgradeState Sample() {
  UpgradeState s;
  s.next_number = 7;
  s.reloads = 3;
  s.failed_reloads = 1;
  s.crashes = 2;
  s.control_fd = 5;
  s.client = 9;
  OwnedListener inet;
  inet.name = "smtp";
  inet.fd = 6;
  inet.address.kind = net::Endpoint::Kind::kInet;
  inet.address.host = "127.0.0.1";
  inet.address.port = 10024;
  s.listeners.push_back(inet);
  OwnedListener unix_socket;
  unix_socket.name = "lmtp";
  unix_socket.fd = 8;
  unix_socket.address = *net::ParseEndpoint("unix:/run/mailsift/lmtp.sock");
  s.listeners.push_back(unix_socket);
  s.finished_totals = {{"relayed", 40}, {"verdict.CLEAN.pass", 38}};
  MetricsSocket metrics;
  metrics.fd = 10;
  metrics.address.host = "::1";
  metrics.address.port = 9985;
  s.metrics = metrics;
  s.generations.push_back({5, 1234, 11, 1, "c0ffee"});
  s.generations.push_back({6, 1240, -1, 2, "beef"});
  return s;
}

TEST(Upgrade, TheStateIsOneLineOfWords) {
  EXPECT_EQ(FormatUpgradeState(Sample()),
            "v1 next=7 reloads=3 failed=1 crashes=2 control=5 client=9 L=smtp,6,127.0.0.1|10024 "
            "L=lmtp,8,unix:/run/mailsift/lmtp.sock T.relayed=40 T.verdict.CLEAN.pass=38 "
            "M=10,::1|9985 G=5,1234,11,1,c0ffee G=6,1240,-1,2,beef");
}

TEST(Upgrade, TheStateReadsBackAsItWasWritten) {
  UpgradeState s = ParseUpgradeState(FormatUpgradeState(Sample()));
  EXPECT_EQ(s.next_number, 7);
  EXPECT_EQ(s.reloads, 3);
  EXPECT_EQ(s.failed_reloads, 1);
  EXPECT_EQ(s.crashes, 2);
  EXPECT_EQ(s.control_fd, 5);
  EXPECT_EQ(s.client, 9);
  ASSERT_EQ(s.listeners.size(), 2u);
  EXPECT_EQ(s.listeners[0].name, "smtp");
  EXPECT_EQ(s.listeners[0].fd, 6);
  EXPECT_EQ(s.listeners[0].address, Sample().listeners[0].address);
  EXPECT_EQ(s.listeners[1].address, Sample().listeners[1].address);
  EXPECT_EQ(s.finished_totals, Sample().finished_totals);
  ASSERT_TRUE(s.metrics);
  EXPECT_EQ(s.metrics->fd, 10);
  EXPECT_EQ(s.metrics->address.host, "::1");
  EXPECT_EQ(s.metrics->address.port, 9985);
  ASSERT_EQ(s.generations.size(), 2u);
  EXPECT_EQ(s.generations[1].pid, 1240);
  EXPECT_EQ(s.generations[1].channel, -1);
  EXPECT_EQ(s.generations[1].state, 2);
  EXPECT_EQ(s.generations[1].digest, "beef");
}

TEST(Upgrade, NoClientAndMalformedWords) {
  UpgradeState s =
      ParseUpgradeState("v1 next=2 control=4 client=-1 L=broken G=1,2,3 M=nobar junk T.sessions=x");
  EXPECT_EQ(s.client, -1);
  EXPECT_EQ(s.control_fd, 4);
  EXPECT_TRUE(s.listeners.empty());
  EXPECT_TRUE(s.generations.empty());
  EXPECT_FALSE(s.metrics);
  EXPECT_TRUE(s.finished_totals.empty());
}

TEST(Upgrade, ChildrenDoNotGetSystemdsVariables) {
  ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  ::setenv("LISTEN_FDS", "2", 1);
  ::setenv(std::string(kStateVariable).c_str(), "v1", 1);
  ::setenv("MAILSIFT_TEST_KEPT", "yes", 1);
  auto env = ChildEnvironment();
  auto has = [&](std::string_view prefix) {
    return std::any_of(env.begin(), env.end(),
                       [&](const std::string& e) { return e.starts_with(prefix); });
  };
  EXPECT_FALSE(has("NOTIFY_SOCKET="));
  EXPECT_FALSE(has("LISTEN_FDS="));
  EXPECT_FALSE(has(kStateVariable));
  EXPECT_TRUE(has("MAILSIFT_TEST_KEPT=yes"));
}

TEST(Upgrade, OurChildrenAreOurs) {
  EXPECT_FALSE(IsChildOfOurs(::getpid()));
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  EXPECT_TRUE(IsChildOfOurs(child));  // exited, not yet reaped: still ours
  int status = 0;
  ::waitpid(child, &status, 0);
}

TEST(Upgrade, AProgramThatIsNotOursIsRefused) {
  auto checked = CheckUpgrade("/bin/true", "/nonexistent.toml");
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.error().message.find("is not a program that can take over"), std::string::npos)
      << checked.error().message;
  checked = CheckUpgrade("/nonexistent/mailsift", "/nonexistent.toml");
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.error().message.find("exited with status 127: cannot execute"),
            std::string::npos)
      << checked.error().message;
}

}  // namespace
}  // namespace mailsift::supervisor
