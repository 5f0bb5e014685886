// Tests of generation::Run, the generation's main function, as the supervisor drives it: each
// test forks a child that runs Run() with a config file, a rule directory and a spool directory
// the test writes in a temporary directory, its listening sockets passed by LISTEN_FDS (bound
// by the test on 127.0.0.1, port 0) and the control channel (MAILSIFT_CONTROL_FD) one end of a
// socketpair. The test reads the channel with a timeout, speaks SMTP to the passed listener and
// relays to a fake next hop (a forked child of its own that records what it is given), and
// checks the exit code. Nothing waits by sleeping: every wait is a poll on a descriptor (the
// channel, a socket, a pidfd) with a deadline.
//
// Thread-safety: the test process stays single-threaded (so fork() is safe); Run() starts its
// threads only in the forked child.
#include "generation/generation.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "base/test_socket.h"
#include "supervisor/protocol.h"

namespace mailsift::generation {
namespace {

using mailsift::testing::ReadLine;

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using supervisor::Message;
using supervisor::MessageType;

// Long enough for a loaded CI machine; a passing run takes a fraction of it.
constexpr milliseconds kWait{10000};

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/mailsift-generation-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void Write(const fs::path& name, const std::string& text) const {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name) << text;
  }

 private:
  fs::path path_;
};

// A TCP socket listening on 127.0.0.1 at a port the kernel picked.
struct BoundListener {
  int fd = -1;
  int port = 0;
};

BoundListener Listen() {
  BoundListener listener;
  listener.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.fd, 16) != 0) {
    ::close(listener.fd);
    return {};
  }
  socklen_t length = sizeof addr;
  ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&addr), &length);
  listener.port = ntohs(addr.sin_port);
  return listener;
}

// A connected socket, or -1 with errno set (ECONNREFUSED: nothing listens there).
int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int error = errno;
    ::close(fd);
    errno = error;
    return -1;
  }
  timeval timeout{static_cast<time_t>(kWait.count() / 1000), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// An SMTP client on one connection: each reply as its last line ("250 2.0.0 Ok"), "" when the
// connection closed or timed out first.
class SmtpClient {
 public:
  explicit SmtpClient(int port) : fd_(Connect(port)) {}
  ~SmtpClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  // Connected, and greeted with 220.
  bool Greeted() { return connected() && Reply().substr(0, 4) == "220 "; }
  std::string Reply() {
    std::string line;
    while (ReadLine(fd_, buffer_, line)) {
      if (line.size() < 4 || line[3] != '-') return line;
    }
    return "";
  }
  std::string Command(const std::string& command) {
    SendAll(fd_, command + "\r\n");
    return Reply();
  }
  // True when the server closed (or reset) the connection without sending a byte; false when
  // it sent one or the receive timed out.
  bool ClosedSilently() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return buffer_.empty() && (n == 0 || (n < 0 && errno == ECONNRESET));
  }

 private:
  int fd_;
  std::string buffer_;
};

// True when nothing listens on `port` any more (connect() is refused).
bool ConnectionRefused(int port) {
  int fd = Connect(port);
  if (fd >= 0) ::close(fd);
  return fd < 0 && errno == ECONNREFUSED;
}

// Waits for `pid` to exit (a pidfd polled for at most `wait`): its exit code, 128 + the signal
// that ended it, or nullopt (it is then killed) when it is still running.
std::optional<int> WaitExit(pid_t pid, milliseconds wait) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  bool exited = true;
  if (pidfd >= 0) {
    pollfd fd{pidfd, POLLIN, 0};
    exited = ::poll(&fd, 1, static_cast<int>(wait.count())) == 1;
    ::close(pidfd);
  }
  if (!exited) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!exited) return std::nullopt;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The next hop: a forked process that answers SMTP on its own listener, one connection after
// the other, and appends each message it is given to `record`.
class FakeNextHop {
 public:
  explicit FakeNextHop(fs::path record) {
    BoundListener listener = Listen();
    port_ = listener.port;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(listener.fd, 3);
      ::close_range(4, ~0U, 0);
      Serve(3, record);
      ::_exit(0);
    }
    ::close(listener.fd);
  }
  ~FakeNextHop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }

 private:
  static void Serve(int listener, const fs::path& record) {
    while (true) {
      int fd = ::accept(listener, nullptr, nullptr);
      if (fd < 0) continue;
      std::string buffer, line;
      SendAll(fd, "220 hop.test ESMTP\r\n");
      while (ReadLine(fd, buffer, line)) {
        std::string verb = line.substr(0, 4);
        if (verb == "EHLO") {
          SendAll(fd, "250-hop.test\r\n250 8BITMIME\r\n");
        } else if (verb == "DATA") {
          SendAll(fd, "354 go ahead\r\n");
          std::string message;
          while (ReadLine(fd, buffer, line) && line != ".") message += line + "\n";
          std::ofstream(record, std::ios::app) << message;
          SendAll(fd, "250 2.0.0 Ok: queued as HOPQ1\r\n");
        } else if (verb == "QUIT") {
          SendAll(fd, "221 2.0.0 bye\r\n");
          break;
        } else {
          SendAll(fd, "250 2.0.0 Ok\r\n");
        }
      }
      ::close(fd);
    }
  }

  int port_ = 0;
  pid_t pid_ = -1;
};

// A listener passed to the generation by LISTEN_FDS, under the name its config gives it.
struct Passed {
  std::string name;
  int fd;
};

// generation::Run in a forked child, with the test's end of its control channel.
class GenerationProcess {
 public:
  // `passed` become fds 3.. of the child (closed here: the child holds the only copies).
  GenerationProcess(const fs::path& config, const std::vector<Passed>& passed,
                    const fs::path& stderr_file) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(pair[0]);
      int log = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(log, 2);
      // Out of the way of 3.. first, then into place.
      std::vector<int> moved;
      for (const Passed& p : passed) moved.push_back(::fcntl(p.fd, F_DUPFD, 100));
      int channel = ::fcntl(pair[1], F_DUPFD, 100);
      std::string names;
      for (size_t i = 0; i < passed.size(); ++i) {
        ::dup2(moved[i], 3 + static_cast<int>(i));
        names += (i ? ":" : "") + passed[i].name;
      }
      const int channel_fd = 3 + static_cast<int>(passed.size());
      ::dup2(channel, channel_fd);
      ::close_range(static_cast<unsigned>(channel_fd) + 1, ~0U, 0);
      ::setenv("LISTEN_FDS", std::to_string(passed.size()).c_str(), 1);
      ::setenv("LISTEN_FDNAMES", names.c_str(), 1);
      ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
      ::setenv(std::string(supervisor::kControlFdVariable).c_str(),
               std::to_string(channel_fd).c_str(), 1);
      ::_exit(Run(config.string()));
    }
    ::close(pair[1]);
    for (const Passed& p : passed) ::close(p.fd);
    channel_ = pair[0];
    stderr_file_ = stderr_file;
  }
  ~GenerationProcess() {
    CloseChannel();
    if (pid_ > 0 && !exit_code_) WaitExit(pid_, milliseconds(0));
  }
  bool started() const { return pid_ > 0; }

  // The next message on the channel; nullopt on EOF or when none came within `wait`. A line
  // that is no message fails the test.
  std::optional<Message> Next(milliseconds wait = kWait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
      std::vector<std::string> lines = supervisor::TakeLines(buffer_);
      pending_.insert(pending_.end(), lines.begin(), lines.end());
      if (!pending_.empty()) {
        std::string line = pending_.front();
        pending_.erase(pending_.begin());
        auto message = supervisor::ParseMessage(line);
        if (!message) ADD_FAILURE() << "not a message: \"" << line << "\"";
        return message;
      }
      auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (channel_ < 0 || left.count() <= 0) return std::nullopt;
      pollfd fd{channel_, POLLIN, 0};
      if (::poll(&fd, 1, static_cast<int>(left.count())) != 1) return std::nullopt;
      char chunk[4096];
      ssize_t n = ::recv(channel_, chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }
  // The next message, which must be of `type` (else the test fails and nullopt).
  std::optional<Message> Expect(MessageType type) {
    auto message = Next();
    if (!message) {
      ADD_FAILURE() << "no message on the channel; the generation's log:\n" << Log();
      return std::nullopt;
    }
    if (message->type != type) {
      ADD_FAILURE() << "unexpected message \"" << supervisor::FormatMessage(*message)
                    << "\"; the generation's log:\n"
                    << Log();
      return std::nullopt;
    }
    return message;
  }
  // Waits for READY, skipping RULES (kept in rules()).
  bool Ready() {
    auto message = Next();
    if (message && message->type == MessageType::kRules) {
      rules_ = message->text;
      message = Next();
    }
    if (message && message->type == MessageType::kReady) return true;
    ADD_FAILURE() << "no READY but \""
                  << (message ? supervisor::FormatMessage(*message) : "nothing")
                  << "\"; the generation's log:\n"
                  << Log();
    return false;
  }
  const std::string& rules() const { return rules_; }

  void Say(MessageType type) { SendAll(channel_, supervisor::FormatMessage({type}) + "\n"); }
  void CloseChannel() {
    if (channel_ >= 0) ::close(channel_);
    channel_ = -1;
  }
  // The exit code (see WaitExit); nullopt when it did not exit within `wait` (it is killed).
  std::optional<int> Exit(milliseconds wait = kWait) {
    if (!exit_code_) exit_code_ = WaitExit(pid_, wait);
    return *exit_code_;
  }
  std::string Log() const {
    std::ifstream in(stderr_file_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  pid_t pid_ = -1;
  int channel_ = -1;
  std::string buffer_;
  std::vector<std::string> pending_;
  std::string rules_;
  std::optional<std::optional<int>> exit_code_;
  fs::path stderr_file_;
};

constexpr char kRules[] =
    "body GENTEST_WORDS /generation test words/\n"
    "score GENTEST_WORDS 3\n";

// A temporary directory with a rule directory, a site directory, a spool directory, a fake
// next hop, and the config file of a generation with one listener ("in") on `listener`.
class GenerationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("rules/10_test.cf", kRules);
    fs::create_directories(dir_.path() / "site");
    fs::create_directories(dir_.path() / "spool");
    hop_.emplace(dir_.path() / "delivered.txt");
    listener_ = Listen();
    ASSERT_GE(listener_.fd, 0);
  }

  // The config file, with `extra` appended (more tables, or keys of the last one, [supervisor]).
  fs::path WriteConfig(const std::string& extra = "",
                       const std::string& spool = std::string()) const {
    std::string text =
        "[server]\nhostname = \"generation.test\"\nio_threads = 1\n"
        "[[listen]]\nname = \"in\"\naddress = \"127.0.0.1:" +
        std::to_string(listener_.port) +
        "\"\n"
        "[relay]\nnext_hop = \"127.0.0.1:" +
        std::to_string(hop_->port()) +
        "\"\n"
        "[spool]\ndirectory = \"" +
        (spool.empty() ? (dir_.path() / "spool").string() : spool) +
        "\"\n"
        "[spam]\nrule_dirs = [\"" +
        (dir_.path() / "rules").string() + "\"]\nsite_dir = \"" + (dir_.path() / "site").string() +
        "\"\nprefilter = \"off\"\nprefilter_cache_dir = \"none\"\n"
        "[banned]\nenabled = false\n"
        "[quarantine]\ndirectory = \"\"\n" +
        extra + "\n[supervisor]\ndrain_timeout = \"5s\"\n";
    dir_.Write("mailsift.toml", text);
    return dir_.path() / "mailsift.toml";
  }

  std::unique_ptr<GenerationProcess> Start(const fs::path& config,
                                           std::vector<Passed> passed = {}) {
    if (passed.empty()) passed.push_back({"in", listener_.fd});
    listener_.fd = -1;  // the child's now
    auto generation =
        std::make_unique<GenerationProcess>(config, passed, dir_.path() / "generation.log");
    EXPECT_TRUE(generation->started());
    return generation;
  }

  std::string Delivered() const {
    std::ifstream in(dir_.path() / "delivered.txt");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  void TearDown() override {
    if (listener_.fd >= 0) ::close(listener_.fd);
  }

  TempDir dir_;
  std::optional<FakeNextHop> hop_;
  BoundListener listener_;
};

// A whole transaction on `client`: the end of data's reply.
std::string SendMessage(SmtpClient& client, const std::string& body) {
  if (client.Command("EHLO client.test").substr(0, 3) != "250") return "EHLO refused";
  if (client.Command("MAIL FROM:<sender@example.com>").substr(0, 3) != "250") return "MAIL";
  if (client.Command("RCPT TO:<rcpt@example.org>").substr(0, 3) != "250") return "RCPT";
  if (client.Command("DATA").substr(0, 3) != "354") return "DATA refused";
  return client.Command(
      "From: sender@example.com\r\nTo: rcpt@example.org\r\n"
      "Subject: generation test\r\n\r\n" +
      body + "\r\n.");
}

TEST_F(GenerationTest, ReportsReadyAndServesMailOnThePassedListener) {
  auto generation = Start(WriteConfig());
  ASSERT_TRUE(generation->Ready());
  EXPECT_FALSE(generation->rules().empty()) << "no RULES digest before READY";

  SmtpClient client(listener_.port);
  ASSERT_TRUE(client.Greeted()) << std::strerror(errno);
  std::string end_of_data = SendMessage(client, "these are generation test words");
  EXPECT_EQ(end_of_data.substr(0, 4), "250 ") << end_of_data;
  EXPECT_NE(end_of_data.find("HOPQ1"), std::string::npos) << end_of_data;
  EXPECT_EQ(client.Command("QUIT").substr(0, 3), "221");

  // Relayed to the next hop, scanned with the test's rule directory.
  std::string delivered = Delivered();
  EXPECT_NE(delivered.find("Subject: generation test"), std::string::npos) << delivered;
  EXPECT_NE(delivered.find("GENTEST_WORDS=3"), std::string::npos) << delivered;
}

TEST_F(GenerationTest, AnswersStatusWithItsCounters) {
  auto generation = Start(WriteConfig());
  ASSERT_TRUE(generation->Ready());
  {
    SmtpClient client(listener_.port);
    ASSERT_TRUE(client.Greeted());
    EXPECT_EQ(SendMessage(client, "hello").substr(0, 4), "250 ");
    EXPECT_EQ(client.Command("QUIT").substr(0, 3), "221");
  }
  generation->Say(MessageType::kStatus);
  auto status = generation->Expect(MessageType::kStatus);
  ASSERT_TRUE(status);
  auto fields = supervisor::ParseStatus(status->text);
  EXPECT_EQ(fields["sessions"], 1) << status->text;
  EXPECT_EQ(fields["relayed"], 1) << status->text;
  EXPECT_EQ(fields.count("active"), 1u) << status->text;
}

TEST_F(GenerationTest, DrainStopsAcceptingFinishesTheOpenSessionAndExitsZero) {
  auto generation = Start(WriteConfig());
  ASSERT_TRUE(generation->Ready());
  SmtpClient open_session(listener_.port);
  ASSERT_TRUE(open_session.Greeted()) << std::strerror(errno);

  generation->Say(MessageType::kDrain);
  ASSERT_TRUE(generation->Expect(MessageType::kStoppedAccepting));
  // No thread accepts any more. The listening socket itself stays open until Run() returns
  // (filter::Server closes only its threads' copies), so the kernel still queues a new
  // connection, for the next generation under a supervisor; this one never serves it.
  SmtpClient late(listener_.port);
  ASSERT_TRUE(late.connected()) << std::strerror(errno);
  // The session that was open is told at its next command, and the generation then ends.
  EXPECT_EQ(open_session.Command("NOOP").substr(0, 9), "421 4.3.2");

  auto last_status = generation->Expect(MessageType::kStatus);  // its last words
  ASSERT_TRUE(last_status);
  EXPECT_EQ(supervisor::ParseStatus(last_status->text)["sessions"], 1) << last_status->text;
  EXPECT_EQ(generation->Exit(), 0) << generation->Log();
  EXPECT_TRUE(late.ClosedSilently()) << "the connection queued after DRAIN was served";
  EXPECT_TRUE(ConnectionRefused(listener_.port)) << std::strerror(errno);
}

TEST_F(GenerationTest, EndOfTheChannelDrainsIt) {
  auto generation = Start(WriteConfig());
  ASSERT_TRUE(generation->Ready());
  {
    SmtpClient client(listener_.port);
    ASSERT_TRUE(client.Greeted());
  }
  generation->CloseChannel();  // the supervisor is gone
  EXPECT_EQ(generation->Exit(), 0) << generation->Log();
  EXPECT_TRUE(ConnectionRefused(listener_.port)) << std::strerror(errno);
}

TEST_F(GenerationTest, ABrokenRuleFileFailsNamingFileAndLineAndServesNothing) {
  dir_.Write("rules/20_bad.cf", "body GOOD /fine/\nbody BROKEN /unclosed(group/\n");
  // Connected before the generation starts (it may fail before a later connect): the kernel
  // queues the connection on the listener the generation is passed, and nobody ever greets it.
  SmtpClient early(listener_.port);
  ASSERT_TRUE(early.connected());
  auto generation = Start(WriteConfig());

  auto failed = generation->Expect(MessageType::kFailed);
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->text.find("20_bad.cf:2"), std::string::npos) << failed->text;
  EXPECT_NE(failed->text.find("BROKEN"), std::string::npos) << failed->text;
  EXPECT_EQ(generation->Exit(), 78);
  EXPECT_TRUE(early.ClosedSilently());
  EXPECT_FALSE(generation->Next(milliseconds(0))) << "more after FAILED";
}

TEST_F(GenerationTest, ASpoolDirectoryThatIsNoDirectoryFails) {
  dir_.Write("not-a-directory", "");
  auto generation = Start(WriteConfig("", (dir_.path() / "not-a-directory").string()));
  auto failed = generation->Expect(MessageType::kFailed);
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->text.find("spool.directory"), std::string::npos) << failed->text;
  EXPECT_EQ(generation->Exit(), 78);
}

// The check Run() makes itself, after dropping privileges: the config is read as root (who may
// write the spool directory), the directory is root's alone, and the generation runs as nobody.
TEST_F(GenerationTest, ASpoolDirectoryTheServiceUserCannotWriteFails) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop privileges to nobody";
  fs::create_directories(dir_.path() / "root-only");
  fs::permissions(dir_.path() / "root-only", fs::perms::owner_all);
  fs::permissions(dir_.path(), fs::perms::others_exec, fs::perm_options::add);
  // [supervisor] is the last table of the config: these are its keys.
  std::string spool = (dir_.path() / "root-only").string();
  std::string config = WriteConfig("", spool);
  std::ofstream(config, std::ios::app) << "user = \"nobody\"\n";
  auto generation = Start(config);
  auto failed = generation->Expect(MessageType::kFailed);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->text, "spool.directory: \"" + spool + "\" is not a writable directory");
  EXPECT_EQ(generation->Exit(), 78);
}

TEST_F(GenerationTest, AListenerThatWasNotPassedFailsWith71) {
  BoundListener other = Listen();
  ASSERT_GE(other.fd, 0);
  std::string second =
      "[[listen]]\nname = \"second\"\naddress = \"127.0.0.1:" + std::to_string(other.port) + "\"\n";
  ::close(other.fd);
  // [[listen]] tables after [quarantine] are still the listen array's.
  auto generation = Start(WriteConfig(second));
  auto failed = generation->Expect(MessageType::kFailed);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->text, "listener second was not passed");
  EXPECT_EQ(generation->Exit(), 71);
}

}  // namespace
}  // namespace mailsift::generation
