// cli/quarantine.cc — see quarantine.h.
#include "cli/quarantine.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pwd.h>
#include <sysexits.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "log/log.h"
#include "quarantine/quarantine.h"
#include "smtp/relay_client.h"
#include "smtp/trace.h"
#include "spool/spool.h"

namespace mailsift::cli {
namespace {

std::string Recipients(const std::vector<std::string>& recipients) {
  std::string out;
  for (const std::string& r : recipients) out += fmt::format("{}<{}>", out.empty() ? "" : ",", r);
  return out;
}

int List(const quarantine::Store& store) {
  auto entries = store.List();
  if (!entries) {
    std::fprintf(stderr, "mailsift: %s\n", entries.error().message.c_str());
    return EX_NOINPUT;
  }
  for (const auto& e : *entries) {
    std::printf("%s\n", fmt::format("{}  {}  {}  {}  <{}> -> {}  size {}{}", e.mail_id, e.time,
                                    e.category, e.action, e.sender, Recipients(e.recipients),
                                    e.size, e.released.empty() ? "" : "  released")
                            .c_str());
  }
  return EX_OK;
}

// The index entry and the bytes of one quarantined message; prints why not and returns false.
bool Load(const quarantine::Store& store, const std::string& mail_id, quarantine::Entry& entry,
          std::string& bytes) {
  auto found = store.Find(mail_id);
  auto read = found ? store.Read(*found) : Result<std::string>(tl::unexpected(found.error()));
  if (!read) {
    std::fprintf(stderr, "mailsift: %s\n", read.error().message.c_str());
    return false;
  }
  entry = std::move(*found);
  bytes = std::move(*read);
  return true;
}

int Show(const quarantine::Store& store, const std::string& mail_id) {
  quarantine::Entry found;
  std::string content;
  if (!Load(store, mail_id, found, content)) return EX_NOINPUT;
  const quarantine::Entry* entry = &found;
  const std::string* bytes = &content;
  std::printf("%s", fmt::format("mail_id: {}\ntime: {}\ncategory: {}\naction: {}\nfrom: <{}>\n"
                                "to: {}\nsize: {}\nfile: {}\nreleased: {}\n\n",
                                entry->mail_id, entry->time, entry->category, entry->action,
                                entry->sender, Recipients(entry->recipients), entry->size,
                                entry->file, entry->released.empty() ? "no" : entry->released)
                        .c_str());
  std::fwrite(bytes->data(), 1, bytes->size(), stdout);
  return EX_OK;
}

// Hands the message to the next hop; the next hop's final reply, or why it failed.
asio::awaitable<void> Relay(const config::Config& config, const quarantine::Entry& entry,
                            const std::vector<std::string>& recipients,
                            std::string_view trace_header, const spool::Spool& message,
                            bool& accepted, std::string& outcome) {
  auto executor = co_await asio::this_coro::executor;
  auto deadline = net::Clock::now() + std::chrono::duration_cast<net::Clock::duration>(
                                          config.timeouts.message_deadline);
  smtp::RelayClient client(executor, config.relay, config.timeouts, config.hostname);
  if (auto failure = co_await client.Open(deadline); failure != smtp::RelayFailure::kNone) {
    outcome = fmt::format("{}: {}", client.name(), smtp::Describe(failure));
    co_return;
  }
  std::vector<std::string> commands = {fmt::format("MAIL FROM:<{}>", entry.sender)};
  for (const std::string& r : recipients) commands.push_back(fmt::format("RCPT TO:<{}>", r));
  auto envelope = co_await client.SendCommands(commands, deadline);
  if (envelope.failure != smtp::RelayFailure::kNone) {
    outcome = fmt::format("{}: {}", client.name(), smtp::Describe(envelope.failure));
    co_return;
  }
  size_t accepted_recipients = 0;
  for (size_t i = 0; i < envelope.replies.size(); ++i) {
    const smtp::Reply& reply = envelope.replies[i];
    if (reply.Class() != 2) {
      outcome = fmt::format("{} refused {}: {}", client.name(), commands[i], reply.OneLine());
      if (i == 0) co_return;  // the sender
      continue;
    }
    if (i > 0) ++accepted_recipients;
  }
  if (accepted_recipients == 0) co_return;
  auto result = co_await client.SendMessage(trace_header, message, accepted_recipients, deadline);
  if (result.failure != smtp::RelayFailure::kNone || result.replies.empty()) {
    outcome = fmt::format("{}: {}", client.name(), smtp::Describe(result.failure));
    co_return;
  }
  accepted = result.replies.back().Class() == 2;
  outcome = result.replies.back().OneLine();
  client.Quit();
}

// The name of whoever runs the command, for the log ("root", or the sudo user behind it).
std::string Operator() {
  std::string name = std::to_string(::getuid());
  if (const passwd* pw = ::getpwuid(::getuid())) name = pw->pw_name;
  if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr && *sudo != '\0') {
    name += fmt::format(" (sudo by {})", sudo);
  }
  return name;
}

// The release's lines go where the service's lines go: appended to [log] file when one is
// set, else to syslog with the service's ident and facility.
void ConfigureReleaseLog(const config::Config& config) {
  if (!config.log.file.empty()) {
    int fd = ::open(config.log.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd >= 0) {
      log::Configure({log::Level::kInfo, true, false, config.log.syslog_ident,
                      config.log.syslog_facility, fd});
      return;
    }
    std::fprintf(stderr, "mailsift: warning: cannot open log.file %s: %s; logging to syslog\n",
                 config.log.file.c_str(), std::strerror(errno));
  }
  log::Configure(
      {log::Level::kInfo, false, true, config.log.syslog_ident, config.log.syslog_facility});
}

// The trace header the released copy carries on top (RFC 5321 §4.4: each handling adds one),
// so the recipient's MTA and an admin reading the headers see it came out of the quarantine.
std::string ReleaseTraceHeader(const config::Config& config, const quarantine::Entry& entry,
                               const std::vector<std::string>& recipients) {
  return fmt::format("Received: by {} (mailsift, quarantine release) id {}{};\r\n {}\r\n",
                     config.hostname, entry.mail_id,
                     recipients.size() == 1 ? fmt::format("\r\n for <{}>", recipients[0]) : "",
                     smtp::Rfc5322Date(std::chrono::system_clock::now()));
}

int Release(const config::Config& config, const quarantine::Store& store,
            const QuarantineOptions& options) {
  quarantine::Entry entry;
  std::string bytes;
  if (!Load(store, options.mail_id, entry, bytes)) return EX_NOINPUT;
  ConfigureReleaseLog(config);
  const std::vector<std::string>& recipients = options.to.empty() ? entry.recipients : options.to;
  const std::string who = Operator();
  if (entry.releases > 0) {
    std::string earlier = fmt::format(
        "{} was already released{} ({}), {} time{}; releasing it again delivers another copy",
        entry.mail_id, entry.released_time.empty() ? "" : " at " + entry.released_time,
        entry.released, entry.releases, entry.releases == 1 ? "" : "s");
    std::fprintf(stderr, "mailsift: warning: %s\n", earlier.c_str());
    log::Warn("({}) quarantine release by {}: {}", entry.mail_id, who, earlier);
  }
  spool::Spool message(config.spool.directory, config.spool.memory_limit);
  if (auto appended = message.Append(bytes); !appended) {
    std::fprintf(stderr, "mailsift: %s\n", appended.error().message.c_str());
    return EX_IOERR;
  }
  bool accepted = false;
  std::string outcome;
  asio::io_context io;
  const std::string trace = ReleaseTraceHeader(config, entry, recipients);
  asio::co_spawn(io, Relay(config, entry, recipients, trace, message, accepted, outcome),
                 asio::detached);
  io.run();
  const std::string facts = fmt::format("<{}> -> {}, file {}, category {}, by {}", entry.sender,
                                        Recipients(recipients), entry.file, entry.category, who);
  if (!accepted) {
    log::Warn("({}) quarantine release failed: {}: {}", entry.mail_id, facts, outcome);
    std::fprintf(stderr, "mailsift: release of %s failed: %s\n", entry.mail_id.c_str(),
                 outcome.c_str());
    return EX_TEMPFAIL;
  }
  log::Info("({}) quarantine release{}: {}, next hop: {}", entry.mail_id,
            entry.releases > 0 ? fmt::format(" #{}", entry.releases + 1) : "", facts, outcome);
  if (auto marked = store.MarkReleased(entry.mail_id, outcome); !marked) {
    log::Warn("({}) released, but {}", entry.mail_id, marked.error().message);
    std::fprintf(stderr, "mailsift: released, but %s\n", marked.error().message.c_str());
  }
  std::printf("released %s to %s: %s\n", entry.mail_id.c_str(), Recipients(recipients).c_str(),
              outcome.c_str());
  return EX_OK;
}

}  // namespace

int RunQuarantine(const config::Config& config, const QuarantineOptions& options) {
  if (config.quarantine.directory.empty()) {
    std::fprintf(stderr, "mailsift: no quarantine configured (quarantine.directory is \"\")\n");
    return EX_CONFIG;
  }
  quarantine::Store store(config.quarantine.directory);
  if (options.verb == "list") return List(store);
  if (options.verb == "show") return Show(store, options.mail_id);
  return Release(config, store, options);
}

}  // namespace mailsift::cli
