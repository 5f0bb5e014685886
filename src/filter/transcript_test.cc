// Scripted SMTP dialogues (testdata/smtp/*.txt) against a real in-process Server, relaying to a
// real smtp-sink started by the test on 127.0.0.1.
//
// Transcript format, one item per line:
//   # comment                    ignored
//   @config <toml line>          config line added before the dialogue (first lines only);
//                                "@config [relay]"-style table headers are allowed
//   @sink <smtp-sink options>    extra options for the next hop (e.g. "-f ." to refuse data)
//   C: text                      the client sends text + CRLF
//   R: text                      the client sends text raw, with \r \n \0 \\ escapes, no CRLF
//   S: text                      the next reply line must match text ('*' matches any run)
//   X:                           the server must close the connection
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/test_socket.h"
#include "config/config.h"
#include "filter/server.h"

extern char** environ;

namespace mailsift::filter {
namespace {

using mailsift::testing::ReadLine;

namespace fs = std::filesystem;

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t length = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  ::close(fd);
  return ntohs(addr.sin_port);
}

int Connect(int port) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      timeval timeout{10, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      return fd;
    }
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

class SmtpSink {
 public:
  SmtpSink(int port, const std::string& extra) {
    std::vector<std::string> args = {"smtp-sink", "-u", "nobody"};
    std::istringstream words(extra);
    for (std::string w; words >> w;) args.push_back(w == "DOT" ? "." : w);
    args.push_back("127.0.0.1:" + std::to_string(port));
    args.push_back("100");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "smtp-sink", nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    int fd = Connect(port);
    if (fd >= 0) ::close(fd);
  }
  ~SmtpSink() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ok() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

// '*' matches any run of characters; everything else matches itself.
bool Glob(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern.front() == '*') {
    for (size_t skip = 0; skip <= text.size(); ++skip) {
      if (Glob(pattern.substr(1), text.substr(skip))) return true;
    }
    return false;
  }
  return !text.empty() && pattern.front() == text.front() &&
         Glob(pattern.substr(1), text.substr(1));
}

std::string Unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      char c = text[++i];
      if (c == 'x' && i + 2 < text.size()) {
        out.push_back(
            static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
        continue;
      }
      out.push_back(c == 'r' ? '\r' : c == 'n' ? '\n' : c == '0' ? '\0' : c);
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// Reads one line (up to LF) from fd; false on EOF/timeout.
void SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

class Transcript : public ::testing::TestWithParam<std::string> {};

TEST_P(Transcript, Matches) {
  std::ifstream in(GetParam());
  ASSERT_TRUE(in) << GetParam();
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);

  int sink_port = FreePort();
  int listen_port = FreePort();
  std::string config_text;
  std::string sink_options;
  std::string tables;
  for (const auto& line : lines) {
    if (line.starts_with("@config ")) tables += line.substr(8) + "\n";
    if (line.starts_with("@sink ")) sink_options = line.substr(6);
  }
  config_text =
      "[server]\nhostname = \"mailsift.test\"\nio_threads = 1\n"
      "[[listen]]\naddress = \"127.0.0.1:" +
      std::to_string(listen_port) + "\"\n";
  // Listener options first (they belong to [[listen]]), then the relay and the rest.
  std::string relay = "[relay]\nnext_hop = \"127.0.0.1:" + std::to_string(sink_port) + "\"\n";
  std::istringstream table_lines(tables);
  std::string listen_extra, relay_extra, other;
  std::string* current = &other;
  for (std::string l; std::getline(table_lines, l);) {
    if (l == "[listen]") {
      current = &listen_extra;
      continue;
    }
    if (l == "[relay]") {
      current = &relay_extra;
      continue;
    }
    if (l.starts_with("[")) current = &other;
    *current += l + "\n";
  }
  config_text += listen_extra + relay + relay_extra + "[spool]\ndirectory = \"/tmp\"\n" + other;
  auto config = config::ParseConfig(config_text, GetParam());
  ASSERT_TRUE(config) << config.error().items.front() << "\n" << config_text;

  SmtpSink sink(sink_port, sink_options);
  ASSERT_TRUE(sink.ok()) << "smtp-sink did not start";
  Server server(std::move(*config));
  ASSERT_TRUE(server.Listen());
  std::thread runner([&server] { server.Run(); });
  struct StopAtEnd {
    Server& server;
    std::thread& runner;
    ~StopAtEnd() {
      server.Drain(config::Seconds(2));
      runner.join();
    }
  } stop_at_end{server, runner};

  int fd = Connect(listen_port);
  ASSERT_GE(fd, 0);
  std::string buffer;
  int number = 0;
  for (const auto& line : lines) {
    ++number;
    if (line.starts_with("C: ")) {
      SendAll(fd, line.substr(3) + "\r\n");
    } else if (line.starts_with("R: ")) {
      SendAll(fd, Unescape(line.substr(3)));
    } else if (line.starts_with("S: ")) {
      std::string got;
      ASSERT_TRUE(ReadLine(fd, buffer, got))
          << GetParam() << ":" << number << ": connection closed, expected: " << line;
      std::string pattern = line.substr(3);
      EXPECT_TRUE(Glob(pattern, got))
          << GetParam() << ":" << number << "\n  expected: " << pattern << "\n  got:      " << got;
    } else if (line.starts_with("X:")) {
      std::string got;
      EXPECT_FALSE(ReadLine(fd, buffer, got))
          << GetParam() << ":" << number << ": expected close, got: " << got;
    }
  }
  ::close(fd);
}

std::vector<std::string> TranscriptFiles() {
  std::vector<std::string> files;
  for (const auto& entry :
       fs::directory_iterator(fs::path(MAILSIFT_SOURCE_DIR) / "testdata/smtp")) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

INSTANTIATE_TEST_SUITE_P(Golden, Transcript, ::testing::ValuesIn(TranscriptFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = fs::path(info.param).stem().string();
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace mailsift::filter
