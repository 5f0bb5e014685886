#include "config/config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

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
  EXPECT_EQ(config->smtp.bare_newline, BareNewline::kNormalize);  // Postfix 3.9's default
  EXPECT_EQ(config->limits.max_header_size, 104448u);
  EXPECT_EQ(config->limits.min_data_rate, 500u);
  EXPECT_EQ(config->timeouts.command_line.count(), 60);
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
max_header_size = 4096
min_data_rate = 0
[timeouts]
command = "2m"
command_line = "10s"
data = 60
message_deadline = "30s"
[smtp]
bare_newline = "reject"
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
  EXPECT_EQ(config->smtp.bare_newline, BareNewline::kReject);
  EXPECT_EQ(config->limits.max_header_size, 4096u);
  EXPECT_EQ(config->limits.min_data_rate, 0u);
  EXPECT_EQ(config->timeouts.command_line.count(), 10);
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
  for (const char* key :
       {"server.hostnme: unknown key", "listen[0].address", "listen[0].protocol", "relay.mode",
        "limits.max_recipients", "timeouts.command", "access.client_networks"}) {
    EXPECT_NE(all.find(key), std::string::npos) << key << " missing in:\n" << all;
  }
}

TEST(Config, RefusesALoop) {
  auto config = ParseConfig("[relay]\nnext_hop = \"127.0.0.1:10024\"\n", "t.toml");
  ASSERT_FALSE(config);
  EXPECT_NE(Joined(config.error()).find("loop"), std::string::npos);
}

TEST(Config, EveryPathMustBeAbsolute) {
  auto config = ParseConfig(R"(
[control]
pid_file = "run/mailsift.pid"
socket = "control.sock"
[spool]
directory = "spool"
[spam]
rule_dirs = ["/usr/share/spamassassin", "rules"]
site_dir = "etc/spamassassin"
prefilter_cache_dir = "cache"
[quarantine]
directory = "quarantine"
[log]
file = "mailsift.log"
[supervisor]
chroot = "jail"
)",
                            "t.toml");
  ASSERT_FALSE(config);
  std::string all = Joined(config.error());
  for (const char* key : {"control.pid_file", "control.socket", "spool.directory",
                          "spam.rule_dirs[1]", "spam.site_dir", "spam.prefilter_cache_dir",
                          "quarantine.directory", "log.file", "supervisor.chroot"}) {
    EXPECT_NE(all.find(std::string(key) + ": must be an absolute path"), std::string::npos)
        << key << " missing in:\n"
        << all;
  }
  EXPECT_EQ(all.find("spam.rule_dirs[0]"), std::string::npos) << all;
  // The special values stay allowed.
  EXPECT_TRUE(
      ParseConfig("[spam]\nprefilter_cache_dir = \"none\"\n[log]\nfile = \"\"\n", "t.toml"));
}

TEST(Config, MissingFileIsAnError) {
  auto config = LoadConfig("/nonexistent/mailsift.toml");
  ASSERT_FALSE(config);
  EXPECT_NE(Joined(config.error()).find("/nonexistent/mailsift.toml: cannot read"),
            std::string::npos)
      << Joined(config.error());
}

TEST(Config, SyntaxErrorNamesFileAndLine) {
  auto config = ParseConfig("[relay\nmode = 1\n", "broken.toml");
  ASSERT_FALSE(config);
  EXPECT_NE(Joined(config.error()).find("broken.toml:1:"), std::string::npos)
      << Joined(config.error());
}

TEST(Config, PolicyBanksOverlayPolicyKeysAndSelectByListenerOrNetwork) {
  auto config = ParseConfig(R"(
[[listen]]
address = "127.0.0.1:10024"
[[listen]]
address = "127.0.0.1:10026"
name = "outbound"
[spam]
kill_level = 6.31
subject_tag = "[SPAM] "
[actions]
spam = "discard"
[[policy_bank]]
name = "ORIGINATING"
listeners = ["outbound"]
bypass = ["banned"]
[policy_bank.spam]
kill_level = 12
[policy_bank.actions]
spam = "reject"
[[policy_bank]]
name = "MYNETS"
client_networks = ["10.0.0.0/8", "2001:db8::/32"]
[policy_bank.quarantine]
categories = ["virus"]
)",
                            "t.toml");
  ASSERT_TRUE(config) << Joined(config.error());
  ASSERT_EQ(config->policy_banks.size(), 2u);
  const PolicyBank& originating = config->policy_banks[0];
  EXPECT_EQ(originating.name, "ORIGINATING");
  EXPECT_EQ(originating.bypass, std::vector<std::string>{"banned"});
  EXPECT_EQ(originating.config->spam.kill_level, 12);            // overlaid
  EXPECT_EQ(originating.config->spam.subject_tag, "[SPAM] ");    // from the file
  EXPECT_EQ(originating.config->actions.spam, Action::kReject);  // overlaid
  EXPECT_EQ(config->actions.spam, Action::kDiscard);             // the file's own
  EXPECT_EQ(config->policy_banks[1].config->quarantine.categories,
            std::vector<std::string>{"virus"});

  EXPECT_EQ(SelectPolicyBank(*config, "outbound", "192.0.2.1"), &config->policy_banks[0]);
  EXPECT_EQ(SelectPolicyBank(*config, "127.0.0.1_10024", "10.1.2.3"), &config->policy_banks[1]);
  EXPECT_EQ(SelectPolicyBank(*config, "127.0.0.1_10024", "2001:db8::5"), &config->policy_banks[1]);
  EXPECT_EQ(SelectPolicyBank(*config, "127.0.0.1_10024", "192.0.2.1"), nullptr);
  EXPECT_EQ(SelectPolicyBank(*config, "127.0.0.1_10024", ""), nullptr);
}

TEST(Config, PolicyBankProblemsNameTheBankAndKey) {
  auto config = ParseConfig(R"(
[[policy_bank]]
name = "X"
listeners = ["nope"]
bypass = ["dns"]
[policy_bank.relay]
next_hop = "127.0.0.1:1"
[policy_bank.spam]
rule_dirs = ["/tmp"]
tag_level = "high"
[[policy_bank]]
name = "X"
)",
                            "t.toml");
  ASSERT_FALSE(config);
  std::string all = Joined(config.error());
  for (const char* text :
       {"policy_bank[0].listeners: no listener is named \"nope\"", "policy_bank[0].bypass: \"dns\"",
        "policy_bank[0].relay: unknown key", "policy_bank[0].spam.rule_dirs: not a policy key",
        "policy_bank[0] (X): spam.tag_level: must be a number",
        "policy_bank[1].name: \"X\" is used twice", "policy_bank[1]: selects nothing"}) {
    EXPECT_NE(all.find(text), std::string::npos) << text << " missing in:\n" << all;
  }
}

TEST(Config, PrefilterKeys) {
  auto defaults = ParseConfig("", "t.toml");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->spam.prefilter, Prefilter::kBackground);
  EXPECT_EQ(defaults->spam.prefilter_cache_dir, "");  // the environment's (XDG, HOME)

  // A directory that does not exist, and could not be created, is no config error: it only
  // means no cache (rules/prefilter/multi_prefilter.h).
  auto set = ParseConfig(R"(
[spam]
prefilter = "off"
prefilter_cache_dir = "/nonexistent/below/a/file"
)",
                         "t.toml");
  ASSERT_TRUE(set) << Joined(set.error());
  EXPECT_EQ(set->spam.prefilter, Prefilter::kOff);
  EXPECT_EQ(set->spam.prefilter_cache_dir, "/nonexistent/below/a/file");

  auto bad = ParseConfig("[spam]\nprefilter = \"sync\"\nprefilter_cache_dir = 3\n", "t.toml");
  ASSERT_FALSE(bad);
  const std::string all = Joined(bad.error());
  EXPECT_NE(all.find("spam.prefilter: \"sync\" is not one of background | off"), std::string::npos)
      << all;
  EXPECT_NE(all.find("spam.prefilter_cache_dir: must be a string"), std::string::npos) << all;
}

// A level of nan is valid TOML but compares false with every score: refused, with the key.
TEST(ConfigTest, SpamLevelNanIsRefused) {
  auto bad = ParseConfig("[spam]\ntag2_level = nan\nkill_level = 9.5\n", "t.toml");
  ASSERT_FALSE(bad);
  const std::string all = Joined(bad.error());
  EXPECT_NE(all.find("spam.tag2_level: must be a number, not nan"), std::string::npos) << all;
  EXPECT_EQ(all.find("kill_level"), std::string::npos) << all;

  auto never = ParseConfig("[spam]\nkill_level = inf\n", "t.toml");
  ASSERT_TRUE(never) << Joined(never.error());
  EXPECT_TRUE(std::isinf(never->spam.kill_level));
}

TEST(Config, BayesKeys) {
  auto keys = [](const Bayes& b) {
    return std::tuple(b.enabled, b.store, b.path, b.min_spam_num, b.min_ham_num,
                      b.expiry_max_db_size);
  };
  auto defaults = ParseConfig("", "t.toml");
  ASSERT_TRUE(defaults);
  // SpamAssassin's use_bayes 1, bayes_min_spam_num, bayes_min_ham_num, bayes_expiry_max_db_size.
  EXPECT_EQ(keys(defaults->bayes),
            std::tuple(true, BayesStoreKind::kLmdb, std::string("/var/lib/mailsift/bayes"), 200u,
                       200u, 150000u));

  auto set = ParseConfig(R"(
[bayes]
enabled = false
store = "lmdb"
path = "/srv/bayes"
min_spam_num = 10
min_ham_num = 20
expiry_max_db_size = 500000
)",
                         "t.toml");
  ASSERT_TRUE(set) << Joined(set.error());
  EXPECT_EQ(keys(set->bayes),
            std::tuple(false, BayesStoreKind::kLmdb, std::string("/srv/bayes"), 10u, 20u, 500000u));

  auto bad = ParseConfig(R"(
[bayes]
enabled = "yes"
store = "redis"
path = "bayes"
min_spam_num = -1
min_ham_num = "many"
expiry_max_db_size = 10
colour = 1
)",
                         "t.toml");
  ASSERT_FALSE(bad);
  const std::string all = Joined(bad.error());
  for (const char* problem :
       {"bayes.enabled: must be true or false", "bayes.store: \"redis\" is not yet supported",
        "bayes.path: must be an absolute path", "bayes.min_spam_num: -1 is out of range",
        "bayes.min_ham_num: must be an integer", "bayes.expiry_max_db_size: 10 is out of range",
        "bayes.colour: unknown key"}) {
    EXPECT_NE(all.find(problem), std::string::npos) << problem << " missing in:\n" << all;
  }
  auto other = ParseConfig("[bayes]\nstore = \"dbm\"\n", "t.toml");
  ASSERT_FALSE(other);
  EXPECT_NE(Joined(other.error()).find("bayes.store: \"dbm\" is not one of lmdb"),
            std::string::npos);
}

// The sample config documents every key with its default.
TEST(Config, PackagedSampleHasTheDefaultPrefilterKeys) {
  auto config = LoadConfig(MAILSIFT_SOURCE_DIR "/packaging/mailsift.toml");
  ASSERT_TRUE(config) << Joined(config.error());
  EXPECT_EQ(config->spam.prefilter, Prefilter::kBackground);
  EXPECT_EQ(config->spam.prefilter_cache_dir, "");
  EXPECT_EQ(config->bayes.path, "/var/lib/mailsift/bayes");
}

}  // namespace
}  // namespace mailsift::config
