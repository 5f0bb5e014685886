// scan/virus_check.cc — see virus_check.h.
//
// The clamd protocol (clamd(8), "COMMANDS"): a command prefixed with 'z' ends in a NUL and so
// does its reply. INSTREAM then reads chunks, each a 4-byte length in network byte order and
// that many bytes, until a chunk of length 0; a stream longer than clamd's StreamMaxLength is
// answered "INSTREAM size limit exceeded. ERROR" and the connection closed, possibly while we
// are still sending. Without IDSESSION clamd closes the connection after one reply.
#include "scan/virus_check.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "base/fd.h"
#include "base/strings.h"
#include "net/connector.h"

namespace mailsift::scan {
namespace {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

constexpr size_t kChunkSize = 256 * 1024;  // clamd takes any chunk up to StreamMaxLength
constexpr size_t kMaxIovecs = 256;         // per sendmsg (IOV_MAX is 1024 on Linux)
constexpr size_t kMaxReply = 64 * 1024;    // a reply names a few viruses; more is garbage
constexpr size_t kMaxQuoted = 200;         // of an unparsable reply, in the reason
constexpr std::string_view kInstream("zINSTREAM\0", 10);
constexpr std::string_view kPing("zPING\0", 6);

// What went wrong talking to clamd; `kind` is the skipped_reason word (virus_check.h).
struct Failure {
  std::string_view kind;  // "unavailable", "timeout", "error"
  std::string text;       // "connect: Connection refused"
};

using Expected = tl::expected<std::string, Failure>;

tl::unexpected<Failure> Trouble(std::string_view kind, std::string text) {
  return tl::unexpected<Failure>(Failure{kind, std::move(text)});
}

std::string ErrnoText(int error) { return std::generic_category().message(error); }

// Printable ASCII only, at most `limit` bytes: what clamd says goes into logs and headers.
std::string Printable(std::string_view text, size_t limit) {
  std::string out;
  for (char c : text.substr(0, limit)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (text.size() > limit) out += "...";
  return out;
}

enum class Wait { kReady, kTimeout, kError };

// Waits until `fd` is ready for `events` (or has an error or hang-up, which the next call on it
// reports) or `deadline` passes.
Wait WaitFor(int fd, short events, Deadline deadline) {
  for (;;) {
    Deadline now = Clock::now();
    if (now >= deadline) return Wait::kTimeout;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, INT_MAX)));
    if (n > 0) return Wait::kReady;
    if (n < 0 && errno != EINTR) return Wait::kError;
  }
}

// Writes every byte of `iov` (which it consumes) before `deadline`.
std::optional<Failure> SendAll(int fd, std::vector<iovec>& iov, Deadline deadline) {
  size_t next = 0;
  while (next < iov.size()) {
    if (iov[next].iov_len == 0) {
      ++next;
      continue;
    }
    msghdr message{};
    message.msg_iov = &iov[next];
    message.msg_iovlen = std::min(iov.size() - next, kMaxIovecs);
    ssize_t sent = ::sendmsg(fd, &message, MSG_NOSIGNAL);
    if (sent < 0) {
      int error = errno;
      if (error == EINTR) continue;
      if (error != EAGAIN && error != EWOULDBLOCK)
        return Failure{"error", "send: " + ErrnoText(error)};
      switch (WaitFor(fd, POLLOUT, deadline)) {
        case Wait::kReady:
          continue;
        case Wait::kTimeout:
          return Failure{"timeout", "send: timed out"};
        case Wait::kError:
          return Failure{"error", "send: poll: " + ErrnoText(errno)};
      }
    }
    auto left = static_cast<size_t>(sent);
    while (left > 0 && next < iov.size()) {
      if (left >= iov[next].iov_len) {
        left -= iov[next].iov_len;
        ++next;
      } else {
        iov[next].iov_base = static_cast<char*>(iov[next].iov_base) + left;
        iov[next].iov_len -= left;
        left = 0;
      }
    }
  }
  return std::nullopt;
}

// Reads one NUL-terminated reply (without its NUL), or what came before the connection closed.
Expected ReadReply(int fd, Deadline deadline) {
  std::string reply;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      reply.append(buffer, static_cast<size_t>(n));
      if (size_t end = reply.find('\0'); end != std::string::npos) {
        reply.resize(end);
        return reply;
      }
      if (reply.size() > kMaxReply) return Trouble("error", "reply too long");
      continue;
    }
    if (n == 0) return reply;
    int error = errno;
    if (error == EINTR) continue;
    if (error != EAGAIN && error != EWOULDBLOCK)
      return Trouble("error", "read: " + ErrnoText(error));
    switch (WaitFor(fd, POLLIN, deadline)) {
      case Wait::kReady:
        continue;
      case Wait::kTimeout:
        return Trouble("timeout", "no reply");
      case Wait::kError:
        return Trouble("error", "read: poll: " + ErrnoText(errno));
    }
  }
}

// One command (kInstream or kPing, with its NUL), with `payload` streamed as INSTREAM chunks
// when given; returns clamd's reply.
Expected Exchange(const net::Endpoint& endpoint, std::string_view command,
                  const std::string* payload, Deadline deadline) {
  // On the calling scan-pool thread: blocking is fine there (see net/connector.h).
  auto fd = net::ConnectBlocking(endpoint, deadline);
  if (!fd) return Trouble(net::KindWord(fd.error().kind), std::move(fd.error().text));

  std::vector<iovec> iov;
  std::vector<std::array<unsigned char, 4>> lengths;
  iov.push_back({const_cast<char*>(command.data()), command.size()});
  if (payload != nullptr) {
    size_t chunks = (payload->size() + kChunkSize - 1) / kChunkSize;
    lengths.resize(chunks + 1);  // the last stays 0: the end of the stream
    for (size_t i = 0; i < chunks; ++i) {
      size_t offset = i * kChunkSize;
      auto size = static_cast<uint32_t>(std::min(kChunkSize, payload->size() - offset));
      lengths[i] = {static_cast<unsigned char>(size >> 24), static_cast<unsigned char>(size >> 16),
                    static_cast<unsigned char>(size >> 8), static_cast<unsigned char>(size)};
      iov.push_back({lengths[i].data(), 4});
      iov.push_back({const_cast<char*>(payload->data()) + offset, size});
    }
    iov.push_back({lengths[chunks].data(), 4});
  }

  if (auto failure = SendAll(fd->get(), iov, deadline)) {
    if (failure->kind == "error") {
      // clamd may have answered and closed before taking everything ("INSTREAM size limit
      // exceeded"): its reply says more than our EPIPE.
      auto early = ReadReply(fd->get(), deadline);
      if (early && !early->empty()) return early;
    }
    return tl::unexpected<Failure>(std::move(*failure));
  }
  return ReadReply(fd->get(), deadline);
}

Deadline DeadlineAfter(config::Seconds timeout) {
  // Bounded so that no configured value overflows the clock's representation.
  timeout = std::clamp(timeout, config::Seconds(0), config::Seconds(86400));
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
}

// clamd's INSTREAM reply, one item per line (a reply is one line; tolerate several).
struct Reply {
  bool ok = false;
  std::vector<std::string> found;
  std::vector<std::string> errors;
  std::vector<std::string> unknown;
};

Reply ParseReply(std::string_view text) {
  Reply reply;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find_first_of(std::string_view("\n\0", 2), start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = TrimSpaces(text.substr(start, end - start));
    start = end + 1;
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    std::string_view item = line;
    if (item.starts_with("stream:")) item = TrimSpaces(item.substr(7));
    if (item == "OK") {
      reply.ok = true;
    } else if (item.ends_with(" FOUND") && item.size() > 6) {
      std::string name = Printable(TrimSpaces(item.substr(0, item.size() - 6)), kMaxQuoted);
      if (std::find(reply.found.begin(), reply.found.end(), name) == reply.found.end()) {
        reply.found.push_back(std::move(name));
      }
    } else if (item.ends_with("ERROR")) {
      std::string_view what = TrimSpaces(item.substr(0, item.size() - 5));
      while (!what.empty() && what.back() == '.') what.remove_suffix(1);
      reply.errors.push_back(Printable(what.empty() ? line : what, kMaxQuoted));
    } else {
      reply.unknown.push_back(Printable(line, kMaxQuoted));
    }
  }
  return reply;
}

void Unchecked(CheckResult& result, std::string_view kind, int subcategory, std::string reason,
               bool clamd_failed) {
  result.scanned = false;
  result.check_failed = clamd_failed;
  result.finding = Finding::kUnchecked;
  result.skipped_reason = std::string(kind);
  result.subcategory = subcategory;
  result.details = {std::move(reason)};
}

}  // namespace

VirusCheck::VirusCheck(config::Virus config)
    : config_(std::move(config)), endpoint_text_(config_.clamd_address.ToString()) {}

CheckResult VirusCheck::Run(const MessageInput& message) const {
  CheckResult result;
  result.check = "virus";
  result.kind = CheckKind::kVirus;
  static const std::string kEmpty;
  const std::string& raw = message.raw ? *message.raw : kEmpty;
  if (raw.size() > config_.max_stream_size) {
    Unchecked(result, "size", 2,
              fmt::format("message of {} bytes is over virus.max_stream_size ({} bytes)",
                          raw.size(), config_.max_stream_size),
              false);
    return result;
  }
  std::string prefix = fmt::format("clamd {}: ", endpoint_text_);
  auto text = Exchange(config_.clamd_address, kInstream, &raw, DeadlineAfter(config_.timeout));
  if (!text) {
    const Failure& failure = text.error();
    std::string reason = prefix + failure.text;
    if (failure.kind == "timeout") reason += fmt::format(" after {:g}s", config_.timeout.count());
    Unchecked(result, failure.kind, 0, std::move(reason), true);
    return result;
  }
  Reply reply = ParseReply(*text);
  if (!reply.found.empty()) {
    result.scanned = true;
    result.finding = Finding::kVirus;
    result.details = std::move(reply.found);
    return result;
  }
  if (!reply.errors.empty()) {
    const std::string& error = reply.errors.front();
    bool over_limits = ToLowerAscii(error).find("size limit exceeded") != std::string::npos;
    Unchecked(result, over_limits ? "size" : "error", over_limits ? 2 : 0, prefix + error,
              !over_limits);
    return result;
  }
  if (reply.ok && reply.unknown.empty()) {
    result.scanned = true;
    return result;
  }
  Unchecked(result, "error", 0,
            text->empty()
                ? prefix + "connection closed without a reply"
                : prefix + fmt::format("unexpected reply \"{}\"", Printable(*text, kMaxQuoted)),
            true);
  return result;
}

Status VirusCheck::Ping(std::chrono::steady_clock::time_point deadline) const {
  std::string prefix = fmt::format("clamd {}: ", endpoint_text_);
  auto text = Exchange(config_.clamd_address, kPing, nullptr, deadline);
  if (!text) return Fail(prefix + text.error().text);
  if (TrimSpaces(*text) != "PONG") {
    return Fail(prefix +
                fmt::format("unexpected reply to PING \"{}\"", Printable(*text, kMaxQuoted)));
  }
  return {};
}

}  // namespace mailsift::scan
