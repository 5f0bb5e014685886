#include "config/config.h"

#include <gtest/gtest.h>

namespace mailsift::config {
namespace {

std::string Joined(const Problems& problems) {
  std::string out;
  for (const auto& item : problems.items) out += item + "\n";
  return out;
}

TEST(Config, DefaultsAreTheDocumentedOnes) {
  auto config = ParseConfig("", "t.toml");
  ASSERT_TRUE(config);
  ASSERT_EQ(config->listeners.size(), 1u);
  EXPECT_EQ(config->listeners[0].address.ToString(), "[127.0.0.1]:10024");
  EXPECT_EQ(config->relay.next_hop.ToString(), "[127.0.0.1]:10025");
  EXPECT_EQ(config->relay.mode, RelayMode::kAfterQueue);
  EXPECT_EQ(config->limits.max_message_size, 52428800u);
  EXPECT_EQ(config->timeouts.message_deadline.count(), 480);
  EXPECT_EQ(config->smtp.bare_newline, BareNewline::kReject);
  EXPECT_EQ(config->client_networks.size(), 2u);
}

TEST(Config, BeforeQueueDeadlineDefaultsTo45Seconds) {
  auto config = ParseConfig("[relay]\nmode = \"before-queue\"\n", "t.toml");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->timeouts.message_deadline.count(), 45);
}

TEST(Config, ReadsEveryDocumentedKey) {
  auto config = ParseConfig(R"(
[server]
hostname = "filter.example"
[[listen]]
address = "[::1]:10024"
protocol = "lmtp"
backlog = 100
[[listen]]
address = "unix:/run/mailsift/in.sock"
[relay]
next_hop = "unix:/run/next.sock"
protocol = "lmtp"
mode = "before-queue"
[limits]
max_message_size = 1048576
max_recipients = 50
max_sessions = 20
[timeouts]
command = "2m"
data = 60
message_deadline = "30s"
[smtp]
bare_newline = "normalize"
[access]
client_networks = ["10.0.0.0/8"]
[spool]
directory = "/tmp"
memory_limit = 65536
)",
                            "t.toml");
  ASSERT_TRUE(config) << Joined(config.error());
  EXPECT_EQ(config->hostname, "filter.example");
  ASSERT_EQ(config->listeners.size(), 2u);
  EXPECT_EQ(config->listeners[0].protocol, Protocol::kLmtp);
  EXPECT_EQ(config->listeners[0].backlog, 100);
  EXPECT_EQ(config->listeners[1].address.kind, net::Endpoint::Kind::kUnix);
  EXPECT_EQ(config->relay.protocol, Protocol::kLmtp);
  EXPECT_EQ(config->timeouts.command.count(), 120);
  EXPECT_EQ(config->timeouts.message_deadline.count(), 30);
  EXPECT_EQ(config->smtp.bare_newline, BareNewline::kNormalize);
  EXPECT_EQ(config->spool.memory_limit, 65536u);
}

TEST(Config, NamesEveryProblemByKey) {
  auto config = ParseConfig(R"(
[server]
hostnme = "typo"
[[listen]]
address = "127.0.0.1"
protocol = "smtps"
[relay]
mode = "sideways"
[limits]
max_recipients = "many"
[timeouts]
command = "-3s"
[access]
client_networks = ["300.1.1.1/8"]
)",
                            "t.toml");
  ASSERT_FALSE(config);
  std::string all = Joined(config.error());
  for (const char* key : {"server.hostnme: unknown key", "listen[0].address", "listen[0].protocol",
                          "relay.mode", "limits.max_recipients", "timeouts.command",
                          "access.client_networks"}) {
    EXPECT_NE(all.find(key), std::string::npos) << key << " missing in:\n" << all;
  }
}

TEST(Config, RefusesALoop) {
  auto config = ParseConfig("[relay]\nnext_hop = \"127.0.0.1:10024\"\n", "t.toml");
  ASSERT_FALSE(config);
  EXPECT_NE(Joined(config.error()).find("loop"), std::string::npos);
}

TEST(Config, SyntaxErrorNamesFileAndLine) {
  auto config = ParseConfig("[relay\nmode = 1\n", "broken.toml");
  ASSERT_FALSE(config);
  EXPECT_NE(Joined(config.error()).find("broken.toml:1:"), std::string::npos)
      << Joined(config.error());
}

}  // namespace
}  // namespace mailsift::config
