#include "smtp/server_session.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/strings.h"
#include "log/log.h"
#include "net/endpoint.h"
#include "policy/message_policy.h"
#include "smtp/command.h"
#include "smtp/data_framer.h"
#include "smtp/header_meter.h"
#include "smtp/trace.h"
#include "spool/spool.h"

namespace mailsift::smtp {
namespace {

using config::Protocol;
using config::RelayMode;
using policy::FormatReply;
using policy::FormatReplyWithEnhanced;
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
    left_ =
        std::min(limit_, left_ - waited + config::Seconds(static_cast<double>(bytes) / min_rate_));
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
  // Where the dialogue stands (RFC 5321 §4.1.4, RFC 3030 §2); every command is judged by it.
  //   kConnected --HELO/EHLO/LHLO--> kGreeted --MAIL--> kMail --BDAT--> kBdat
  //   kMail, kBdat --end of data, RSET, HELO/EHLO--> kGreeted
  //   any --QUIT, too many errors, timeouts, lost or slow client--> kClosing (the loop ends)
  enum class State {
    kConnected,  // greeting sent, no HELO/EHLO/LHLO yet
    kGreeted,    // HELO/EHLO/LHLO seen, no transaction
    kMail,       // MAIL accepted: RCPT, then DATA or BDAT
    kBdat,       // BDAT chunks received, until BDAT LAST (no DATA, no RCPT)
    kClosing,    // the session ends once the pending replies are out
  };
  // Where the current message's content stands; all but kWhole refuse it at its end.
  enum class Intake {
    kWhole,         // taken whole into the spool
    kTooBig,        // past limits.max_message_size: read to the end, nothing kept
    kHeaderTooBig,  // a header field past limits.max_header_size: likewise
    kSpoolFailed,   // the spool could not be written
  };

  bool Greeted() const { return state_ != State::kConnected; }
  bool InTransaction() const { return state_ == State::kMail || state_ == State::kBdat; }
  void Close() { state_ = State::kClosing; }

  // Replies.
  void Say(ReplyId id, std::string_view detail = {}) { stream_.Write(FormatReply(id, detail)); }
  // Says `id`; the session closes after too many errors.
  void Error(ReplyId id, std::string_view detail = {});

  asio::awaitable<void> Dispatch(std::string_view line);
  void OnHelo(const Command& command);
  void OnMail(const Command& command);
  asio::awaitable<void> OnRcpt(const Command& command);
  asio::awaitable<void> OnData(const Command& command);
  asio::awaitable<void> OnBdat(const Command& command);
  void OnXforward(const Command& command);
  void OnRset();

  // Relay.
  asio::awaitable<RelayFailure> AcquireRelay(net::Deadline deadline);
  void ReleaseRelay();
  std::string DownstreamMail() const;
  std::string DownstreamRcpt(const PathArgument& rcpt) const;
  XforwardAttributes ForwardedAttributes() const;

  // End of message: the policy's decision, relay, replies, log line.
  asio::awaitable<void> FinishMessage(bool bare_newline);
  void ReplyRelayFailure(RelayFailure failure, size_t count);
  void LogTransaction(std::string_view verdict, std::string_view queued_as, size_t size,
                      std::string_view hits = "-");
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

  bool Draining() const { return env_.draining && env_.draining->load(std::memory_order_relaxed); }

  // Session state.
  State state_ = State::kConnected;
  bool waiting_for_command_ = false;  // a read of the next command line is in progress
  bool esmtp_ = false;                // EHLO or LHLO, not HELO
  std::string helo_;
  int errors_ = 0;
  XforwardAttributes xforward_;

  // Transaction state.
  std::optional<PathArgument> mail_;
  std::vector<Recipient> recipients_;
  size_t accepted_ = 0;
  std::string mail_id_;
  std::unique_ptr<DataFramer> bdat_framer_;
  uint64_t bdat_received_ = 0;  // BDAT chunk bytes of this transaction, as sent
  spool::Spool spool_;
  std::string chunk_;
  std::optional<HeaderMeter> header_meter_;
  Intake intake_ = Intake::kWhole;
  Clock::time_point started_;
  std::string quarantine_file_;  // where this message was quarantined ("" = not)
  std::string policy_bank_;      // the bank that selected this message ("" = none)

  // The next hop.
  std::unique_ptr<RelayClient> relay_;
  bool relay_in_transaction_ = false;  // the next hop accepted our MAIL
  bool relay_broken_ = false;          // lost within this transaction
  bool relay_from_pool_ = false;       // relay_ was idle in the pool (the peer may have left)
};

void Session::Error(ReplyId id, std::string_view detail) {
  Say(id, detail);
  if (++errors_ >= config_.limits.max_errors) {
    Say(ReplyId::kTooManyErrors);
    Close();
  }
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
      if (waiting_for_command_ && !InTransaction()) stream_.SetDeadline(After(kDrainIdleGrace));
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
    bool idle_in_drain = Draining() && !InTransaction();
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
    if (status == net::IoStatus::kTimeout && Draining() && !InTransaction()) {
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
      log::Warn("timeout after {} from [{}]", InTransaction() ? "MAIL" : "command", peer_addr_);
      stream_.SetDeadline(After(config::Seconds(5)));
      Say(ReplyId::kCommandTimeout);
      break;
    }
    if (status == net::IoStatus::kEof || status == net::IoStatus::kError) break;
    if (status == net::IoStatus::kTooLong) {
      Error(ReplyId::kLineTooLong);
      if (state_ == State::kClosing) break;
      continue;
    }
    co_await Dispatch(line);
    if (state_ == State::kClosing) break;
  }
  // Leaving: relay connection back to the pool (or closed), pending replies out. (The state
  // may be kClosing with a transaction open: its envelope goes too.)
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

asio::awaitable<void> Session::Dispatch(std::string_view line) {
  if (!IsCleanCommandLine(line)) co_return Error(ReplyId::kBadCharacters);
  Command command = SplitCommand(line);
  if (Draining() && !InTransaction() &&
      (command.verb == Verb::kRset || command.verb == Verb::kNoop)) {
    // Between transactions in a draining generation, a probe of an idle connection is told to
    // go: Postfix then opens a fresh connection (to the new generation) without deferring.
    Say(ReplyId::kShuttingDown);
    co_return Close();
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
      co_return;
    case Verb::kNoop:
      Say(ReplyId::kOk);
      co_return;
    case Verb::kQuit:
      Say(ReplyId::kBye);
      co_return Close();
    case Verb::kVrfy:
      if (command.argument.empty()) co_return Error(ReplyId::kSyntaxRcpt);
      Say(ReplyId::kVrfyCannot);
      co_return;
    case Verb::kHelp:
      Say(ReplyId::kHelp);
      co_return;
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

void Session::OnHelo(const Command& command) {
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
  if (InTransaction()) ResetTransaction();
  state_ = State::kGreeted;
  helo_ = std::string(command.argument);
  esmtp_ = command.verb != Verb::kHelo;
  if (!esmtp_) {
    Say(ReplyId::kHeloOk, config_.hostname);
    return;
  }
  stream_.Write(FormatReply(ReplyId::kEhloOk, config_.hostname,
                            std::to_string(config_.limits.max_message_size)));
}

void Session::OnXforward(const Command& command) {
  if (!Greeted()) return Error(ReplyId::kNeedHelo);
  if (InTransaction()) return Error(ReplyId::kXforwardInTransaction);
  CommandError error;
  if (!ParseXforward(command.argument, xforward_, error)) return Error(error.reply, error.detail);
  Say(ReplyId::kXforwardOk);
}

void Session::OnMail(const Command& command) {
  if (!Greeted()) return Error(ReplyId::kNeedHelo);
  if (InTransaction()) return Error(ReplyId::kNestedMail);
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
  state_ = State::kMail;
  mail_id_ = NewMailId();
  started_ = Clock::now();
  Say(ReplyId::kSenderOk, mail_->address);
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
    bool pass = (p.keyword == "SIZE" && ext.size) || (p.keyword == "BODY" && ext.eight_bit_mime) ||
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
    log::Warn("relay to {} failed: {}: tempfailed, mail_id: {}", relay_->name(), Describe(failure),
              mail_id_);
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

asio::awaitable<void> Session::OnRcpt(const Command& command) {
  if (!InTransaction()) co_return Error(ReplyId::kNeedMail);
  if (state_ == State::kBdat) co_return Error(ReplyId::kMixedBdatData);
  CommandError error;
  auto rcpt = ParseRcptArgument(command.argument, error);
  if (!rcpt) co_return Error(error.reply, error.detail);
  if (HasNonAscii(rcpt->address) && !mail_->Find("SMTPUTF8")) {
    co_return Error(ReplyId::kSmtputf8Required);
  }
  if (recipients_.size() >= static_cast<size_t>(config_.limits.max_recipients)) {
    Say(ReplyId::kTooManyRecipients);
    co_return;
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
    if (result.failure == RelayFailure::kLost && result.replies.empty() && !relay_in_transaction_ &&
        attempt == 0 && relay_from_pool_) {
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
    co_return;
  }
  // The MAIL reply (if we sent MAIL) decides first.
  if (!relay_in_transaction_) {
    const smtp::Reply& mail_reply = result.replies[rcpt_index - 1];
    if (mail_reply.Class() != 2) {
      stream_.Write(mail_reply.WireWithEnhanced(mail_reply.Class() == 4 ? "4.0.0" : "5.0.0"));
      recipients_.push_back(std::move(recipient));
      co_return;
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
}

void Session::Take(std::string_view canonical) {
  if (intake_ != Intake::kWhole) return;
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
      intake_ = Intake::kHeaderTooBig;
      spool_.Clear();
      return;
    }
  }
  if (spool_.size() + canonical.size() > config_.limits.max_message_size) {
    intake_ = Intake::kTooBig;  // keep reading to the end, relay nothing (RFC 1870 §6.3)
    return;
  }
  if (auto status = spool_.Append(canonical); !status) {
    log::Error("{}", status.error().message);
    intake_ = Intake::kSpoolFailed;
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
    log::Warn(
        "message data from [{}] during {} slower than {} bytes/s "
        "(limits.min_data_rate): nothing relayed, mail_id: {}",
        peer_addr_, what, config_.limits.min_data_rate, mail_id_);
    env_.counters->slow_clients.fetch_add(1, std::memory_order_relaxed);
    stream_.SetDeadline(After(config::Seconds(5)));
    Say(ReplyId::kDataTooSlow);
  } else {
    log::Warn("{} from [{}] during {}: nothing relayed, mail_id: {}",
              status == net::IoStatus::kTimeout ? "timeout" : "lost connection", peer_addr_, what,
              mail_id_);
    if (status == net::IoStatus::kTimeout) {
      stream_.SetDeadline(After(config::Seconds(5)));
      Say(ReplyId::kCommandTimeout);
    }
  }
  co_return status;
}

asio::awaitable<void> Session::OnData(const Command& command) {
  if (!command.argument.empty()) co_return Error(ReplyId::kSyntaxNoArguments, "DATA");
  if (!InTransaction()) co_return Error(ReplyId::kNeedMail);
  if (state_ == State::kBdat) co_return Error(ReplyId::kMixedBdatData);
  if (recipients_.empty()) co_return Error(ReplyId::kNeedRcpt);
  if (accepted_ == 0) co_return Error(ReplyId::kNoValidRecipients);
  if (stream_.HasBufferedInput()) {
    // Message data sent before our 354 (RFC 2920 §3.1: DATA ends a command group).
    log::Warn("protocol synchronization error from [{}]: data sent before 354", peer_addr_);
    Say(ReplyId::kProtocolSynchronization);
    co_return Close();
  }
  Say(ReplyId::kStartMailInput);
  DataFramer framer(DataFramer::Mode::kDotTerminated);
  spool_.Clear();
  header_meter_.emplace(config_.limits.max_header_size);
  ContentClock clock(config_.timeouts.data, config_.limits.min_data_rate);
  while (!framer.finished()) {
    std::string_view buffered = stream_.Buffered();
    if (buffered.empty()) {
      if (co_await FillContent(clock, "DATA") != net::IoStatus::kOk) co_return Close();
      continue;
    }
    chunk_.clear();
    size_t used = framer.Feed(buffered, chunk_);
    stream_.Consume(used);
    Take(chunk_);
  }
  co_return co_await FinishMessage(framer.saw_bare_newline());
}

asio::awaitable<void> Session::OnBdat(const Command& command) {
  auto bdat = ParseBdatArgument(command.argument);
  if (!bdat) co_return Error(ReplyId::kSyntaxBdat);
  std::optional<ReplyId> refusal;
  if (!InTransaction()) {
    refusal = ReplyId::kNeedMail;
  } else if (recipients_.empty()) {
    refusal = ReplyId::kNeedRcpt;
  } else if (accepted_ == 0) {
    refusal = ReplyId::kNoValidRecipients;
  }
  if (!refusal && state_ != State::kBdat) {
    state_ = State::kBdat;
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
      if (co_await FillContent(clock, "BDAT") != net::IoStatus::kOk) co_return Close();
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
    co_return;
  }
  if (bdat->last && bdat_received_ == 0) {
    // "BDAT 0 LAST" with nothing before it: no message at all, never relayed.
    size_t replies_due = lmtp_ ? accepted_ : 1;
    for (size_t i = 0; i < replies_due; ++i) Say(ReplyId::kEmptyMessage);
    env_.counters->messages_rejected.fetch_add(1, std::memory_order_relaxed);
    LogTransaction("Blocked MTA-BLOCKED {RejectedInbound}", "empty message", 0);
    ResetTransaction();
    co_return;
  }
  if (!bdat->last) {
    Say(ReplyId::kBdatChunkOk, std::to_string(bdat->size));
    co_return;
  }
  chunk_.clear();
  bdat_framer_->Finish(chunk_);
  Take(chunk_);
  bool bare = bdat_framer_->saw_bare_newline();
  co_return co_await FinishMessage(bare);
}

void Session::ReplyRelayFailure(RelayFailure failure, size_t count) {
  ReplyId id = failure == RelayFailure::kUnreachable   ? ReplyId::kRelayUnreachable
               : failure == RelayFailure::kTimeout     ? ReplyId::kRelayTimeout
               : failure == RelayFailure::kLost        ? ReplyId::kRelayLost
               : failure == RelayFailure::kClosedAtEnd ? ReplyId::kRelayClosedAtEnd
               : failure == RelayFailure::kLocal       ? ReplyId::kLocalError
                                                       : ReplyId::kRelayProtocolError;
  for (size_t i = 0; i < count; ++i) Say(id, mail_id_);
  if (failure != RelayFailure::kLocal) {
    env_.counters->relay_errors.fetch_add(1, std::memory_order_relaxed);
  }
  if (failure == RelayFailure::kClosedAtEnd) {
    env_.counters->relay_closed_at_end.fetch_add(1, std::memory_order_relaxed);
  }
}

asio::awaitable<void> Session::FinishMessage(bool bare_newline) {
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
    co_return;
  }
  if (intake_ == Intake::kTooBig) {
    refuse(ReplyId::kMessageTooBig, std::to_string(config_.limits.max_message_size),
           "message too big");
    ResetTransaction();
    co_return;
  }
  if (intake_ == Intake::kHeaderTooBig) {
    log::Warn("header field over {} bytes (limits.max_header_size) from [{}], mail_id: {}",
              config_.limits.max_header_size, peer_addr_, mail_id_);
    refuse(ReplyId::kHeaderTooBig, {}, "header too big");
    ResetTransaction();
    co_return;
  }
  if (intake_ == Intake::kSpoolFailed) {
    for (size_t i = 0; i < replies_due; ++i) Say(ReplyId::kLocalError);
    env_.counters->messages_tempfailed.fetch_add(1, std::memory_order_relaxed);
    LogTransaction("Blocked MTA-BLOCKED {TempFailedInbound}", "local error", size);
    ResetTransaction();
    co_return;
  }

  // The per-message deadline runs from here to our reply: the decision, then the relay.
  net::Deadline deadline = After(config_.timeouts.message_deadline);
  policy::Decision decision;
  if (env_.policy != nullptr) {
    policy::MessageFacts facts;
    if (mail_) facts.envelope.mail_from = mail_->address;
    for (const auto& r : recipients_) {
      if (r.accepted) facts.envelope.rcpt_to.push_back(r.rcpt.address);
    }
    facts.smtputf8 = mail_ && mail_->Find("SMTPUTF8") != nullptr;
    facts.mail_id = mail_id_;
    facts.listener = env_.listener->name;
    facts.client_address = ClientAddress();
    decision = co_await env_.policy->Decide(facts, spool_, deadline);
  }
  quarantine_file_ = decision.quarantine_file;
  policy_bank_ = decision.policy_bank;
  if (!decision.relay) {
    // Blocked: the client gets the policy's reply, the next hop's open transaction is dropped.
    for (size_t i = 0; i < replies_due; ++i) Say(decision.reply, decision.reply_detail);
    auto& counter = policy::Entry(decision.reply).code / 100 == 4
                        ? env_.counters->messages_tempfailed
                        : env_.counters->messages_rejected;
    counter.fetch_add(1, std::memory_order_relaxed);
    LogTransaction(decision.log_verdict, decision.log_reason, size, decision.hits);
    AbandonRelay();
    ResetTransaction();
    co_return;
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
                        lmtp_    ? "LMTP"
                        : esmtp_ ? "ESMTP"
                                 : "SMTP",
                        mail_id_,
                        single,
                        std::chrono::system_clock::now()};
    // What goes before the message: the policy's fields (X-Spam-*, X-Quarantine-ID), our
    // Received: header, and the policy's rewrite of the header section in place of the
    // original when it made one.
    std::string header = decision.added_headers;
    header += ReceivedHeader(facts);
    header += decision.header_section;
    result =
        co_await relay_->SendMessage(header, spool_, accepted_, deadline, decision.replaced_size);
    relay_in_transaction_ = false;
  }

  const bool before_queue = config_.relay.mode == RelayMode::kBeforeQueue;
  std::string relay_name = relay_ ? relay_->name() : std::string();
  std::string log_verdict = decision.log_verdict;
  std::string queued_as;
  if (result.failure != RelayFailure::kNone || result.replies.empty()) {
    RelayFailure failure =
        result.failure == RelayFailure::kNone ? RelayFailure::kProtocol : result.failure;
    if (Clock::now() >= deadline && failure != RelayFailure::kClosedAtEnd) {
      failure = RelayFailure::kTimeout;
    }
    if (failure == RelayFailure::kClosedAtEnd) {
      log::Warn(
          "next hop {} closed the connection after the end of data, before its reply: "
          "tempfailed, mail_id: {}",
          relay_name, mail_id_);
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
      const smtp::Reply& reply = result.replies.size() == replies_due ? result.replies[i]
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
        // Our 451 with the next hop's own 4.x.x code, else the table's.
        const std::string enhanced = reply.Enhanced();
        const std::string detail =
            fmt::format("{} - from MTA({}): {}", mail_id_, relay_name, reply.OneLine());
        stream_.Write(enhanced.empty() || enhanced[0] != '4'
                          ? FormatReply(ReplyId::kRelayTempfail, detail)
                          : FormatReplyWithEnhanced(ReplyId::kRelayTempfail, enhanced, detail));
      } else {
        stream_.Write(reply.WireWithEnhanced("5.0.0"));
      }
    }
    std::string text = worst->OneLine();
    size_t queued = text.find("queued as ");
    queued_as = queued != std::string::npos ? text.substr(queued + 10) : text;
    if (worst->Class() == 2) {
      env_.counters->messages_relayed.fetch_add(1, std::memory_order_relaxed);
    } else if (worst->Class() == 4) {
      env_.counters->messages_tempfailed.fetch_add(1, std::memory_order_relaxed);
      env_.counters->relay_errors.fetch_add(1, std::memory_order_relaxed);
      log_verdict = "Blocked MTA-BLOCKED {TempFailedInbound}";
    } else {
      env_.counters->messages_rejected.fetch_add(1, std::memory_order_relaxed);
      log_verdict = "Blocked MTA-BLOCKED {RejectedInbound}";
    }
  }
  LogTransaction(log_verdict, queued_as, size, decision.hits);
  ResetTransaction();
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
  std::string client =
      peer_addr_.empty() ? std::string("LOCAL") : fmt::format("[{}]:{}", peer_addr_, peer_port_);
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
  if (InTransaction()) state_ = State::kGreeted;
  recipients_.clear();
  accepted_ = 0;
  bdat_framer_.reset();
  bdat_received_ = 0;
  header_meter_.reset();
  intake_ = Intake::kWhole;
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
  if (InTransaction()) ResetTransaction();
}

}  // namespace

asio::awaitable<void> RunSession(net::Socket socket, SessionEnvironment environment,
                                 sockaddr_storage peer) {
  Session session(std::move(socket), environment, peer);
  co_await session.Run();
}

}  // namespace mailsift::smtp
