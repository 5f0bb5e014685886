// Tests of the virus check against a real clamd (/usr/sbin/clamd, Debian's clamav-daemon) that
// the test starts itself: a temporary directory with a clamd.conf (Unix socket and TCP on
// 127.0.0.1) and a signature database the test writes — EICAR as a body signature and one
// signature of our own — so nothing is downloaded. clamd that cannot start is a failure, not a
// skip: clamav-daemon is a build dependency (scripts/install-deps.sh).
//
// Timeouts and odd replies use sockets that the test holds itself.
#include "scan/virus_check.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "net/endpoint.h"

extern char** environ;

namespace mailsift::scan {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::HasSubstr;
using testing::StartsWith;

constexpr char kClamd[] = "/usr/sbin/clamd";
constexpr char kCustomMarker[] = "mailsift-custom-test-marker-7f3a";

// The EICAR test file, put together at run time so that this source file is not itself a hit.
std::string Eicar() {
  return std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$") + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
}

std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

std::string Base64Lines(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out, line;
  for (size_t i = 0; i < data.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) n |= static_cast<unsigned char>(data[i + 1]) << 8;
    if (i + 2 < data.size()) n |= static_cast<unsigned char>(data[i + 2]);
    line += kAlphabet[(n >> 18) & 63];
    line += kAlphabet[(n >> 12) & 63];
    line += i + 1 < data.size() ? kAlphabet[(n >> 6) & 63] : '=';
    line += i + 2 < data.size() ? kAlphabet[n & 63] : '=';
    if (line.size() >= 76) out += std::exchange(line, "") + "\n";
  }
  if (!line.empty()) out += line + "\n";
  return out;
}

uint32_t Crc32(std::string_view data) {
  uint32_t crc = 0xffffffff;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320 & (0 - (crc & 1)));
  }
  return ~crc;
}

// RFC 1951 §3.2.6: one final block with the fixed Huffman codes, literals only. Enough to make
// a zip member whose bytes do not contain the plain text, so only unpacking finds it.
std::string DeflateFixed(std::string_view data) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  auto put = [&](uint32_t value, int n) {  // LSB first
    bits |= value << count;
    count += n;
    while (count >= 8) {
      out += static_cast<char>(bits & 0xff);
      bits >>= 8;
      count -= 8;
    }
  };
  auto code = [&](uint32_t value, int n) {  // Huffman codes go MSB first
    for (int i = n - 1; i >= 0; --i) put((value >> i) & 1, 1);
  };
  put(1, 1);  // BFINAL
  put(1, 2);  // BTYPE 01: fixed codes
  for (unsigned char c : data) {
    if (c < 144) {
      code(0x30 + c, 8);
    } else {
      code(0x190 + (c - 144), 9);
    }
  }
  code(0, 7);  // end of block
  if (count > 0) out += static_cast<char>(bits & 0xff);
  return out;
}

// A zip archive (APPNOTE.TXT §4.3) with one deflated member.
std::string Zip(std::string_view name, std::string_view content) {
  std::string packed = DeflateFixed(content);
  uint32_t crc = Crc32(content);
  auto u16 = [](std::string& s, uint16_t v) {
    s += static_cast<char>(v & 0xff);
    s += static_cast<char>(v >> 8);
  };
  auto u32 = [&](std::string& s, uint32_t v) {
    u16(s, static_cast<uint16_t>(v & 0xffff));
    u16(s, static_cast<uint16_t>(v >> 16));
  };
  std::string zip;
  u32(zip, 0x04034b50);
  u16(zip, 20);    // version needed
  u16(zip, 0);     // flags
  u16(zip, 8);     // deflate
  u16(zip, 0);     // time
  u16(zip, 0x21);  // date: 1980-01-01
  u32(zip, crc);
  u32(zip, static_cast<uint32_t>(packed.size()));
  u32(zip, static_cast<uint32_t>(content.size()));
  u16(zip, static_cast<uint16_t>(name.size()));
  u16(zip, 0);
  zip += name;
  zip += packed;
  std::string central;
  u32(central, 0x02014b50);
  u16(central, 20);  // made by
  u16(central, 20);  // needed
  u16(central, 0);
  u16(central, 8);
  u16(central, 0);
  u16(central, 0x21);
  u32(central, crc);
  u32(central, static_cast<uint32_t>(packed.size()));
  u32(central, static_cast<uint32_t>(content.size()));
  u16(central, static_cast<uint16_t>(name.size()));
  u16(central, 0);  // extra
  u16(central, 0);  // comment
  u16(central, 0);  // disk
  u16(central, 0);  // internal attributes
  u32(central, 0);  // external attributes
  u32(central, 0);  // offset of the local header
  central += name;
  uint32_t central_offset = static_cast<uint32_t>(zip.size());
  zip += central;
  u32(zip, 0x06054b50);
  u16(zip, 0);
  u16(zip, 0);
  u16(zip, 1);
  u16(zip, 1);
  u32(zip, static_cast<uint32_t>(central.size()));
  u32(zip, central_offset);
  u16(zip, 0);
  return zip;
}

constexpr char kHeaders[] =
    "From: Alice <alice@example.org>\n"
    "To: Bob <bob@example.net>\n"
    "Subject: test\n"
    "Message-ID: <virus-check-test@example.org>\n"
    "MIME-Version: 1.0\n";

std::string PlainMessage(std::string_view body) {
  return std::string(kHeaders) + "Content-Type: text/plain\n\n" + std::string(body) + "\n";
}

std::string AttachmentMessage(std::string_view filename, std::string_view content) {
  return std::string(kHeaders) +
         "Content-Type: multipart/mixed; boundary=\"b1\"\n\n"
         "--b1\nContent-Type: text/plain\n\nSee the attachment.\n"
         "--b1\nContent-Type: application/octet-stream; name=\"" +
         std::string(filename) +
         "\"\nContent-Transfer-Encoding: base64\n"
         "Content-Disposition: attachment; filename=\"" +
         std::string(filename) + "\"\n\n" + Base64Lines(content) + "--b1--\n";
}

MessageInput Message(const std::string& text) {
  return MessageInput{std::make_shared<const std::string>(text), {}};
}

config::Virus VirusConfig(const std::string& clamd, double timeout = 10,
                          uint64_t max_stream_size = 8 << 20) {
  config::Virus config;
  config.clamd = clamd;
  auto endpoint = net::ParseEndpoint(clamd);
  EXPECT_TRUE(endpoint) << clamd;
  if (endpoint) config.clamd_address = *endpoint;
  config.timeout = config::Seconds(timeout);
  config.max_stream_size = max_stream_size;
  return config;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A TCP port on 127.0.0.1 that nothing listens on (just now).
uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

uint16_t PortOf(int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  return net::AddressPort(address);
}

class TempDir {
 public:
  TempDir() {
    char templ[] = "/tmp/mailsift-clamd-XXXXXX";
    path_ = ::mkdtemp(templ);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// One clamd with its own directory, config and database; stopped (SIGTERM) when destroyed.
class Clamd {
 public:
  ~Clamd() { Stop(); }

  // Starts clamd and waits until it answers PING on both sockets. Returns "" or why not.
  std::string Start() {
    fs::create_directories(dir_.path() / "db");
    fs::create_directories(dir_.path() / "tmp");
    std::ofstream(dir_.path() / "db" / "mailsift-test.ndb")
        << "Eicar-Test-Signature:0:*:" << Hex(Eicar()) << "\n"
        << "Mailsift.Test.Custom:0:*:" << Hex(kCustomMarker) << "\n";
    port_ = FreePort();
    std::ofstream(dir_.path() / "clamd.conf")
        << "Foreground yes\n"
        << "LocalSocket " << socket_path() << "\n"
        << "TCPSocket " << port_ << "\n"
        << "TCPAddr 127.0.0.1\n"
        << "DatabaseDirectory " << (dir_.path() / "db").string() << "\n"
        << "TemporaryDirectory " << (dir_.path() / "tmp").string() << "\n"
        << "LogFile " << (dir_.path() / "clamd.log").string() << "\n"
        << "StreamMaxLength 1M\n"
        << "MaxThreads 8\n";
    std::string config_arg = "--config-file=" + (dir_.path() / "clamd.conf").string();
    std::string output = (dir_.path() / "clamd.out").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    char* argv[] = {const_cast<char*>(kClamd), config_arg.data(), nullptr};
    Clock::time_point start = Clock::now();
    int rc = ::posix_spawn(&pid_, kClamd, &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      return fmt::format("cannot run {}: {} (install clamav-daemon: scripts/install-deps.sh)",
                         kClamd, std::strerror(rc));
    }
    VirusCheck unix_check(VirusConfig(unix_endpoint()));
    VirusCheck tcp_check(VirusConfig(tcp_endpoint()));
    std::string last;
    while (SecondsSince(start) < 30) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return fmt::format("clamd exited (status {}) during start-up: {}\n{}", status,
                           ReadFile(output), Log());
      }
      auto deadline = Clock::now() + std::chrono::milliseconds(500);
      auto unix_ping = unix_check.Ping(deadline);
      auto tcp_ping = unix_ping ? tcp_check.Ping(deadline) : unix_ping;
      if (unix_ping && tcp_ping) {
        startup_seconds_ = SecondsSince(start);
        return "";
      }
      last = tcp_ping ? "" : tcp_ping.error().message;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return "clamd did not answer PING within 30 s: " + last + "\n" + Log();
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string socket_path() const { return (dir_.path() / "clamd.sock").string(); }
  std::string unix_endpoint() const { return "unix:" + socket_path(); }
  std::string tcp_endpoint() const { return fmt::format("127.0.0.1:{}", port_); }
  double startup_seconds() const { return startup_seconds_; }
  std::string Log() const { return ReadFile(dir_.path() / "clamd.log"); }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  double startup_seconds_ = 0;
};

// The clamd every test of the suite shares, started once.
class VirusCheckTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    clamd_ = new Clamd();
    start_error_ = clamd_->Start();
    if (start_error_.empty()) {
      std::printf("clamd started in %.0f ms\n", clamd_->startup_seconds() * 1000);
    }
  }
  static void TearDownTestSuite() {
    delete clamd_;
    clamd_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(start_error_, "") << "clamd must start for this test"; }

  // The same scan over the Unix socket and over TCP; both must agree.
  std::vector<CheckResult> RunBoth(const std::string& text) {
    std::vector<CheckResult> results;
    for (const auto& endpoint : {clamd_->unix_endpoint(), clamd_->tcp_endpoint()}) {
      VirusCheck check(VirusConfig(endpoint));
      results.push_back(check.Run(Message(text)));
    }
    return results;
  }

  static Clamd* clamd_;
  static std::string start_error_;
};

Clamd* VirusCheckTest::clamd_ = nullptr;
std::string VirusCheckTest::start_error_;

TEST_F(VirusCheckTest, StartsQuickly) {
  RecordProperty("clamd_startup_ms", static_cast<int>(clamd_->startup_seconds() * 1000));
  EXPECT_LT(clamd_->startup_seconds(), 5.0);
}

TEST_F(VirusCheckTest, PingsOverBothSockets) {
  auto deadline = Clock::now() + std::chrono::seconds(5);
  EXPECT_TRUE(VirusCheck(VirusConfig(clamd_->unix_endpoint())).Ping(deadline));
  EXPECT_TRUE(VirusCheck(VirusConfig(clamd_->tcp_endpoint())).Ping(deadline));
}

TEST_F(VirusCheckTest, CleanMessageIsClean) {
  for (const CheckResult& r : RunBoth(PlainMessage("Hello Bob,\n\njust a note.\n"))) {
    EXPECT_EQ(r.check, "virus");
    EXPECT_TRUE(r.scanned);
    EXPECT_EQ(r.finding, Finding::kNothing);
    EXPECT_TRUE(r.details.empty());
    EXPECT_EQ(r.skipped_reason, "");
  }
}

TEST_F(VirusCheckTest, EicarInPlainTextBodyIsFound) {
  for (const CheckResult& r : RunBoth(PlainMessage(Eicar()))) {
    EXPECT_TRUE(r.scanned);
    EXPECT_EQ(r.finding, Finding::kVirus);
    ASSERT_EQ(r.details.size(), 1u);
    // clamd marks names from databases that are not its own "UNOFFICIAL".
    EXPECT_THAT(r.details[0], StartsWith("Eicar-Test-Signature"));
  }
}

TEST_F(VirusCheckTest, EicarAsBase64AttachmentIsFound) {
  std::string text = AttachmentMessage("eicar.com", Eicar());
  ASSERT_EQ(text.find("EICAR"), std::string::npos);  // only decoding finds it
  for (const CheckResult& r : RunBoth(text)) {
    EXPECT_EQ(r.finding, Finding::kVirus);
    ASSERT_EQ(r.details.size(), 1u);
    EXPECT_THAT(r.details[0], StartsWith("Eicar-Test-Signature"));
  }
}

TEST_F(VirusCheckTest, EicarInsideZipAttachmentIsFound) {
  std::string zip = Zip("eicar.com", Eicar());
  ASSERT_EQ(zip.find("EICAR"), std::string::npos);  // only unpacking finds it
  std::string text = AttachmentMessage("invoice.zip", zip);
  for (const CheckResult& r : RunBoth(text)) {
    EXPECT_EQ(r.finding, Finding::kVirus);
    ASSERT_EQ(r.details.size(), 1u);
    EXPECT_THAT(r.details[0], StartsWith("Eicar-Test-Signature"));
  }
  // The archive itself is sound: the same zip with a harmless member is clean.
  CheckResult clean = VirusCheck(VirusConfig(clamd_->unix_endpoint()))
                          .Run(Message(AttachmentMessage("notes.zip", Zip("a.txt", "harmless"))));
  EXPECT_EQ(clean.finding, Finding::kNothing);
  EXPECT_TRUE(clean.scanned);
}

TEST_F(VirusCheckTest, CustomSignatureIsFoundByName) {
  std::string body = std::string("some words ") + kCustomMarker + " more words";
  for (const CheckResult& r : RunBoth(PlainMessage(body))) {
    EXPECT_EQ(r.finding, Finding::kVirus);
    ASSERT_EQ(r.details.size(), 1u);
    EXPECT_THAT(r.details[0], StartsWith("Mailsift.Test.Custom"));
  }
}

TEST_F(VirusCheckTest, CrlfLineEndsFindTheSameAsLf) {
  std::string text = AttachmentMessage("eicar.com", Eicar());
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  CheckResult r = VirusCheck(VirusConfig(clamd_->unix_endpoint())).Run(Message(crlf));
  EXPECT_EQ(r.finding, Finding::kVirus);
}

TEST_F(VirusCheckTest, MessageOverMaxStreamSizeIsUncheckedOverLimits) {
  // clamd is not asked: the endpoint is the running clamd, and nothing may reach it.
  VirusCheck check(VirusConfig(clamd_->unix_endpoint(), 10, 1024));
  std::string text = PlainMessage(std::string(2000, 'a'));
  CheckResult r = check.Run(Message(text));
  EXPECT_FALSE(r.scanned);
  EXPECT_EQ(r.finding, Finding::kUnchecked);
  EXPECT_EQ(r.subcategory, 2);
  EXPECT_EQ(r.skipped_reason, "size");
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_EQ(r.details[0], fmt::format("message of {} bytes is over virus.max_stream_size "
                                      "(1024 bytes)",
                                      text.size()));
  // Exactly at the limit is scanned.
  VirusCheck at_limit(VirusConfig(clamd_->unix_endpoint(), 10, text.size()));
  EXPECT_TRUE(at_limit.Run(Message(text)).scanned);
}

TEST_F(VirusCheckTest, ClamdStreamLimitIsUncheckedOverLimits) {
  // Our limit 8 MiB, clamd's StreamMaxLength 1M: clamd refuses and closes while we send.
  std::string text = PlainMessage(std::string(3 << 20, 'a'));
  for (const auto& endpoint : {clamd_->unix_endpoint(), clamd_->tcp_endpoint()}) {
    CheckResult r = VirusCheck(VirusConfig(endpoint)).Run(Message(text));
    EXPECT_FALSE(r.scanned);
    EXPECT_EQ(r.finding, Finding::kUnchecked);
    EXPECT_EQ(r.subcategory, 2);
    EXPECT_EQ(r.skipped_reason, "size");
    ASSERT_EQ(r.details.size(), 1u);
    EXPECT_EQ(r.details[0], "clamd " + net::ParseEndpoint(endpoint)->ToString() +
                                ": INSTREAM size limit exceeded");
  }
}

TEST_F(VirusCheckTest, ConcurrentScansFromSeveralThreads) {
  VirusCheck check(VirusConfig(clamd_->unix_endpoint()));
  std::string clean = PlainMessage("nothing to see");
  std::string infected = AttachmentMessage("eicar.com", Eicar());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        bool bad = (i + t) % 2 == 0;
        CheckResult r = check.Run(Message(bad ? infected : clean));
        if (r.finding != (bad ? Finding::kVirus : Finding::kNothing)) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

// Whether a connection pool would pay: a PING is one connection and one round trip, so it bounds
// what a pool could save per message; a scan of a small message is the rest.
TEST_F(VirusCheckTest, ConnectionCostNextToAScan) {
  VirusCheck check(VirusConfig(clamd_->unix_endpoint()));
  MessageInput message = Message(AttachmentMessage("notes.zip", Zip("a.txt", "harmless")));
  constexpr int kRounds = 200;
  Clock::time_point start = Clock::now();
  for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(check.Ping(Clock::now() + std::chrono::seconds(5)));
  double ping_us = SecondsSince(start) * 1e6 / kRounds;
  start = Clock::now();
  for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(check.Run(message).scanned);
  double scan_us = SecondsSince(start) * 1e6 / kRounds;
  std::printf("clamd over unix: connect+PING %.0f us, connect+INSTREAM scan %.0f us\n", ping_us,
              scan_us);
  RecordProperty("ping_us", static_cast<int>(ping_us));
  RecordProperty("scan_us", static_cast<int>(scan_us));
}

TEST(VirusCheck, ClamdStoppedIsUncheckedWithTheReason) {
  Clamd clamd;
  ASSERT_EQ(clamd.Start(), "");
  VirusCheck unix_check(VirusConfig(clamd.unix_endpoint()));
  VirusCheck tcp_check(VirusConfig(clamd.tcp_endpoint()));
  std::string text = PlainMessage("hello");
  ASSERT_TRUE(unix_check.Run(Message(text)).scanned);
  ASSERT_TRUE(tcp_check.Run(Message(text)).scanned);
  clamd.Stop();

  CheckResult r = unix_check.Run(Message(text));
  EXPECT_FALSE(r.scanned);
  EXPECT_EQ(r.finding, Finding::kUnchecked);
  EXPECT_EQ(r.subcategory, 0);
  EXPECT_EQ(r.skipped_reason, "unavailable");
  ASSERT_EQ(r.details.size(), 1u);
  // clamd removes its socket when it stops.
  EXPECT_EQ(r.details[0],
            "clamd " + clamd.unix_endpoint() + ": connect: No such file or directory");

  r = tcp_check.Run(Message(text));
  EXPECT_EQ(r.finding, Finding::kUnchecked);
  EXPECT_EQ(r.skipped_reason, "unavailable");
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_EQ(r.details[0], "clamd " + net::ParseEndpoint(clamd.tcp_endpoint())->ToString() +
                              ": connect: Connection refused");

  auto ping = unix_check.Ping(Clock::now() + std::chrono::seconds(1));
  ASSERT_FALSE(ping);
  EXPECT_THAT(ping.error().message, HasSubstr("connect: No such file or directory"));
}

TEST(VirusCheck, NoClamdAtThatPathIsUnchecked) {
  CheckResult r = VirusCheck(VirusConfig("unix:/nonexistent/clamd.ctl")).Run(Message("x\n"));
  EXPECT_EQ(r.finding, Finding::kUnchecked);
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_EQ(r.details[0], "clamd unix:/nonexistent/clamd.ctl: connect: No such file or directory");
}

// Listeners that never accept: connect succeeds (the kernel queues it) and nothing answers.
class SilentListener {
 public:
  // On the Unix socket `path`, or on 127.0.0.1 and a port of the kernel's choice when empty.
  explicit SilentListener(const std::string& path = "") {
    net::Endpoint endpoint;
    if (path.empty()) {
      endpoint.host = "127.0.0.1";
    } else {
      endpoint.kind = net::Endpoint::Kind::kUnix;
      endpoint.path = path;
    }
    auto fd = net::OpenListener(endpoint, 16);
    EXPECT_TRUE(fd) << (fd ? "" : fd.error().message);
    fd_ = fd ? *fd : -1;
    endpoint_ = path.empty() ? fmt::format("127.0.0.1:{}", PortOf(fd_)) : "unix:" + path;
  }
  ~SilentListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& endpoint() const { return endpoint_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string endpoint_;
};

TEST(VirusCheck, ClamdThatNeverAnswersTimesOut) {
  TempDir dir;
  SilentListener unix_listener((dir.path() / "silent.sock").string());
  SilentListener tcp_listener;
  for (const auto* listener : {&unix_listener, &tcp_listener}) {
    VirusCheck check(VirusConfig(listener->endpoint(), 0.5));
    Clock::time_point start = Clock::now();
    CheckResult r = check.Run(Message(PlainMessage("hello")));
    double elapsed = SecondsSince(start);
    EXPECT_GE(elapsed, 0.45);
    EXPECT_LT(elapsed, 1.5);
    EXPECT_FALSE(r.scanned);
    EXPECT_EQ(r.finding, Finding::kUnchecked);
    EXPECT_EQ(r.subcategory, 0);
    EXPECT_EQ(r.skipped_reason, "timeout");
    ASSERT_EQ(r.details.size(), 1u);
    EXPECT_THAT(r.details[0], HasSubstr(": no reply after 0.5s"));
    EXPECT_THAT(r.details[0], StartsWith("clamd "));
  }
}

TEST(VirusCheck, ClamdThatNeverReadsTimesOutWhileSending) {
  TempDir dir;
  SilentListener listener((dir.path() / "silent.sock").string());
  VirusCheck check(VirusConfig(listener.endpoint(), 0.5, 64 << 20));
  std::string text = PlainMessage(std::string(16 << 20, 'a'));  // far more than socket buffers
  Clock::time_point start = Clock::now();
  CheckResult r = check.Run(Message(text));
  double elapsed = SecondsSince(start);
  EXPECT_GE(elapsed, 0.45);
  EXPECT_LT(elapsed, 1.5);
  EXPECT_EQ(r.finding, Finding::kUnchecked);
  EXPECT_EQ(r.skipped_reason, "timeout");
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_THAT(r.details[0], HasSubstr(": send: timed out after 0.5s"));
}

// A fake clamd that reads one INSTREAM and answers `reply` (or closes without a word).
class FakeClamd {
 public:
  explicit FakeClamd(std::string reply) {
    thread_ = std::thread([this, reply = std::move(reply)] {
      pollfd p{listener_.fd(), POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1) return;
      int fd = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      auto read_exactly = [fd](size_t n) {
        std::string data(n, '\0');
        size_t got = 0;
        while (got < n) {
          ssize_t r = ::recv(fd, data.data() + got, n - got, 0);
          if (r <= 0) return std::string();
          got += static_cast<size_t>(r);
        }
        return data;
      };
      command_ = read_exactly(10);
      for (;;) {
        std::string length = read_exactly(4);
        if (length.size() != 4) break;
        uint32_t n = (uint32_t{static_cast<unsigned char>(length[0])} << 24) |
                     (uint32_t{static_cast<unsigned char>(length[1])} << 16) |
                     (uint32_t{static_cast<unsigned char>(length[2])} << 8) |
                     uint32_t{static_cast<unsigned char>(length[3])};
        if (n == 0) break;
        received_ += read_exactly(n);
      }
      if (!reply.empty()) ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(fd);
    });
  }
  ~FakeClamd() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  const std::string& endpoint() const { return listener_.endpoint(); }
  // Valid after Join().
  const std::string& command() const { return command_; }
  const std::string& received() const { return received_; }

 private:
  SilentListener listener_;
  std::thread thread_;
  std::string command_;
  std::string received_;
};

TEST(VirusCheck, SendsTheMessageUnchangedAsInstreamChunks) {
  std::string text = PlainMessage(std::string(600 * 1024, 'b')) + "last line\n";  // 3 chunks
  FakeClamd fake(std::string("stream: OK\0", 11));
  CheckResult r = VirusCheck(VirusConfig(fake.endpoint())).Run(Message(text));
  fake.Join();
  EXPECT_TRUE(r.scanned);
  EXPECT_EQ(r.finding, Finding::kNothing);
  EXPECT_EQ(fake.command(), std::string("zINSTREAM\0", 10));
  EXPECT_TRUE(fake.received() == text);  // LF line ends, byte for byte
}

TEST(VirusCheck, ClamdErrorReplyIsUnchecked) {
  FakeClamd fake(std::string("stream: Can't allocate memory ERROR\0", 36));
  CheckResult r = VirusCheck(VirusConfig(fake.endpoint())).Run(Message(PlainMessage("x")));
  EXPECT_FALSE(r.scanned);
  EXPECT_EQ(r.finding, Finding::kUnchecked);
  EXPECT_EQ(r.subcategory, 0);
  EXPECT_EQ(r.skipped_reason, "error");
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_EQ(r.details[0],
            "clamd " + net::ParseEndpoint(fake.endpoint())->ToString() + ": Can't allocate memory");
}

TEST(VirusCheck, GarbledReplyIsUnchecked) {
  FakeClamd fake(std::string("stream: maybe\x01\0", 15));
  CheckResult r = VirusCheck(VirusConfig(fake.endpoint())).Run(Message(PlainMessage("x")));
  EXPECT_EQ(r.finding, Finding::kUnchecked);
  EXPECT_EQ(r.skipped_reason, "error");
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_THAT(r.details[0], HasSubstr(": unexpected reply \"stream: maybe?\""));
}

TEST(VirusCheck, ClosedWithoutReplyIsUnchecked) {
  FakeClamd fake("");
  CheckResult r = VirusCheck(VirusConfig(fake.endpoint())).Run(Message(PlainMessage("x")));
  EXPECT_EQ(r.finding, Finding::kUnchecked);
  EXPECT_EQ(r.skipped_reason, "error");
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_THAT(r.details[0], HasSubstr(": connection closed without a reply"));
}

TEST(VirusCheck, SeveralFoundLinesGiveEveryName) {
  FakeClamd fake(std::string("stream: A.One FOUND\nstream: B.Two FOUND\0", 40));
  CheckResult r = VirusCheck(VirusConfig(fake.endpoint())).Run(Message(PlainMessage("x")));
  EXPECT_TRUE(r.scanned);
  EXPECT_EQ(r.finding, Finding::kVirus);
  EXPECT_EQ(r.details, (std::vector<std::string>{"A.One", "B.Two"}));
}

}  // namespace
}  // namespace mailsift::scan
