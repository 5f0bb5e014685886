// The server session against a fake MessagePolicy and a fake next hop, both in this process:
// the session speaks SMTP and relays; what becomes of the message is the policy's answer.
#include "smtp/server_session.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "policy/message_policy.h"

namespace mailsift::smtp {
namespace {

using policy::Decision;
using policy::MessageFacts;
using policy::ReplyId;

// A listening socket on 127.0.0.1 and a port the kernel chose.
int Listen(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(fd, 4);
  socklen_t length = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  port = ntohs(addr.sin_port);
  return fd;
}

// Blocking line I/O with a 10 s limit on every read.
class Peer {
 public:
  explicit Peer(int fd) : fd_(fd) {
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~Peer() { ::close(fd_); }
  void Send(const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }
  // One line with its CRLF removed; "" at the end of the stream.
  std::string Line() {
    while (true) {
      size_t eol = buffer_.find("\r\n");
      if (eol != std::string::npos) {
        std::string line = buffer_.substr(0, eol);
        buffer_.erase(0, eol + 2);
        return line;
      }
      char chunk[4096];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) return {};
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }
  // One whole reply, its lines joined by "\n".
  std::string Reply() {
    std::string reply;
    while (true) {
      std::string line = Line();
      if (!reply.empty()) reply += '\n';
      reply += line;
      if (line.size() < 4 || line[3] != '-') return reply;
    }
  }

 private:
  int fd_;
  std::string buffer_;
};

// The next hop: one connection, every command accepted, the message kept.
class NextHop {
 public:
  NextHop() : listen_fd_(Listen(port_)), thread_([this] { Serve(); }) {}
  ~NextHop() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  // What the next hop received after DATA (dot-stuffing undone), once it has answered.
  std::string message() {
    for (int i = 0; i < 500 && !done_.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return message_;
  }
  bool saw_data() const { return saw_data_.load(); }

 private:
  void Serve() {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    Peer peer(fd);
    peer.Send("220 hop.test ESMTP\r\n");
    while (true) {
      std::string line = peer.Line();
      if (line.empty()) break;
      if (line.starts_with("DATA")) {
        saw_data_ = true;
        peer.Send("354 go ahead\r\n");
        std::string text;
        for (std::string l = peer.Line(); l != "."; l = peer.Line()) {
          text += (l.starts_with(".") ? l.substr(1) : l) + "\r\n";
        }
        message_ = text;
        done_ = true;
        peer.Send("250 2.0.0 Ok: queued as HOP123\r\n");
      } else if (line.starts_with("QUIT")) {
        peer.Send("221 2.0.0 Bye\r\n");
        break;
      } else {
        peer.Send("250 2.0.0 Ok\r\n");
      }
    }
  }

  uint16_t port_ = 0;
  int listen_fd_;
  std::atomic<bool> saw_data_{false};
  std::atomic<bool> done_{false};
  std::string message_;
  std::thread thread_;
};

// Answers every message with the decision it was given, and keeps what it was asked.
class FakePolicy : public policy::MessagePolicy {
 public:
  explicit FakePolicy(Decision decision) : decision_(std::move(decision)) {}
  asio::awaitable<Decision> Decide(const MessageFacts& facts, const spool::Spool& message,
                                   std::chrono::steady_clock::time_point) override {
    facts_.push_back(facts);
    std::string content;
    spool::Spool::Reader reader(message);
    std::string buffer;
    for (auto chunk = reader.Next(buffer); chunk && !chunk->empty(); chunk = reader.Next(buffer)) {
      content += *chunk;
    }
    contents_.push_back(std::move(content));
    co_return decision_;
  }
  std::vector<MessageFacts> facts_;
  std::vector<std::string> contents_;

 private:
  Decision decision_;
};

// One session on its own io_context thread, with a connected client.
class SessionTest : public ::testing::Test {
 protected:
  void Start(policy::MessagePolicy* policy, uint16_t next_hop_port) {
    config_ = config::DefaultConfig();
    config_.hostname = "filter.test";
    config_.spool.directory = ::testing::TempDir();
    config_.relay.next_hop.host = "127.0.0.1";
    config_.relay.next_hop.port = next_hop_port;
    listener_.name = "test";
    listener_.address.host = "127.0.0.1";
    listener_.address.port = 10024;
    // The client on a local socket: the session's end non-blocking, as accept4() gives it.
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    ::fcntl(fds[1], F_SETFL, ::fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    client_ = std::make_unique<Peer>(fds[0]);
    sockaddr_storage peer{};
    peer.ss_family = AF_UNIX;
    net::Socket socket(context_);
    ASSERT_TRUE(net::AdoptAccepted(socket, AF_UNIX, fds[1]));
    counters_.active = 1;  // as the acceptor counts it
    SessionEnvironment environment{&config_, &listener_, nullptr, &counters_,
                                   nullptr,  nullptr,    policy};
    asio::co_spawn(context_, RunSession(std::move(socket), environment, peer),
                   [this](std::exception_ptr) { ended_ = true; });
    thread_ = std::thread([this] { context_.run(); });
  }
  void TearDown() override {
    client_.reset();
    for (int i = 0; i < 500 && !ended_.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    context_.stop();
    if (thread_.joinable()) thread_.join();
  }
  // Sends `command` (CRLF added) and returns the reply.
  std::string Ask(const std::string& command) {
    client_->Send(command + "\r\n");
    return client_->Reply();
  }
  // EHLO, XFORWARD, MAIL, RCPT, DATA and a short message; returns the end-of-data reply.
  std::string SendMessage() {
    EXPECT_EQ(client_->Reply(), "220 filter.test ESMTP mailsift service ready");
    EXPECT_TRUE(Ask("EHLO client.test").starts_with("250-filter.test\n250-PIPELINING"));
    EXPECT_EQ(Ask("XFORWARD ADDR=IPv6:2001:db8::7"), "250 2.0.0 Ok");
    EXPECT_EQ(Ask("MAIL FROM:<a@example.org>"), "250 2.1.0 Sender <a@example.org> OK");
    EXPECT_EQ(Ask("RCPT TO:<b@example.net>"), "250 2.1.5 Recipient <b@example.net> OK");
    EXPECT_EQ(Ask("DATA"), "354 End data with <CR><LF>.<CR><LF>");
    return Ask("Subject: hi\r\n\r\n..body\r\n.");
  }

  config::Config config_;
  config::Listener listener_;
  SessionCounters counters_;
  asio::io_context context_;
  std::unique_ptr<Peer> client_;
  std::atomic<bool> ended_{false};
  std::thread thread_;
};

// A decision not to relay.
Decision Blocked(ReplyId reply, std::string detail, std::string log_verdict) {
  Decision decision;
  decision.relay = false;
  decision.reply = reply;
  decision.reply_detail = std::move(detail);
  decision.log_verdict = std::move(log_verdict);
  return decision;
}

TEST_F(SessionTest, ABlockedMessageGetsThePolicysReplyAndIsNotRelayed) {
  NextHop hop;
  FakePolicy policy(
      Blocked(ReplyId::kRejectContent, "ID - spam", "Blocked SPAM {RejectedInbound}"));
  Start(&policy, hop.port());
  EXPECT_EQ(SendMessage(), "554 5.7.0 Reject, id=ID - spam");
  EXPECT_EQ(Ask("QUIT"), "221 2.0.0 Bye");
  ASSERT_EQ(policy.facts_.size(), 1u);
  const MessageFacts& facts = policy.facts_[0];
  EXPECT_EQ(facts.envelope.mail_from, "a@example.org");
  EXPECT_EQ(facts.envelope.rcpt_to, std::vector<std::string>{"b@example.net"});
  EXPECT_EQ(facts.listener, "test");
  // The MTA's XFORWARD ADDR, without its "IPv6:" tag.
  EXPECT_EQ(facts.client_address, "2001:db8::7");
  EXPECT_EQ(facts.mail_id.size(), 12u);
  EXPECT_FALSE(facts.smtputf8);
  // The policy sees the content as received: CRLF lines, dot-stuffing undone.
  EXPECT_EQ(policy.contents_[0], "Subject: hi\r\n\r\n.body\r\n");
  EXPECT_FALSE(hop.saw_data());
  EXPECT_EQ(counters_.messages_rejected.load(), 1u);
  EXPECT_EQ(counters_.messages_relayed.load(), 0u);
}

TEST_F(SessionTest, ATempfailDecisionCountsAsTempfailed) {
  NextHop hop;
  FakePolicy policy(Blocked(ReplyId::kScanTimeout, "ID", "Blocked UNCHECKED {TempFailedInbound}"));
  Start(&policy, hop.port());
  EXPECT_EQ(SendMessage(), "451 4.5.0 id=ID - Error in processing: content scan timed out");
  EXPECT_FALSE(hop.saw_data());
  EXPECT_EQ(counters_.messages_tempfailed.load(), 1u);
  EXPECT_EQ(counters_.messages_rejected.load(), 0u);
}

TEST_F(SessionTest, ARelayedMessageCarriesThePolicysHeaderEdits) {
  NextHop hop;
  Decision pass;
  pass.added_headers = "X-Spam-Flag: NO\r\n";
  pass.header_section = "Subject: [SPAM] hi\r\n";
  pass.replaced_size = std::string("Subject: hi\r\n").size();
  FakePolicy policy(pass);
  Start(&policy, hop.port());
  EXPECT_EQ(SendMessage(), "250 2.0.0 from MTA(smtp:[127.0.0.1]:" + std::to_string(hop.port()) +
                               "): 250 2.0.0 Ok: queued as HOP123");
  EXPECT_EQ(Ask("QUIT"), "221 2.0.0 Bye");
  std::string relayed = hop.message();
  // Our fields, our Received: header, the rewritten header section, the rest unchanged.
  EXPECT_TRUE(relayed.starts_with("X-Spam-Flag: NO\r\nReceived: from client.test (local)\r\n"))
      << relayed;
  EXPECT_TRUE(relayed.ends_with(" +0000\r\nSubject: [SPAM] hi\r\n\r\n.body\r\n")) << relayed;
  EXPECT_EQ(relayed.find("Subject: hi"), std::string::npos) << relayed;
  EXPECT_EQ(counters_.messages_relayed.load(), 1u);
}

TEST_F(SessionTest, CommandsOutOfStateAreRefusedWithoutAskingThePolicy) {
  FakePolicy policy(Decision{});
  Start(&policy, 9);  // never reached
  EXPECT_EQ(client_->Reply(), "220 filter.test ESMTP mailsift service ready");
  EXPECT_EQ(Ask("MAIL FROM:<a@example.org>"), "503 5.5.1 Error: send HELO/EHLO first");
  EXPECT_EQ(Ask("HELO client.test"), "250 filter.test");
  EXPECT_EQ(Ask("RCPT TO:<b@example.net>"), "503 5.5.1 Error: need MAIL command");
  EXPECT_EQ(Ask("DATA"), "503 5.5.1 Error: need MAIL command");
  EXPECT_EQ(Ask("MAIL FROM:<a@example.org>"), "250 2.1.0 Sender <a@example.org> OK");
  EXPECT_EQ(Ask("MAIL FROM:<a@example.org>"), "503 5.5.1 Error: nested MAIL command");
  EXPECT_EQ(Ask("DATA"), "503 5.5.1 Error: need RCPT command");
  EXPECT_EQ(Ask("RSET"), "250 2.0.0 Ok");
  EXPECT_EQ(Ask("XFORWARD ADDR=192.0.2.1"), "250 2.0.0 Ok");
  EXPECT_EQ(Ask("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(policy.facts_.empty());
}

}  // namespace
}  // namespace mailsift::smtp
