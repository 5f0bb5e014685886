#include "smtp/server_session.h"

#include "scan/pipeline.h"
#include "scan/verdict.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "base/strings.h"
#include "log/log.h"
#include "net/endpoint.h"
#include "smtp/command.h"
#include "smtp/data_framer.h"
#include "smtp/header_meter.h"
#include "smtp/reply_table.h"
#include "smtp/trace.h"
#include "quarantine/quarantine.h"
#include "spool/spool.h"

namespace mailsift::smtp {
namespace {

using config::Protocol;
using config::RelayMode;
using Clock = net::Clock;

// How long a draining generation waits for the next command of a session between transactions.
constexpr config::Seconds kDrainIdleGrace{1};

net::Deadline After(config::Seconds seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(seconds);
}

// The time left to receive message content (DATA, or one BDAT chunk), as Postfix's smtpd with
// smtpd_per_request_deadline and smtpd_min_data_rate: it starts at timeouts.data; each read
// uses up the time it waited and earns bytes / min_data_rate seconds, never more than
// timeouts.data in all. With no rate, timeouts.data applies per read.
class ContentClock {
 public:
  ContentClock(config::Seconds limit, uint64_t min_rate)
      : limit_(limit), left_(limit), min_rate_(min_rate) {}
  // The deadline for the next read.
  net::Deadline Next() {
    waited_from_ = Clock::now();
    return waited_from_ + std::chrono::duration_cast<Clock::duration>(left_);
  }
  // After a read of `bytes`.
  void Received(size_t bytes) {
    if (min_rate_ == 0) {
      left_ = limit_;
      return;
    }
    config::Seconds waited = Clock::now() - waited_from_;
    left_ = std::min(limit_, left_ - waited +
                                 config::Seconds(static_cast<double>(bytes) / min_rate_));
  }
  // A read that timed out ran out of what the rate earned, not of a plain timeouts.data wait.
  bool too_slow() const { return min_rate_ > 0 && left_ < limit_; }

 private:
  config::Seconds limit_;
  config::Seconds left_;
  uint64_t min_rate_;
  Clock::time_point waited_from_;
};

bool HasNonAscii(std::string_view text) {
  for (unsigned char c : text) {
    if (c >= 0x80) return true;
  }
  return false;
}

struct Recipient {
  PathArgument rcpt;
  bool accepted = false;  // by us and the next hop
};

class Session {
 public:
  Session(net::Socket socket, SessionEnvironment environment, const sockaddr_storage& peer)
      : env_(environment),
        config_(*environment.config),
        stream_(std::move(socket)),
        lmtp_(environment.listener->protocol == Protocol::kLmtp),
        peer_(peer),
        spool_(config_.spool.directory, config_.spool.memory_limit) {}

  asio::awaitable<void> Run();

 private:
  enum class Next { kContinue, kClose };

  // Replies.
  void Say(ReplyId id, std::string_view detail = {}) { stream_.Write(FormatReply(id, detail)); }
  Next Error(ReplyId id, std::string_view detail = {});

  asio::awaitable<Next> Dispatch(std::string_view line);
  Next OnHelo(const Command& command);
  Next OnMail(const Command& command);
  asio::awaitable<Next> OnRcpt(const Command& command);
  asio::awaitable<Next> OnData(const Command& command);
  asio::awaitable<Next> OnBdat(const Command& command);
  Next OnXforward(const Command& command);
  void OnRset();

  // Relay.
  asio::awaitable<RelayFailure> AcquireRelay(net::Deadline deadline);
  void ReleaseRelay();
  std::string DownstreamMail() const;
  std::string DownstreamRcpt(const PathArgument& rcpt) const;
  XforwardAttributes ForwardedAttributes() const;

  // End of message: checks, relay, replies, log line.
  asio::awaitable<Next> FinishMessage(bool bare_newline);
  void ReplyRelayFailure(RelayFailure failure, size_t count);
  void LogTransaction(std::string_view verdict, std::string_view queued_as, size_t size,
                      std::string_view hits = "-");
  // The spooled message with LF line ends, for the checks; null when the spool cannot be read.
  std::shared_ptr<const std::string> ReadMessageForScan();
  // Keeps the message in the quarantine when its category is quarantined (sets
  // quarantine_file_); false when it should be and cannot be.
  bool Quarantine(const scan::Verdict& verdict, const config::Config& policy);
  // The original client's address: XFORWARD's ADDR when the MTA sent it, else the peer's.
  std::string ClientAddress() const;
  // Drops the next hop's open transaction (and its connection).
  void AbandonRelay();
  void ResetTransaction();

  // Data intake shared by DATA and BDAT.
  void Take(std::string_view canonical);
  // Reads more message content under `clock`; kOk or the reason (the reply already said).
  asio::awaitable<net::IoStatus> FillContent(ContentClock& clock, std::string_view what);

  SessionEnvironment env_;
  const config::Config& config_;
  net::Stream stream_;
  bool lmtp_;
  sockaddr_storage peer_{};
  std::string peer_addr_;
  uint16_t peer_port_ = 0;
  std::string listener_label_;

  bool Draining() const {
    return env_.draining && env_.draining->load(std::memory_order_relaxed);
  }

  // Session state.
  bool waiting_for_command_ = false;
  bool greeted_ = false;  // HELO/EHLO/LHLO seen
  bool esmtp_ = false;
  std::string helo_;
  int errors_ = 0;
  XforwardAttributes xforward_;

  // Transaction state.
  std::optional<PathArgument> mail_;
  std::vector<Recipient> recipients_;
  size_t accepted_ = 0;
  std::string mail_id_;
  bool using_bdat_ = false;
  std::unique_ptr<DataFramer> bdat_framer_;
  uint64_t bdat_received_ = 0;  // BDAT chunk bytes of this transaction, as sent
  spool::Spool spool_;
  std::string chunk_;
  std::optional<HeaderMeter> header_meter_;
  bool too_big_ = false;
  bool header_too_big_ = false;
  bool spool_failed_ = false;
  Clock::time_point started_;
  std::string quarantine_file_;  // where this message was quarantined ("" = not)
  std::string policy_bank_;      // the bank that selected this message ("" = none)

  // The next hop.
  std::unique_ptr<RelayClient> relay_;
  bool relay_in_transaction_ = false;  // the next hop accepted our MAIL
  bool relay_broken_ = false;          // lost within this transaction
  bool relay_from_pool_ = false;       // relay_ was idle in the pool (the peer may have left)
};

Session::Next Session::Error(ReplyId id, std::string_view detail) {
  Say(id, detail);
  if (++errors_ >= config_.limits.max_errors) {
    Say(ReplyId::kTooManyErrors);
    return Next::kClose;
  }
  return Next::kContinue;
}

asio::awaitable<void> Session::Run() {
  SessionCounters& counters = *env_.counters;
  counters.sessions.fetch_add(1, std::memory_order_relaxed);
  // The acceptor counted this session in `active` already; it ends here.
  int active = counters.active.load(std::memory_order_relaxed);
  struct ActiveGuard {
    SessionCounters& counters;
    ~ActiveGuard() { counters.active.fetch_sub(1, std::memory_order_relaxed); }
  } guard{counters};

  peer_addr_ = net::AddressText(peer_);
  peer_port_ = net::AddressPort(peer_);
  const auto& address = env_.listener->address;
  listener_label_ = address.kind == net::Endpoint::Kind::kUnix
                        ? std::string("unix socket")
                        : fmt::format("port {}", address.port);
  stream_.SetDeadline(After(config_.timeouts.command));

  if (!net::AnyNetworkContains(config_.client_networks, peer_)) {
    log::Warn("refused connection from [{}]: not in access.client_networks", peer_addr_);
    Say(ReplyId::kAccessDenied);
    co_await stream_.Flush();
    stream_.Close();
    co_return;
  }
  if (active > config_.limits.max_sessions) {
    log::Warn("refused connection from [{}]: {} sessions (limits.max_sessions)", peer_addr_,
              active - 1);
    Say(ReplyId::kServiceBusy);
    co_await stream_.Flush();
    stream_.Close();
    co_return;
  }
  Say(lmtp_ ? ReplyId::kGreetingLmtp : ReplyId::kGreeting, config_.hostname);
  // A drain gives a session that waits for a command outside a transaction a short grace:
  // a command that arrives in it is served (or answered 421 if it only probes); silence ends
  // the session with 421 4.3.2 (reload-prior-art §6.5).
  uint64_t registration = 0;
  if (env_.registry) {
    registration = env_.registry->Add([this] {
      if (waiting_for_command_ && !mail_) stream_.SetDeadline(After(kDrainIdleGrace));
    });
  }
  struct Unregister {
    SessionRegistry* registry;
    uint64_t id;
    ~Unregister() {
      if (registry) registry->Remove(id);
    }
  } unregister{env_.registry, registration};

  while (true) {
    bool idle_in_drain = Draining() && !mail_;
    stream_.SetDeadline(After(idle_in_drain ? kDrainIdleGrace : config_.timeouts.command));
    std::string_view line;
    waiting_for_command_ = true;
    // The wait for a command may take `command`; once its line has begun, the rest must
    // follow within `command_line` (a trickling client is cut off, not served 300 s a line).
    net::IoStatus status = net::IoStatus::kOk;
    if (!stream_.HasBufferedInput()) status = co_await stream_.Fill();
    bool line_cut = false;
    if (status == net::IoStatus::kOk) {
      const net::Deadline line_deadline =
          std::min(stream_.deadline(), After(config_.timeouts.command_line));
      line_cut = line_deadline < stream_.deadline();
      stream_.SetDeadline(line_deadline);
      status =
          co_await stream_.ReadLine(line, static_cast<size_t>(config_.limits.max_command_line));
    }
    waiting_for_command_ = false;
    if (status == net::IoStatus::kTimeout && Draining() && !mail_) {
      stream_.SetDeadline(After(config::Seconds(5)));
      Say(ReplyId::kShuttingDown);  // idle through the drain grace
      break;
    }
    if (status == net::IoStatus::kTimeout && line_cut) {
      log::Warn("command line from [{}] not complete within {} s (timeouts.command_line)",
                peer_addr_, config_.timeouts.command_line.count());
      env_.counters->slow_clients.fetch_add(1, std::memory_order_relaxed);
      stream_.SetDeadline(After(config::Seconds(5)));
      Say(ReplyId::kCommandLineTimeout);
      break;
    }
    if (status == net::IoStatus::kTimeout) {
      log::Warn("timeout after {} from [{}]", mail_ ? "MAIL" : "command", peer_addr_);
      stream_.SetDeadline(After(config::Seconds(5)));
      Say(ReplyId::kCommandTimeout);
      break;
    }
    if (status == net::IoStatus::kEof || status == net::IoStatus::kError) break;
    if (status == net::IoStatus::kTooLong) {
      if (Error(ReplyId::kLineTooLong) == Next::kClose) break;
      continue;
    }
    if (co_await Dispatch(line) == Next::kClose) break;
  }
  // Leaving: relay connection back to the pool (or closed), pending replies out.
  if (mail_) ResetTransaction();
  ReleaseRelay();
  if (relay_) {
    relay_->Quit();
    relay_.reset();
  }
  stream_.SetDeadline(After(config::Seconds(5)));
  co_await stream_.Flush();
  stream_.Close();
}

asio::awaitable<Session::Next> Session::Dispatch(std::string_view line) {
  if (!IsCleanCommandLine(line)) co_return Error(ReplyId::kBadCharacters);
  Command command = SplitCommand(line);
  if (Draining() && !mail_ && (command.verb == Verb::kRset || command.verb == Verb::kNoop)) {
    // Between transactions in a draining generation, a probe of an idle connection is told to
    // go: Postfix then opens a fresh connection (to the new generation) without deferring.
    Say(ReplyId::kShuttingDown);
    co_return Next::kClose;
  }
  switch (command.verb) {
    case Verb::kHelo:
    case Verb::kEhlo:
    case Verb::kLhlo:
      co_return OnHelo(command);
    case Verb::kMail:
      co_return OnMail(command);
    case Verb::kRcpt:
      co_return co_await OnRcpt(command);
    case Verb::kData:
      co_return co_await OnData(command);
    case Verb::kBdat:
      co_return co_await OnBdat(command);
    case Verb::kRset:
      if (!command.argument.empty()) co_return Error(ReplyId::kSyntaxNoArguments, "RSET");
      OnRset();
      Say(ReplyId::kOk);
      co_return Next::kContinue;
    case Verb::kNoop:
      Say(ReplyId::kOk);
      co_return Next::kContinue;
    case Verb::kQuit:
      Say(ReplyId::kBye);
      co_return Next::kClose;
    case Verb::kVrfy:
      if (command.argument.empty()) co_return Error(ReplyId::kSyntaxRcpt);
      Say(ReplyId::kVrfyCannot);
      co_return Next::kContinue;
    case Verb::kHelp:
      Say(ReplyId::kHelp);
      co_return Next::kContinue;
    case Verb::kXforward:
      co_return OnXforward(command);
    case Verb::kExpn:
    case Verb::kStarttls:
    case Verb::kAuth:
    case Verb::kEtrn:
    case Verb::kTurn:
      co_return Error(ReplyId::kNotImplemented);
    case Verb::kUnknown:
      break;
  }
  co_return Error(ReplyId::kUnknownCommand);
}

Session::Next Session::OnHelo(const Command& command) {
  const char* verb = command.verb == Verb::kHelo   ? "HELO"
                     : command.verb == Verb::kEhlo ? "EHLO"
                                                   : "LHLO";
  if (lmtp_ && command.verb != Verb::kLhlo) return Error(ReplyId::kUseLhlo);
  if (!lmtp_ && command.verb == Verb::kLhlo) return Error(ReplyId::kUseEhlo);
  if (command.argument.empty() || SplitSpaces(command.argument).size() != 1 ||
      command.argument.size() > 255) {
    return Error(ReplyId::kSyntaxHelo, verb);
  }
  // RFC 5321 §4.1.4: a HELO/EHLO resets any transaction in progress.
  if (mail_) ResetTransaction();
  greeted_ = true;
  helo_ = std::string(command.argument);
  esmtp_ = command.verb != Verb::kHelo;
  if (!esmtp_) {
    stream_.Write(fmt::format("250 {}\r\n", config_.hostname));
    return Next::kContinue;
  }
  stream_.Write(fmt::format(
      "250-{}\r\n"
      "250-PIPELINING\r\n"
      "250-SIZE {}\r\n"
      "250-VRFY\r\n"
      "250-ENHANCEDSTATUSCODES\r\n"
      "250-8BITMIME\r\n"
      "250-SMTPUTF8\r\n"
      "250-DSN\r\n"
      "250-CHUNKING\r\n"
      "250 XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE\r\n",
      config_.hostname, config_.limits.max_message_size));
  return Next::kContinue;
}

Session::Next Session::OnXforward(const Command& command) {
  if (!greeted_) return Error(ReplyId::kNeedHelo);
  if (mail_) return Error(ReplyId::kXforwardInTransaction);
  CommandError error;
  if (!ParseXforward(command.argument, xforward_, error)) return Error(error.reply, error.detail);
  Say(ReplyId::kXforwardOk);
  return Next::kContinue;
}

Session::Next Session::OnMail(const Command& command) {
  if (!greeted_) return Error(ReplyId::kNeedHelo);
  if (mail_) return Error(ReplyId::kNestedMail);
  CommandError error;
  auto mail = ParseMailArgument(command.argument, error);
  if (!mail) return Error(error.reply, error.detail);
  if (HasNonAscii(mail->address) && !mail->Find("SMTPUTF8")) {
    return Error(ReplyId::kSmtputf8Required);
  }
  if (const Parameter* size = mail->Find("SIZE")) {
    // RFC 1870 §6.2: refuse a declared oversize before any data is sent.
    if (*ParseUnsigned(size->value) > config_.limits.max_message_size) {
      return Error(ReplyId::kDeclaredSizeTooBig);
    }
  }
  mail_ = std::move(*mail);
  mail_id_ = NewMailId();
  started_ = Clock::now();
  Say(ReplyId::kSenderOk, mail_->address);
  return Next::kContinue;
}

void AppendParameter(std::string& command, const Parameter& p) {
  command += ' ';
  command += p.keyword;
  if (p.has_value) command += "=" + p.value;
}

std::string Session::DownstreamMail() const {
  const Extensions& ext = relay_->extensions();
  std::string command = fmt::format("MAIL FROM:<{}>", mail_->address);
  for (const auto& p : mail_->parameters) {
    bool pass = (p.keyword == "SIZE" && ext.size) ||
                (p.keyword == "BODY" && ext.eight_bit_mime) ||
                (p.keyword == "SMTPUTF8" && ext.smtputf8) ||
                ((p.keyword == "RET" || p.keyword == "ENVID") && ext.dsn);
    if (pass) AppendParameter(command, p);
  }
  return command;
}

std::string Session::DownstreamRcpt(const PathArgument& rcpt) const {
  std::string command = fmt::format("RCPT TO:<{}>", rcpt.address);
  // RFC 3461 §5.2.1: DSN parameters (the only ones RCPT takes) are relayed unchanged.
  if (relay_->extensions().dsn) {
    for (const auto& p : rcpt.parameters) AppendParameter(command, p);
  }
  return command;
}

XforwardAttributes Session::ForwardedAttributes() const {
  // Attributes the client forwarded win; otherwise we describe our own client.
  XforwardAttributes attributes = xforward_;
  if (!attributes.addr && !peer_addr_.empty()) {
    attributes.addr = peer_addr_;
    attributes.port = std::to_string(peer_port_);
  }
  if (!attributes.name && !peer_addr_.empty()) attributes.name = "[UNAVAILABLE]";
  if (!attributes.helo && !helo_.empty()) attributes.helo = helo_;
  if (!attributes.proto) attributes.proto = lmtp_ ? "LMTP" : esmtp_ ? "ESMTP" : "SMTP";
  return attributes;
}

asio::awaitable<RelayFailure> Session::AcquireRelay(net::Deadline deadline) {
  if (relay_ && relay_->is_open()) co_return RelayFailure::kNone;
  relay_.reset();
  relay_from_pool_ = false;
  if (config_.relay.mode == RelayMode::kAfterQueue && env_.relay_pool) {
    relay_ = env_.relay_pool->Take();
    relay_from_pool_ = relay_ != nullptr;
    if (relay_) co_return RelayFailure::kNone;
  }
  relay_ = std::make_unique<RelayClient>(stream_.socket().get_executor(), config_.relay,
                                         config_.timeouts, config_.hostname);
  RelayFailure failure = co_await relay_->Open(deadline);
  if (failure != RelayFailure::kNone) {
    // The id the 451 gives the client (id=…), so that a tempfail can be found in the log.
    log::Warn("relay to {} failed: {}: tempfailed, mail_id: {}", relay_->name(),
              Describe(failure), mail_id_);
    relay_.reset();
  }
  co_return failure;
}

void Session::ReleaseRelay() {
  if (!relay_) return;
  if (relay_in_transaction_) relay_->needs_reset = true;
  relay_in_transaction_ = false;
  if (config_.relay.mode == RelayMode::kAfterQueue && env_.relay_pool) {
    env_.relay_pool->Give(std::move(relay_));
  }
}

asio::awaitable<Session::Next> Session::OnRcpt(const Command& command) {
  if (!mail_) co_return Error(ReplyId::kNeedMail);
  if (using_bdat_) co_return Error(ReplyId::kMixedBdatData);
  CommandError error;
  auto rcpt = ParseRcptArgument(command.argument, error);
  if (!rcpt) co_return Error(error.reply, error.detail);
  if (HasNonAscii(rcpt->address) && !mail_->Find("SMTPUTF8")) {
    co_return Error(ReplyId::kSmtputf8Required);
  }
  if (recipients_.size() >= static_cast<size_t>(config_.limits.max_recipients)) {
    Say(ReplyId::kTooManyRecipients);
    co_return Next::kContinue;
  }
  Recipient recipient{std::move(*rcpt), false};

  // Mirror the envelope to the next hop: MAIL goes with the first RCPT (as Postfix's
  // smtpd_delay_reject does, a refused sender shows at RCPT), pipelined when offered.
  net::Deadline deadline = After(config_.timeouts.relay_reply);
  RelayReplies result;
  size_t rcpt_index = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (relay_broken_) {
      result.failure = RelayFailure::kLost;
      break;
    }
    RelayFailure failure = co_await AcquireRelay(deadline);
    if (failure != RelayFailure::kNone) {
      result.failure = failure;
      break;
    }
    std::vector<std::string> commands;
    if (!relay_in_transaction_) {
      if (relay_->needs_reset) commands.push_back("RSET");
      if (config_.relay.xforward && !relay_->extensions().xforward.empty()) {
        for (auto& x : FormatXforward(ForwardedAttributes(), relay_->extensions().xforward)) {
          commands.push_back(std::move(x));
        }
      }
      commands.push_back(DownstreamMail());
    }
    rcpt_index = commands.size();
    commands.push_back(DownstreamRcpt(recipient.rcpt));
    result = co_await relay_->SendCommands(commands, deadline);
    relay_->needs_reset = false;
    // A pooled connection the next hop closed while idle fails on first use: retry once on a
    // new connection, which is safe because nothing of this transaction reached it yet.
    if (result.failure == RelayFailure::kLost && result.replies.empty() &&
        !relay_in_transaction_ && attempt == 0 && relay_from_pool_) {
      relay_.reset();
      continue;
    }
    break;
  }

  if (result.failure != RelayFailure::kNone && result.replies.size() <= rcpt_index) {
    if (relay_in_transaction_) relay_broken_ = true;
    if (relay_) relay_->Abort();
    relay_.reset();
    relay_in_transaction_ = false;
    ReplyRelayFailure(result.failure, 1);
    recipients_.push_back(std::move(recipient));
    co_return Next::kContinue;
  }
  // The MAIL reply (if we sent MAIL) decides first.
  if (!relay_in_transaction_) {
    const smtp::Reply& mail_reply = result.replies[rcpt_index - 1];
    if (mail_reply.Class() != 2) {
      stream_.Write(mail_reply.WireWithEnhanced(mail_reply.Class() == 4 ? "4.0.0" : "5.0.0"));
      recipients_.push_back(std::move(recipient));
      co_return Next::kContinue;
    }
    relay_in_transaction_ = true;
    for (size_t i = 0; i + 1 < rcpt_index; ++i) {
      if (result.replies[i].Class() != 2) {
        log::Warn("next hop {} refused XFORWARD or RSET: {}", relay_->name(),
                  result.replies[i].OneLine());
      }
    }
  }
  const smtp::Reply& rcpt_reply = result.replies[rcpt_index];
  if (rcpt_reply.Class() == 2) {
    recipient.accepted = true;
    ++accepted_;
    Say(ReplyId::kRecipientOk, recipient.rcpt.address);
  } else {
    stream_.Write(rcpt_reply.WireWithEnhanced(rcpt_reply.Class() == 4 ? "4.0.0" : "5.0.0"));
  }
  recipients_.push_back(std::move(recipient));
  co_return Next::kContinue;
}

void Session::Take(std::string_view canonical) {
  if (too_big_ || spool_failed_ || header_too_big_) return;
  if (header_meter_ && !header_meter_->done()) {
    header_meter_->Feed(canonical);
    if (header_meter_->exceeded()) {
      // Nothing more of this message is kept: it is refused at the end of data (552 5.3.4),
      // read to its end meanwhile, and never scanned, so a 20 MB header line costs no more
      // memory than any other 20 MB message. Postfix's cleanup(8) would keep the message and
      // cut the field at header_size_limit; a Postfix in front of us has done that already
      // (max_header_size admits all it can queue), so a larger field comes from a client
      // that no Postfix has seen. Cutting it here would hand the next hop a message changed
      // in its header; keeping it whole would leave it UNCHECKED, which tempfails by default
      // for days. A clear permanent refusal at SMTP time is the honest answer.
      header_too_big_ = true;
      spool_.Clear();
      return;
    }
  }
  if (spool_.size() + canonical.size() > config_.limits.max_message_size) {
    too_big_ = true;  // keep reading to the end, relay nothing (RFC 1870 §6.3)
    return;
  }
  if (auto status = spool_.Append(canonical); !status) {
    log::Error("{}", status.error().message);
    spool_failed_ = true;
  }
}

asio::awaitable<net::IoStatus> Session::FillContent(ContentClock& clock, std::string_view what) {
  stream_.SetDeadline(clock.Next());
  net::IoStatus status = co_await stream_.Fill();
  if (status == net::IoStatus::kOk) {
    clock.Received(stream_.Buffered().size());
    co_return status;
  }
  if (status == net::IoStatus::kTimeout && clock.too_slow()) {
    log::Warn("message data from [{}] during {} slower than {} bytes/s "
              "(limits.min_data_rate): nothing relayed, mail_id: {}",
              peer_addr_, what, config_.limits.min_data_rate, mail_id_);
    env_.counters->slow_clients.fetch_add(1, std::memory_order_relaxed);
    stream_.SetDeadline(After(config::Seconds(5)));
    Say(ReplyId::kDataTooSlow);
  } else {
    log::Warn("{} from [{}] during {}: nothing relayed, mail_id: {}",
              status == net::IoStatus::kTimeout ? "timeout" : "lost connection", peer_addr_,
              what, mail_id_);
    if (status == net::IoStatus::kTimeout) {
      stream_.SetDeadline(After(config::Seconds(5)));
      Say(ReplyId::kCommandTimeout);
    }
  }
  co_return status;
}

asio::awaitable<Session::Next> Session::OnData(const Command& command) {
  if (!command.argument.empty()) co_return Error(ReplyId::kSyntaxNoArguments, "DATA");
  if (!mail_) co_return Error(ReplyId::kNeedMail);
  if (using_bdat_) co_return Error(ReplyId::kMixedBdatData);
  if (recipients_.empty()) co_return Error(ReplyId::kNeedRcpt);
  if (accepted_ == 0) co_return Error(ReplyId::kNoValidRecipients);
  if (stream_.HasBufferedInput()) {
    // Message data sent before our 354 (RFC 2920 §3.1: DATA ends a command group).
    log::Warn("protocol synchronization error from [{}]: data sent before 354", peer_addr_);
    Say(ReplyId::kProtocolSynchronization);
    co_return Next::kClose;
  }
  Say(ReplyId::kStartMailInput);
  DataFramer framer(DataFramer::Mode::kDotTerminated);
  spool_.Clear();
  header_meter_.emplace(config_.limits.max_header_size);
  ContentClock clock(config_.timeouts.data, config_.limits.min_data_rate);
  while (!framer.finished()) {
    std::string_view buffered = stream_.Buffered();
    if (buffered.empty()) {
      if (co_await FillContent(clock, "DATA") != net::IoStatus::kOk) co_return Next::kClose;
      continue;
    }
    chunk_.clear();
    size_t used = framer.Feed(buffered, chunk_);
    stream_.Consume(used);
    Take(chunk_);
  }
  co_return co_await FinishMessage(framer.saw_bare_newline());
}

asio::awaitable<Session::Next> Session::OnBdat(const Command& command) {
  auto bdat = ParseBdatArgument(command.argument);
  if (!bdat) co_return Error(ReplyId::kSyntaxBdat);
  std::optional<ReplyId> refusal;
  if (!mail_) {
    refusal = ReplyId::kNeedMail;
  } else if (recipients_.empty()) {
    refusal = ReplyId::kNeedRcpt;
  } else if (accepted_ == 0) {
    refusal = ReplyId::kNoValidRecipients;
  }
  if (!refusal && !using_bdat_) {
    using_bdat_ = true;
    bdat_framer_ = std::make_unique<DataFramer>(DataFramer::Mode::kRaw);
    bdat_received_ = 0;
    spool_.Clear();
    header_meter_.emplace(config_.limits.max_header_size);
  }
  // RFC 3030 §4 with RFC 1870: a chunk that takes the message past our SIZE is refused as
  // soon as it is read, not at BDAT LAST; RFC 3030 §2: a 5xx fails the transaction (the
  // client must RSET; BDATs already pipelined behind it are read, discarded and get 503).
  bool over_size = false;
  if (!refusal) {
    bdat_received_ += bdat->size;
    over_size = bdat_received_ > config_.limits.max_message_size;
  }
  // RFC 3030 §2: the chunk is read in full whatever the answer.
  ContentClock clock(config_.timeouts.data, config_.limits.min_data_rate);
  uint64_t remaining = bdat->size;
  while (remaining > 0) {
    std::string_view buffered = stream_.Buffered();
    if (buffered.empty()) {
      if (co_await FillContent(clock, "BDAT") != net::IoStatus::kOk) co_return Next::kClose;
      continue;
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, buffered.size()));
    if (!refusal && !over_size) {
      chunk_.clear();
      bdat_framer_->Feed(buffered.substr(0, take), chunk_);
      Take(chunk_);
    }
    stream_.Consume(take);
    remaining -= take;
  }
  if (refusal) co_return Error(*refusal);
  if (over_size) {
    // LMTP: one reply per recipient only after BDAT LAST (RFC 2033 §4.2), else one.
    size_t replies_due = lmtp_ && bdat->last ? accepted_ : 1;
    for (size_t i = 0; i < replies_due; ++i) {
      Say(ReplyId::kMessageTooBig, std::to_string(config_.limits.max_message_size));
    }
    env_.counters->messages_rejected.fetch_add(1, std::memory_order_relaxed);
    LogTransaction("Blocked MTA-BLOCKED {RejectedInbound}", "message too big",
                   static_cast<size_t>(bdat_received_));
    ResetTransaction();
    co_return Next::kContinue;
  }
  if (bdat->last && bdat_received_ == 0) {
    // "BDAT 0 LAST" with nothing before it: no message at all, never relayed.
    size_t replies_due = lmtp_ ? accepted_ : 1;
    for (size_t i = 0; i < replies_due; ++i) Say(ReplyId::kEmptyMessage);
    env_.counters->messages_rejected.fetch_add(1, std::memory_order_relaxed);
    LogTransaction("Blocked MTA-BLOCKED {RejectedInbound}", "empty message", 0);
    ResetTransaction();
    co_return Next::kContinue;
  }
  if (!bdat->last) {
    Say(ReplyId::kBdatChunkOk, std::to_string(bdat->size));
    co_return Next::kContinue;
  }
  chunk_.clear();
  bdat_framer_->Finish(chunk_);
  Take(chunk_);
  bool bare = bdat_framer_->saw_bare_newline();
  co_return co_await FinishMessage(bare);
}

void Session::ReplyRelayFailure(RelayFailure failure, size_t count) {
  ReplyId id = failure == RelayFailure::kUnreachable ? ReplyId::kRelayUnreachable
               : failure == RelayFailure::kTimeout   ? ReplyId::kRelayTimeout
               : failure == RelayFailure::kLost      ? ReplyId::kRelayLost
               : failure == RelayFailure::kClosedAtEnd ? ReplyId::kRelayClosedAtEnd
               : failure == RelayFailure::kLocal     ? ReplyId::kLocalError
                                                     : ReplyId::kRelayProtocolError;
  for (size_t i = 0; i < count; ++i) Say(id, mail_id_);
  if (failure != RelayFailure::kLocal) {
    env_.counters->relay_errors.fetch_add(1, std::memory_order_relaxed);
  }
  if (failure == RelayFailure::kClosedAtEnd) {
    env_.counters->relay_closed_at_end.fetch_add(1, std::memory_order_relaxed);
  }
}

asio::awaitable<Session::Next> Session::FinishMessage(bool bare_newline) {
  size_t replies_due = lmtp_ ? accepted_ : 1;
  size_t size = spool_.size();
  auto refuse = [&](ReplyId id, std::string_view detail, std::string_view why) {
    for (size_t i = 0; i < replies_due; ++i) Say(id, detail);
    env_.counters->messages_rejected.fetch_add(1, std::memory_order_relaxed);
    LogTransaction("Blocked MTA-BLOCKED {RejectedInbound}", why, size);
  };
  if (bare_newline && config_.smtp.bare_newline == config::BareNewline::kReject) {
    log::Warn("bare <CR> or <LF> in message data from [{}], mail_id: {}", peer_addr_, mail_id_);
    refuse(ReplyId::kBareNewline, {}, "bare newline");
    ResetTransaction();
    co_return Next::kContinue;
  }
  if (too_big_) {
    refuse(ReplyId::kMessageTooBig, std::to_string(config_.limits.max_message_size),
           "message too big");
    ResetTransaction();
    co_return Next::kContinue;
  }
  if (header_too_big_) {
    log::Warn("header field over {} bytes (limits.max_header_size) from [{}], mail_id: {}",
              config_.limits.max_header_size, peer_addr_, mail_id_);
    refuse(ReplyId::kHeaderTooBig, {}, "header too big");
    ResetTransaction();
    co_return Next::kContinue;
  }
  if (spool_failed_) {
    for (size_t i = 0; i < replies_due; ++i) Say(ReplyId::kLocalError);
    env_.counters->messages_tempfailed.fetch_add(1, std::memory_order_relaxed);
    LogTransaction("Blocked MTA-BLOCKED {TempFailedInbound}", "local error", size);
    ResetTransaction();
    co_return Next::kContinue;
  }

  // The per-message deadline runs from here to our reply: the scan, then the relay.
  net::Deadline deadline = After(config_.timeouts.message_deadline);
  std::string hits = "-";
  scan::Verdict verdict;
  if (env_.pipeline != nullptr) {
    auto raw = ReadMessageForScan();
    const bool readable = raw != nullptr;
    std::optional<std::vector<scan::CheckResult>> results;
    rules::Envelope envelope;
    if (mail_) envelope.mail_from = mail_->address;
    for (const auto& r : recipients_) {
      if (r.accepted) envelope.rcpt_to.push_back(r.rcpt.address);
    }
    if (readable) {
      scan::MessageInput input{std::move(raw), envelope};
      input.smtputf8 = mail_ && mail_->Find("SMTPUTF8") != nullptr;
      results = co_await env_.pipeline->Scan(std::move(input), deadline);
    }
    if (!results) {
      // Not finished in time (or the spool could not be read): the MTA keeps the message.
      for (size_t i = 0; i < replies_due; ++i) {
        if (readable) {
          Say(ReplyId::kScanTimeout, mail_id_);
        } else {
          Say(ReplyId::kLocalError);
        }
      }
      env_.counters->messages_tempfailed.fetch_add(1, std::memory_order_relaxed);
      if (readable) env_.counters->scan_timeouts.fetch_add(1, std::memory_order_relaxed);
      LogTransaction("Blocked UNCHECKED {TempFailedInbound}",
                     readable ? "scan timed out" : "spool read error", size);
      AbandonRelay();
      ResetTransaction();
      co_return Next::kContinue;
    }
    for (const scan::CheckResult& r : *results) {
      for (size_t i = 0; i < kTimedChecks.size(); ++i) {
        if (r.check == kTimedChecks[i]) env_.counters->check_time[i].Add(r.elapsed);
      }
      // clamd's own trouble (unreachable, timing out, erroring), not a message over the limits.
      if (r.check == "virus" && r.finding == scan::Finding::kUnchecked &&
          r.skipped_reason != "size") {
        env_.counters->clamd_errors.fetch_add(1, std::memory_order_relaxed);
        log::Warn("virus check: {}, mail_id: {}", r.details.empty() ? "failed" : r.details[0],
                  mail_id_);
      }
      if (r.check == "spam" && r.scanned) hits = scan::FormatScore(r.score);
      if (r.regex_limit_hits > 0) {
        // Each counts as no match (SpamAssassin would have been stuck instead).
        env_.counters->regex_limit_hits.fetch_add(r.regex_limit_hits, std::memory_order_relaxed);
        log::Warn("spam check: {} rule regex(es) stopped at their match limit, mail_id: {}",
                  r.regex_limit_hits, mail_id_);
      }
    }
    // The policy bank that selects this message, if any: its policy, its bypassed checks.
    const config::PolicyBank* bank =
        config::SelectPolicyBank(config_, env_.listener->name, ClientAddress());
    const config::Config& policy = bank != nullptr ? *bank->config : config_;
    if (bank != nullptr) {
      policy_bank_ = bank->name;
      std::erase_if(*results, [bank](const scan::CheckResult& r) {
        return std::find(bank->bypass.begin(), bank->bypass.end(), r.check) != bank->bypass.end();
      });
    }
    verdict = scan::Decide(*results, policy, envelope);
    if (verdict.category == scan::Category::kSpam || verdict.category == scan::Category::kSpammy) {
      env_.counters->messages_spam.fetch_add(1, std::memory_order_relaxed);
    }
    env_.counters->verdicts[static_cast<size_t>(verdict.category)]
                           [static_cast<size_t>(verdict.action)]
                               .fetch_add(1, std::memory_order_relaxed);
    if (!Quarantine(verdict, policy)) {
      // amavisd's rule: a message that should be quarantined and cannot be stays with the MTA.
      for (size_t i = 0; i < replies_due; ++i) Say(ReplyId::kLocalError);
      env_.counters->messages_tempfailed.fetch_add(1, std::memory_order_relaxed);
      LogTransaction(fmt::format("Blocked {} {{TempFailedInbound}}", verdict.log_name),
                     "quarantine failed", size, hits);
      AbandonRelay();
      ResetTransaction();
      co_return Next::kContinue;
    }
    scan::Action action = verdict.action;
    // After-queue the MTA turns a reject into a bounce to the sender: configured away, or
    // suppressed for obvious spam (amavisd's $sa_dsn_cutoff_level).
    bool bounce_suppressed = false;
    if (action == scan::Action::kReject && config_.relay.mode == RelayMode::kAfterQueue) {
      if (!policy.actions.after_queue_reject_bounces) {
        action = scan::Action::kDiscard;
      } else if (verdict.category == scan::Category::kSpam &&
                 verdict.score >= policy.spam.dsn_cutoff_level) {
        action = scan::Action::kDiscard;
        bounce_suppressed = true;
      }
    }
    if (action != scan::Action::kPass) {
      // Blocked: the client gets our reply, the next hop's open transaction is dropped.
      const ReplyId id = bounce_suppressed                  ? ReplyId::kBounceSuppressed
                         : action == scan::Action::kReject  ? ReplyId::kRejectContent
                         : action == scan::Action::kDiscard ? ReplyId::kDiscardContent
                                                            : ReplyId::kTempfailContent;
      const std::string reason =
          bounce_suppressed ? mail_id_ : fmt::format("{} - {}", mail_id_, verdict.reason);
      for (size_t i = 0; i < replies_due; ++i) Say(id, reason);
      const char* how = bounce_suppressed                  ? "NoBounceInbound"
                        : action == scan::Action::kReject  ? "RejectedInbound"
                        : action == scan::Action::kDiscard ? "DiscardedInbound"
                                                           : "TempFailedInbound";
      auto& counter = action == scan::Action::kTempfail ? env_.counters->messages_tempfailed
                                                        : env_.counters->messages_rejected;
      counter.fetch_add(1, std::memory_order_relaxed);
      LogTransaction(fmt::format("Blocked {} {{{}{}}}", verdict.log_name, how,
                                 quarantine_file_.empty() ? "" : ",Quarantined"),
                     "", size, hits);
      AbandonRelay();
      ResetTransaction();
      co_return Next::kContinue;
    }
  }
  RelayReplies result;
  if (!relay_ || !relay_->is_open() || !relay_in_transaction_ || relay_broken_) {
    result.failure = RelayFailure::kLost;
  } else {
    std::string single;
    for (const auto& r : recipients_) {
      if (r.accepted && accepted_ == 1) single = r.rcpt.address;
    }
    ReceivedFacts facts{helo_,
                        peer_addr_,
                        config_.hostname,
                        listener_label_,
                        lmtp_ ? "LMTP" : esmtp_ ? "ESMTP" : "SMTP",
                        mail_id_,
                        single,
                        std::chrono::system_clock::now()};
    // What goes before the message: the X-Spam-* fields, our Received: header, and, when the
    // spam check ran and the header section needs edits (incoming X-Spam-* fields removed,
    // Subject tagged) and is held in memory, its rewrite in place of the original. Without a
    // verdict the message goes on unchanged.
    std::string header = verdict.added_headers;
    if (!quarantine_file_.empty()) header += fmt::format("X-Quarantine-ID: <{}>\r\n", mail_id_);
    header += ReceivedHeader(facts);
    size_t skip = 0;
    std::string_view head = spool_.Head();
    size_t end = head.find("\r\n\r\n");
    if (verdict.edit_headers() && end != std::string_view::npos) {
      std::string_view section = head.substr(0, end + 2);
      std::string edited = scan::EditHeaderSection(section, verdict.subject_tag);
      if (edited != section) {
        header += edited;
        skip = section.size();
      }
    }
    result = co_await relay_->SendMessage(header, spool_, accepted_, deadline, skip);
    relay_in_transaction_ = false;
  }

  const bool before_queue = config_.relay.mode == RelayMode::kBeforeQueue;
  std::string relay_name = relay_ ? relay_->name() : std::string();
  std::string log_verdict;
  std::string queued_as;
  if (result.failure != RelayFailure::kNone || result.replies.empty()) {
    RelayFailure failure =
        result.failure == RelayFailure::kNone ? RelayFailure::kProtocol : result.failure;
    if (Clock::now() >= deadline && failure != RelayFailure::kClosedAtEnd) {
      failure = RelayFailure::kTimeout;
    }
    if (failure == RelayFailure::kClosedAtEnd) {
      log::Warn("next hop {} closed the connection after the end of data, before its reply: "
                "tempfailed, mail_id: {}", relay_name, mail_id_);
    }
    ReplyRelayFailure(failure, replies_due);
    env_.counters->messages_tempfailed.fetch_add(1, std::memory_order_relaxed);
    log_verdict = "Blocked MTA-BLOCKED {TempFailedInbound}";
    queued_as = std::string(Describe(failure));
    if (relay_) relay_->Abort();
    relay_.reset();
  } else {
    // One reply per inbound reply due: the next hop's own (LMTP to LMTP), or its single reply
    // repeated.
    const smtp::Reply* worst = &result.replies.front();
    for (const auto& r : result.replies) {
      if (r.Class() > worst->Class()) worst = &r;
    }
    for (size_t i = 0; i < replies_due; ++i) {
      const smtp::Reply& reply =
          result.replies.size() == replies_due ? result.replies[i]
          : result.replies.size() == 1         ? result.replies.front()
                                               : *worst;
      if (before_queue) {
        // The next hop's reply word for word (Postfix passes it to the sending client).
        stream_.Write(reply.WireWithEnhanced(reply.Class() == 2   ? "2.0.0"
                                             : reply.Class() == 4 ? "4.0.0"
                                                                  : "5.0.0"));
      } else if (reply.Class() == 2) {
        Say(ReplyId::kRelayPassed, fmt::format("from MTA({}): {}", relay_name, reply.OneLine()));
      } else if (reply.Class() == 4) {
        std::string enhanced = reply.Enhanced();
        if (enhanced.empty() || enhanced[0] != '4') enhanced = "4.0.0";
        stream_.Write(fmt::format("451 {} id={} - from MTA({}): {}\r\n", enhanced, mail_id_,
                                  relay_name, reply.OneLine()));
      } else {
        stream_.Write(reply.WireWithEnhanced("5.0.0"));
      }
    }
    std::string text = worst->OneLine();
    size_t queued = text.find("queued as ");
    queued_as = queued != std::string::npos ? text.substr(queued + 10) : text;
    if (worst->Class() == 2) {
      env_.counters->messages_relayed.fetch_add(1, std::memory_order_relaxed);
      log_verdict = fmt::format("Passed {} {{{}{}}}",
                                verdict.log_name.empty() ? "CLEAN" : verdict.log_name,
                                verdict.subject_tag.empty() ? "RelayedInbound"
                                                            : "RelayedTaggedInbound",
                                quarantine_file_.empty() ? "" : ",Quarantined");
    } else if (worst->Class() == 4) {
      env_.counters->messages_tempfailed.fetch_add(1, std::memory_order_relaxed);
      env_.counters->relay_errors.fetch_add(1, std::memory_order_relaxed);
      log_verdict = "Blocked MTA-BLOCKED {TempFailedInbound}";
    } else {
      env_.counters->messages_rejected.fetch_add(1, std::memory_order_relaxed);
      log_verdict = "Blocked MTA-BLOCKED {RejectedInbound}";
    }
  }
  LogTransaction(log_verdict, queued_as, size, hits);
  ResetTransaction();
  co_return Next::kContinue;
}

std::shared_ptr<const std::string> Session::ReadMessageForScan() {
  // The rules see the message with LF line ends, as SpamAssassin reads it.
  auto text = std::make_shared<std::string>();
  text->reserve(spool_.size());
  spool::Spool::Reader reader(spool_);
  std::string buffer;
  bool pending_cr = false;
  while (true) {
    auto chunk = reader.Next(buffer);
    if (!chunk) return nullptr;
    if (chunk->empty()) break;
    for (char c : *chunk) {
      if (pending_cr && c != '\n') text->push_back('\r');
      pending_cr = c == '\r';
      if (!pending_cr) text->push_back(c);
    }
  }
  if (pending_cr) text->push_back('\r');
  return text;
}

void Session::LogTransaction(std::string_view verdict, std::string_view queued_as, size_t size,
                             std::string_view hits) {
  std::string recipients;
  for (const auto& r : recipients_) {
    if (!r.accepted) continue;
    if (!recipients.empty()) recipients += ',';
    recipients += fmt::format("<{}>", r.rcpt.address);
  }
  std::string origin = xforward_.addr && !EqualsIgnoreCase(*xforward_.addr, "[UNAVAILABLE]")
                           ? fmt::format(" [{}]", *xforward_.addr)
                           : std::string();
  std::string client = peer_addr_.empty() ? std::string("LOCAL")
                                          : fmt::format("[{}]:{}", peer_addr_, peer_port_);
  std::string queue_id =
      xforward_.ident ? fmt::format(", Queue-ID: {}", *xforward_.ident) : std::string();
  if (!quarantine_file_.empty()) queue_id.insert(0, ", quarantine: " + quarantine_file_);
  std::string message_id = FindHeaderValue(spool_.Head(), "Message-ID");
  if (!message_id.empty()) message_id = ", Message-ID: " + message_id;
  auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count();
  // A blocked message has no next-hop reply, and amavisd's line then no queued_as field.
  std::string queued =
      queued_as.empty() ? std::string() : fmt::format(", queued_as: {}", queued_as);
  // amavisd puts the policy bank's name before the client.
  if (!policy_bank_.empty()) client.insert(0, policy_bank_ + " ");
  log::Info("{}, {}{} <{}> -> {}{}{}, mail_id: {}, Hits: {}, size: {}{}, {} ms", verdict, client,
            origin, mail_ ? mail_->address : "", recipients, queue_id, message_id, mail_id_, hits,
            size, queued, elapsed);
}

bool Session::Quarantine(const scan::Verdict& verdict, const config::Config& policy) {
  std::string_view key = scan::CategoryKey(verdict.category);
  const auto& kept = policy.quarantine.categories;
  if (key.empty() || config_.quarantine.directory.empty() ||
      std::find(kept.begin(), kept.end(), key) == kept.end()) {
    return true;
  }
  quarantine::Entry entry;
  entry.mail_id = mail_id_;
  entry.time = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time(nullptr)));
  entry.category = verdict.log_name;
  entry.action = std::string(config::ToString(verdict.action));
  if (mail_) entry.sender = mail_->address;
  for (const auto& r : recipients_) {
    if (r.accepted) entry.recipients.push_back(r.rcpt.address);
  }
  entry.size = spool_.size();
  entry.message_id = FindHeaderValue(spool_.Head(), "Message-ID");
  entry.subject = FindHeaderValue(spool_.Head(), "Subject");
  // amavisd's file names: virus-, banned-, spam-, badh-, unchecked-<mail id>.
  std::string_view kind = key == "bad_header" ? std::string_view("badh") : key;
  auto file = quarantine::Store(config_.quarantine.directory).Put(entry, kind, spool_);
  if (!file) {
    env_.counters->quarantine_errors.fetch_add(1, std::memory_order_relaxed);
    log::Error("{}, mail_id: {}", file.error().message, mail_id_);
    return false;
  }
  env_.counters->quarantined.fetch_add(1, std::memory_order_relaxed);
  quarantine_file_ = *file;
  return true;
}

std::string Session::ClientAddress() const {
  if (xforward_.addr && !EqualsIgnoreCase(*xforward_.addr, "[UNAVAILABLE]")) {
    std::string_view addr = *xforward_.addr;
    if (StartsWithIgnoreCase(addr, "IPv6:")) addr.remove_prefix(5);
    return std::string(addr);
  }
  return peer_addr_;
}

void Session::AbandonRelay() {
  if (relay_) relay_->Abort();
  relay_.reset();
  relay_in_transaction_ = false;
}

void Session::ResetTransaction() {
  mail_.reset();
  recipients_.clear();
  accepted_ = 0;
  using_bdat_ = false;
  bdat_framer_.reset();
  bdat_received_ = 0;
  header_meter_.reset();
  too_big_ = false;
  header_too_big_ = false;
  spool_failed_ = false;
  quarantine_file_.clear();
  policy_bank_.clear();
  spool_.Clear();
  relay_broken_ = false;
  // XFORWARD attributes hold for one transaction (Postfix XFORWARD_README).
  xforward_ = XforwardAttributes{};
  // The next hop connection goes back to the pool between transactions; an abandoned
  // envelope there is reset before its next use.
  ReleaseRelay();
}

void Session::OnRset() {
  if (mail_) ResetTransaction();
}

}  // namespace

void CheckTimeHistogram::Add(std::chrono::nanoseconds elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  size_t bucket = 0;
  while (bucket < kBounds.size() && seconds > kBounds[bucket]) ++bucket;
  counts[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_us.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

std::string StatusFields(const SessionCounters& c) {
  std::string out = fmt::format(
      "active={} sessions={} relayed={} tempfailed={} rejected={} spam={} scan_timeouts={} "
      "regex_limit_hits={} relay_errors={} clamd_errors={} quarantined={} quarantine_errors={} "
      "relay_closed_at_end={} slow_clients={}",
      c.active.load(), c.sessions.load(), c.messages_relayed.load(),
      c.messages_tempfailed.load(), c.messages_rejected.load(), c.messages_spam.load(),
      c.scan_timeouts.load(), c.regex_limit_hits.load(), c.relay_errors.load(),
      c.clamd_errors.load(), c.quarantined.load(), c.quarantine_errors.load(),
      c.relay_closed_at_end.load(), c.slow_clients.load());
  for (size_t category = 0; category < c.verdicts.size(); ++category) {
    for (size_t action = 0; action < c.verdicts[category].size(); ++action) {
      uint64_t n = c.verdicts[category][action].load();
      if (n == 0) continue;
      out += fmt::format(" verdict.{}.{}={}",
                         scan::CategoryName(static_cast<scan::Category>(category)),
                         config::ToString(static_cast<config::Action>(action)), n);
    }
  }
  for (size_t check = 0; check < c.check_time.size(); ++check) {
    const CheckTimeHistogram& h = c.check_time[check];
    uint64_t total = 0;
    for (const auto& n : h.counts) total += n.load();
    if (total == 0) continue;
    // Cumulative, as Prometheus buckets are.
    uint64_t cumulative = 0;
    for (size_t b = 0; b < h.counts.size(); ++b) {
      cumulative += h.counts[b].load();
      std::string bound =
          b < CheckTimeHistogram::kBounds.size() ? fmt::format("{}", CheckTimeHistogram::kBounds[b])
                                                 : std::string("+Inf");
      out += fmt::format(" check_time.{}.{}={}", kTimedChecks[check], bound, cumulative);
    }
    out += fmt::format(" check_time_us.{}={} check_count.{}={}", kTimedChecks[check],
                       h.sum_us.load(), kTimedChecks[check], total);
  }
  return out;
}

asio::awaitable<void> RunSession(net::Socket socket, SessionEnvironment environment,
                                 const sockaddr_storage& peer) {
  Session session(std::move(socket), environment, peer);
  co_await session.Run();
}

}  // namespace mailsift::smtp
