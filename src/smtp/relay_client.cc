#include "smtp/relay_client.h"

#include <fmt/format.h>

#include <algorithm>

#include "log/log.h"
#include "net/connector.h"
#include "smtp/data_framer.h"

namespace mailsift::smtp {
namespace {
constexpr size_t kWriteChunk = 65536;

net::Deadline Earliest(net::Deadline a, config::Seconds from_now) {
  auto b = net::Clock::now() + std::chrono::duration_cast<net::Clock::duration>(from_now);
  return std::min(a, b);
}
}  // namespace

std::string_view Describe(RelayFailure failure) {
  switch (failure) {
    case RelayFailure::kNone:
      return "ok";
    case RelayFailure::kUnreachable:
      return "next hop not reachable";
    case RelayFailure::kTimeout:
      return "next hop timed out";
    case RelayFailure::kLost:
      return "lost connection with next hop";
    case RelayFailure::kProtocol:
      return "next hop protocol error";
    case RelayFailure::kLocal:
      return "local error";
    case RelayFailure::kClosedAtEnd:
      return "next hop closed the connection at end of data";
  }
  return "?";
}

RelayClient::RelayClient(asio::any_io_executor executor, const config::Relay& relay,
                         const config::Timeouts& timeouts, std::string helo_name)
    : executor_(std::move(executor)),
      relay_(relay),
      timeouts_(timeouts),
      helo_name_(std::move(helo_name)),
      lmtp_(relay.protocol == config::Protocol::kLmtp) {
  name_ = fmt::format("{}:{}", lmtp_ ? "lmtp" : "smtp", relay.next_hop.ToString());
}

RelayClient::~RelayClient() = default;

bool RelayClient::is_open() const { return stream_ && stream_->is_open(); }

RelayFailure RelayClient::FailureFrom(net::IoStatus status) const {
  switch (status) {
    case net::IoStatus::kOk:
      return RelayFailure::kNone;
    case net::IoStatus::kTimeout:
      return RelayFailure::kTimeout;
    case net::IoStatus::kTooLong:
      return RelayFailure::kProtocol;
    default:
      return RelayFailure::kLost;
  }
}

asio::awaitable<RelayFailure> RelayClient::ReadReply(Reply& reply) {
  RelayReplyReader reader;
  while (true) {
    std::string_view line;
    net::IoStatus status = co_await stream_->ReadLine(line, kMaxRelayReplyLine);
    if (status != net::IoStatus::kOk) co_return FailureFrom(status);
    switch (reader.AddLine(line, reply)) {
      case RelayReplyReader::Status::kComplete:
        co_return RelayFailure::kNone;
      case RelayReplyReader::Status::kMalformed:
        co_return RelayFailure::kProtocol;
      case RelayReplyReader::Status::kNeedMore:
        break;
    }
  }
}

asio::awaitable<RelayFailure> RelayClient::Exchange(std::string_view command, Reply& reply) {
  if (!command.empty()) {
    stream_->Write(command);
    stream_->Write("\r\n");
  }
  RelayFailure failure = co_await ReadReply(reply);
  if (failure != RelayFailure::kNone) stream_->Close();
  co_return failure;
}

asio::awaitable<RelayFailure> RelayClient::Open(net::Deadline deadline) {
  deadline = Earliest(deadline, timeouts_.relay_connect);
  // On this session's io_context thread: the connector resolves and connects without blocking
  // it (net/connector.h), bounded by the stream's deadline.
  stream_ = std::make_unique<net::Stream>(net::Socket(executor_));
  stream_->SetDeadline(deadline);
  if (auto error = co_await net::ConnectStream(*stream_, relay_.next_hop)) {
    stream_->Close();
    log::Debug("next hop {}: {}", name_, error->text);
    co_return error->kind == net::ConnectError::Kind::kTimeout ? RelayFailure::kTimeout
                                                               : RelayFailure::kUnreachable;
  }
  stream_->SetDeadline(Earliest(deadline, timeouts_.relay_reply));
  Reply greeting;
  if (RelayFailure failure = co_await Exchange({}, greeting); failure != RelayFailure::kNone) {
    co_return failure;
  }
  if (greeting.code != 220) {
    log::Warn("next hop {} greeted with: {}", name_, greeting.OneLine());
    stream_->Close();
    co_return RelayFailure::kUnreachable;
  }
  Reply ehlo;
  std::string hello = fmt::format("{} {}", lmtp_ ? "LHLO" : "EHLO", helo_name_);
  if (RelayFailure failure = co_await Exchange(hello, ehlo); failure != RelayFailure::kNone) {
    co_return failure;
  }
  if (ehlo.code != 250 && !lmtp_) {
    std::string helo = fmt::format("HELO {}", helo_name_);
    if (RelayFailure failure = co_await Exchange(helo, ehlo); failure != RelayFailure::kNone) {
      co_return failure;
    }
  }
  if (ehlo.code != 250) {
    log::Warn("next hop {} refused our greeting: {}", name_, ehlo.OneLine());
    stream_->Close();
    co_return RelayFailure::kUnreachable;
  }
  extensions_ = ParseExtensions(ehlo);
  co_return RelayFailure::kNone;
}

asio::awaitable<RelayReplies> RelayClient::SendCommands(const std::vector<std::string>& commands,
                                                        net::Deadline deadline) {
  RelayReplies result;
  if (!is_open()) {
    result.failure = RelayFailure::kLost;
    co_return result;
  }
  stream_->SetDeadline(Earliest(deadline, timeouts_.relay_reply));
  if (extensions_.pipelining) {
    for (const auto& command : commands) {
      stream_->Write(command);
      stream_->Write("\r\n");
    }
    for (size_t i = 0; i < commands.size(); ++i) {
      Reply reply;
      result.failure = co_await ReadReply(reply);
      if (result.failure != RelayFailure::kNone) break;
      result.replies.push_back(std::move(reply));
    }
  } else {
    for (const auto& command : commands) {
      stream_->Write(command);
      stream_->Write("\r\n");
      Reply reply;
      result.failure = co_await ReadReply(reply);
      if (result.failure != RelayFailure::kNone) break;
      result.replies.push_back(std::move(reply));
    }
  }
  if (result.failure != RelayFailure::kNone) stream_->Close();
  co_return result;
}

asio::awaitable<RelayReplies> RelayClient::SendMessage(std::string_view header,
                                                       const spool::Spool& content,
                                                       size_t lmtp_recipients,
                                                       net::Deadline deadline, size_t skip) {
  RelayReplies result;
  if (!is_open()) {
    result.failure = RelayFailure::kLost;
    co_return result;
  }
  stream_->SetDeadline(Earliest(deadline, timeouts_.relay_reply));
  stream_->Write("DATA\r\n");
  Reply data_reply;
  result.failure = co_await ReadReply(data_reply);
  if (result.failure != RelayFailure::kNone) {
    stream_->Close();
    co_return result;
  }
  if (data_reply.code != 354) {
    needs_reset = true;  // the envelope is still open at the next hop
    result.replies.push_back(std::move(data_reply));
    co_return result;
  }
  // The content: our header, then the message, every line re-stuffed (RFC 5321 §4.5.2).
  // The whole transfer runs under the message deadline; the end-of-data reply may take as
  // long as the deadline allows (RFC 5321 §4.5.3.2.6).
  stream_->SetDeadline(deadline);
  DotStuffer stuffer;
  std::string& out = stream_->output();
  stuffer.Stuff(header, out);
  spool::Spool::Reader reader(content);
  std::string buffer;
  while (true) {
    auto chunk = reader.Next(buffer);
    if (!chunk) {
      log::Error("{}", chunk.error().message);
      stream_->Close();
      result.failure = RelayFailure::kLocal;
      co_return result;
    }
    if (chunk->empty()) break;
    std::string_view data = *chunk;
    if (skip > 0) {
      const size_t n = std::min(skip, data.size());
      data.remove_prefix(n);
      skip -= n;
      if (data.empty()) continue;
    }
    stuffer.Stuff(data, out);
    if (out.size() >= kWriteChunk) {
      if (net::IoStatus status = co_await stream_->Flush(); status != net::IoStatus::kOk) {
        result.failure = FailureFrom(status);
        stream_->Close();
        co_return result;
      }
    }
  }
  if (!stuffer.at_line_start()) out.append("\r\n");
  out.append(".\r\n");
  size_t expected = lmtp_ ? std::max<size_t>(lmtp_recipients, 1) : 1;
  for (size_t i = 0; i < expected; ++i) {
    Reply reply;
    result.failure = co_await ReadReply(reply);
    if (result.failure == RelayFailure::kLost) {
      // EOF or RST while the end of data (or its flush) is pending. The next hop has not said
      // 250, so the caller tempfails at once: a next hop that loses its client before its
      // reply discards the message (Postfix's smtpd does, until it has read the final "."),
      // and one that had already queued it is the RFC 1047 window that every SMTP client
      // shares (Postfix's smtp(8) logs "message may be sent more than once" and defers too).
      result.failure = RelayFailure::kClosedAtEnd;
    }
    if (result.failure != RelayFailure::kNone) {
      stream_->Close();
      break;
    }
    result.replies.push_back(std::move(reply));
  }
  co_return result;
}

void RelayClient::Quit() {
  if (!is_open()) return;
  // Best effort, non-blocking: a full socket buffer just loses the QUIT.
  asio::error_code ignored;
  stream_->socket().non_blocking(true, ignored);
  stream_->socket().write_some(asio::buffer(std::string_view("QUIT\r\n")), ignored);
  stream_->Close();
}

void RelayClient::Abort() {
  if (stream_) stream_->Close();
}

RelayPool::~RelayPool() { CloseIdle(); }

void RelayPool::CloseIdle() {
  for (auto& client : idle_) client->Quit();
  idle_.clear();
}

std::unique_ptr<RelayClient> RelayPool::Take() {
  auto now = net::Clock::now();
  while (!idle_.empty()) {
    std::unique_ptr<RelayClient> client = std::move(idle_.back());
    idle_.pop_back();
    auto idle_for = std::chrono::duration<double>(now - client->idle_since);
    if (client->is_open() && idle_for < relay_.idle_connection_timeout) return client;
    client->Quit();
  }
  return nullptr;
}

void RelayPool::Give(std::unique_ptr<RelayClient> client) {
  if (!client || !client->is_open()) return;
  if (static_cast<int>(idle_.size()) >= relay_.max_idle_connections) {
    client->Quit();
    return;
  }
  client->idle_since = net::Clock::now();
  idle_.push_back(std::move(client));
}

}  // namespace mailsift::smtp
