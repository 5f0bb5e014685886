// cli/main.cc — the one program, `mailsift`, and its verbs.
//
//   mailsift foreground   [--config FILE]   supervisor + generations, attached, logs to stderr
//   mailsift start        [--config FILE]   the same, daemonized; returns once mail is served
//   mailsift stop         [--config FILE] [--fast]
//   mailsift reload       [--config FILE]   synchronous: exit 0 only once the new generation serves
//   mailsift upgrade      [--config FILE]   the supervisor re-executes the program on disk in
//                                           place (same PID); exit 0 once the new program has
//                                           adopted everything, else 1 and the old one goes on
//   mailsift status       [--config FILE]
//   mailsift check-config [--config FILE]   exit 0, or 78 naming each problem by key
//   mailsift scan [--json] [--timing] FILE…  offline: the filter's checks and verdict per message
//   mailsift generation   [--config FILE]   (internal) one generation; started by the supervisor,
//                                           or standalone for debugging
//   mailsift prefilter-build                (internal) builds the prefilter's databases for the
//                                           process that started it (stdin → stdout)
//   mailsift check-upgrade [--config FILE]  (internal) run by the supervisor on the program on
//                                           disk before an upgrade execs it: says that this
//                                           program can adopt the supervisor's state and that
//                                           it reads the config
//
// --config is made absolute once, before anything changes directory (`start` runs from "/"),
// and a config file that cannot be read is an error for every verb.
//
// Exit codes follow sysexits(3): 64 bad command line, 69 supervisor unreachable, 78 config
// error, 71 OS error; 1 when a request was refused (e.g. a reload with a broken config).
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <iostream>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/malloc_tuning.h"
#include "cli/prefilter.h"
#include "cli/quarantine.h"
#include "cli/scan.h"
#include "scan/checks.h"
#include "config/config.h"
#include "filter/server.h"
#include "log/log.h"
#include "supervisor/protocol.h"
#include "supervisor/supervisor.h"

namespace {

using namespace mailsift;

constexpr const char* kDefaultConfig = "/etc/mailsift/mailsift.toml";

void PrintProblems(const config::Problems& problems) {
  for (const auto& problem : problems.items) {
    std::fprintf(stderr, "mailsift: config error: %s\n", problem.c_str());
  }
}

std::string ProgramPath(const char* argv0) {
  char buffer[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (n > 0) {
    std::string path(buffer, static_cast<size_t>(n));
    const std::string deleted = " (deleted)";
    if (path.ends_with(deleted)) path.resize(path.size() - deleted.size());
    return path;
  }
  std::error_code ec;
  return std::filesystem::absolute(argv0, ec).string();
}

// --- the generation ---------------------------------------------------------------------------

bool DropPrivileges(const config::Config& config, std::string& error) {
  const auto& s = config.supervisor;
  uid_t uid = 0;
  gid_t gid = 0;
  if (!s.user.empty()) {
    passwd* pw = ::getpwnam(s.user.c_str());
    if (!pw) {
      error = "supervisor.user: no user \"" + s.user + "\"";
      return false;
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  if (!s.group.empty()) {
    group* gr = ::getgrnam(s.group.c_str());
    if (!gr) {
      error = "supervisor.group: no group \"" + s.group + "\"";
      return false;
    }
    gid = gr->gr_gid;
  }
  if (!s.chroot.empty()) {
    if (::chroot(s.chroot.c_str()) != 0 || ::chdir("/") != 0) {
      error = "supervisor.chroot: " + s.chroot + ": " + std::strerror(errno);
      return false;
    }
  }
  if (!s.user.empty() || !s.group.empty()) {
    if (::setgroups(0, nullptr) != 0 && errno != EPERM) {
      error = std::string("setgroups: ") + std::strerror(errno);
      return false;
    }
    if (::setgid(gid) != 0 || (!s.user.empty() && ::setuid(uid) != 0)) {
      error = "cannot switch to user \"" + s.user + "\": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

// The config's [log] settings: syslog with its ident and facility when asked for (or when the
// supervisor runs detached, MAILSIFT_LOG=syslog), stderr unless detached.
void ConfigureLog(const config::Config& config) {
  const char* where = std::getenv("MAILSIFT_LOG");
  const bool detached = where != nullptr && std::string_view(where) == "syslog";
  if (!detached && !config.log.syslog) return;
  log::Configure({log::Level::kInfo, !detached, true, config.log.syslog_ident,
                  config.log.syslog_facility});
}

int Generation(const std::string& path) {
  int channel = -1;
  if (const char* fd = std::getenv(std::string(supervisor::kControlFdVariable).c_str())) {
    channel = std::atoi(fd);
    ::unsetenv(std::string(supervisor::kControlFdVariable).c_str());
    ::fcntl(channel, F_SETFD, FD_CLOEXEC);
  }
  auto fail = [&](const std::string& reason, int code) {
    log::Error("{}", reason);
    if (channel >= 0) supervisor::WriteLine(channel, "FAILED " + reason);
    return code;
  };
  // The supervisor orchestrates: a terminal's Ctrl-C or a HUP is its business, not ours.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR2}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto loaded = config::LoadConfig(path);
  if (!loaded) {
    std::string reasons;
    for (const auto& p : loaded.error().items) reasons += (reasons.empty() ? "" : "; ") + p;
    return fail("config: " + reasons, EX_CONFIG);
  }
  config::Config config = std::move(*loaded);
  config::Seconds drain_timeout = config.supervisor.drain_timeout;
  ConfigureLog(config);
  std::promise<void> privileges_dropped;
  const rules::PrefilterOptions prefilter = rules::PrefilterOptions::FromEnvironment(
      cli::GenerationPrefilter(config, privileges_dropped.get_future().share()));

  // The checks (the rules read and compiled) are built before anything is served: a broken
  // ruleset or banned pattern fails this generation, and on a reload the running one keeps
  // serving.
  std::unique_ptr<scan::Pipeline> pipeline;
  std::string rules_digest;
  {
    auto built = scan::BuildChecks(config, prefilter);
    if (!built) return fail(built.error().message, EX_CONFIG);
    for (const std::string& summary : built->summaries) log::Info("{}", summary);
    rules_digest = built->rules_digest;
    if (!built->checks.empty()) {
      pipeline = std::make_unique<scan::Pipeline>(std::move(built->checks),
                                                  config.spam.scan_threads);
    }
  }
  filter::Server server(config, std::move(pipeline));
  auto passed = supervisor::TakeListenFds();
  if (channel >= 0 || !passed.empty()) {
    std::vector<int> fds;
    for (const auto& listener : config.listeners) {
      auto it = std::find_if(passed.begin(), passed.end(),
                             [&](const auto& p) { return p.name == listener.name; });
      if (it == passed.end()) return fail("listener " + listener.name + " was not passed", 71);
      fds.push_back(it->fd);
    }
    for (const auto& p : passed) {
      if (std::find(fds.begin(), fds.end(), p.fd) == fds.end()) ::close(p.fd);
    }
    if (auto status = server.Adopt(fds); !status) return fail(status.error().message, EX_OSERR);
  } else if (auto status = server.Listen(); !status) {
    return fail(status.error().message, EX_OSERR);
  }
  std::string error;
  if (!DropPrivileges(config, error)) return fail(error, EX_NOPERM);
  privileges_dropped.set_value();
  // Checked as the user we now are (and inside the chroot, if any).
  if (::access(config.spool.directory.c_str(), W_OK | X_OK) != 0) {
    return fail("spool.directory: \"" + config.spool.directory + "\" is not a writable directory",
                EX_CONFIG);
  }

  std::thread runner([&server] { server.Run(); });
  std::thread signal_thread([&server, signals] {
    int number = 0;
    while (sigwait(&signals, &number) == 0) {
      if (number == SIGTERM) {
        server.Stop();
        return;
      }
    }
  });
  auto status_line = [&server] { return "STATUS " + server.StatusFields(); };
  if (channel >= 0) {
    if (!rules_digest.empty()) supervisor::WriteLine(channel, "RULES " + rules_digest);
    supervisor::WriteLine(channel, "READY");
    std::string buffer;
    bool draining = false;
    bool told_stopped_accepting = false;
    while (!server.stopped()) {
      // Once every thread has closed its listening socket copy, the supervisor may tell the
      // `mailsift reload` that asked that only the new generation accepts now.
      if (draining && !told_stopped_accepting && server.accepting_stopped()) {
        told_stopped_accepting = supervisor::WriteLine(channel, "STOPPED_ACCEPTING");
      }
      pollfd fd{channel, POLLIN, 0};
      if (::poll(&fd, 1, draining && !told_stopped_accepting ? 5 : 200) <= 0) continue;
      char chunk[512];
      ssize_t n = ::recv(channel, chunk, sizeof chunk, 0);
      if (n <= 0) {
        // The supervisor is gone: finish what we have and leave.
        if (!draining) server.Drain(drain_timeout);
        break;
      }
      buffer.append(chunk, static_cast<size_t>(n));
      for (const auto& line : supervisor::TakeLines(buffer)) {
        if (line == "DRAIN" && !draining) {
          draining = true;
          server.Drain(drain_timeout);
        } else if (line == "STATUS") {
          supervisor::WriteLine(channel, status_line());
        }
      }
    }
  } else {
    log::Info("running standalone (no supervisor): SIGTERM stops");
  }
  runner.join();
  if (channel >= 0) supervisor::WriteLine(channel, status_line());
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  return EX_OK;
}

// --- talking to the supervisor ----------------------------------------------------------------

// Sends `request` to the supervisor that `config_path` names and prints its answer. `wait`
// bounds the time for the answer (zero: as long as the supervisor takes; it bounds its own
// handoffs by ready_timeout).
int Request(const std::string& config_path, const std::string& request,
            std::chrono::seconds wait = std::chrono::seconds(0)) {
  // The control socket is read from the file leniently (a reload must reach the supervisor to
  // have a broken file refused with the reason), but a file that cannot be read at all names
  // no supervisor: never fall back to the default socket without a word.
  if (::access(config_path.c_str(), R_OK) != 0) {
    std::fprintf(stderr, "mailsift: %s: cannot read the config file: %s\n", config_path.c_str(),
                 std::strerror(errno));
    return EX_CONFIG;
  }
  std::string socket_path = config::ControlSocketOf(config_path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "mailsift: cannot reach the supervisor at %s: %s\n", socket_path.c_str(),
                 std::strerror(errno));
    ::close(fd);
    return EX_UNAVAILABLE;
  }
  supervisor::WriteLine(fd, request);
  std::string answer;
  char chunk[4096];
  const auto until = std::chrono::steady_clock::now() + wait;
  while (true) {
    if (wait.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      until - std::chrono::steady_clock::now())
                      .count();
      pollfd readable{fd, POLLIN, 0};
      if (left <= 0 || ::poll(&readable, 1, static_cast<int>(left)) == 0) {
        std::fprintf(stderr, "mailsift: no answer from the supervisor at %s within %lld s\n",
                     socket_path.c_str(), static_cast<long long>(wait.count()));
        ::close(fd);
        return 1;
      }
    }
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  if (answer.empty()) {
    // stop: the supervisor closes the connection as it exits.
    if (request.starts_with("stop")) {
      std::printf("stopped\n");
      return EX_OK;
    }
    std::fprintf(stderr, "mailsift: the supervisor closed the connection without an answer\n");
    return 1;
  }
  bool ok = answer.starts_with("ok");
  std::string text = answer.substr(answer.find(' ') == std::string::npos ? 0 : answer.find(' ') + 1);
  std::fputs(text.c_str(), ok ? stdout : stderr);
  if (!text.ends_with("\n")) std::fputs("\n", ok ? stdout : stderr);
  return ok ? EX_OK : 1;
}

// --- start ------------------------------------------------------------------------------------

int Start(supervisor::Options options, const config::Config* config) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return EX_OSERR;
  pid_t pid = ::fork();
  if (pid < 0) return EX_OSERR;
  if (pid > 0) {
    ::close(pipe_fds[1]);
    std::string answer;
    char chunk[512];
    ssize_t n;
    while ((n = ::read(pipe_fds[0], chunk, sizeof chunk)) > 0) {
      answer.append(chunk, static_cast<size_t>(n));
      if (answer.find('\n') != std::string::npos) break;
    }
    if (answer.starts_with("ok ")) {
      std::printf("mailsift started: %s", answer.substr(3).c_str());
      return EX_OK;
    }
    std::fprintf(stderr, "mailsift: start failed: %s",
                 answer.empty() ? "the supervisor exited\n" : answer.substr(6).c_str());
    return 1;
  }
  ::close(pipe_fds[0]);
  ::setsid();
  if (::fork() > 0) ::_exit(0);  // not a session leader: never reacquires a terminal
  if (::chdir("/") != 0) ::_exit(EX_OSERR);
  // [log] file: the supervisor and every generation write their stderr lines to it.
  int log_file = -1;
  if (config != nullptr && !config->log.file.empty()) {
    log_file = ::open(config->log.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_file < 0) {
      supervisor::WriteLine(pipe_fds[1], fmt::format("error log.file: cannot open {}: {}",
                                                     config->log.file, std::strerror(errno)));
      ::_exit(EX_CANTCREAT);
    }
  }
  int null = ::open("/dev/null", O_RDWR);
  ::dup2(null, 0);
  ::dup2(null, 1);
  ::dup2(log_file >= 0 ? log_file : null, 2);
  if (null > 2) ::close(null);
  if (log_file > 2) ::close(log_file);
  // Inherited by an upgraded supervisor and by every generation (see ConfigureLog).
  ::setenv("MAILSIFT_LOG", log_file >= 0 ? "file" : "syslog", 1);
  if (config != nullptr) {
    ConfigureLog(*config);
  } else {
    log::Configure({log::Level::kInfo, false, true, "mailsift"});
  }
  // Out of the way of low fd numbers that libraries (syslog) open and close behind our back.
  options.ready_fd = ::fcntl(pipe_fds[1], F_DUPFD_CLOEXEC, 100);
  ::close(pipe_fds[1]);
  ::_exit(supervisor::Run(options));
}

}  // namespace

int main(int argc, char** argv) {
  mailsift::cli::RestartWithMallocTuning(argv);
  ::signal(SIGPIPE, SIG_IGN);  // a peer that goes away is an error return, not our death
  if (const char* where = std::getenv("MAILSIFT_LOG"); where && std::string(where) == "syslog") {
    log::Configure({log::Level::kInfo, false, true, "mailsift"});
  }
  CLI::App app{"mailsift: a content filter for mail servers (SMTP/LMTP proxy)", "mailsift"};
  app.require_subcommand(1);
  app.set_version_flag("-V,--version", std::string("mailsift ") + MAILSIFT_VERSION);
  std::string config_path = kDefaultConfig;
  bool fast = false;

  auto add = [&](const char* name, const char* help) {
    auto* command = app.add_subcommand(name, help);
    command->add_option("-c,--config", config_path, "Config file")->capture_default_str();
    return command;
  };
  auto* foreground = add("foreground", "Run the supervisor attached, logging to stderr");
  auto* start = add("start", "Start the supervisor in the background (returns once serving)");
  auto* stop = add("stop", "Stop: drain open sessions, then exit");
  stop->add_flag("--fast", fast, "Stop now, cutting open sessions");
  auto* reload = add("reload", "Hand over to a new generation with the current config");
  auto* upgrade = add("upgrade", "Re-execute the supervisor from the program on disk");
  auto* status = add("status", "Show generations, sessions and counters");
  bool status_json = false;
  status->add_flag("--json", status_json, "One JSON object, every counter and histogram bucket");
  auto* check = add("check-config", "Validate the config file and exit");
  cli::ScanOptions scan_options;
  std::vector<std::string> scan_rule_dirs;
  std::string scan_site_dir;
  auto* scan = add("scan",
                   "Run the filter's checks and verdict on message files (as the config says)");
  scan->footer(
      "Each message gets the category the filter would give it (CLEAN, BAD-HEADER, SPAMMY, "
      "SPAM, UNCHECKED, BANNED, VIRUS), its action, every check's finding and the spam score "
      "against the config's tag2_level/kill_level. Without --envelope-from the rules guess the "
      "sender from the headers, as spamassassin -t does.\n"
      "Exit status: 0 every message checked, none VIRUS, BANNED or UNCHECKED (ham or spam); "
      "1 some message is VIRUS or BANNED; 75 some message is UNCHECKED (the filter tempfails "
      "it); 66 a file cannot be read; 78 the config or the checks are refused.");
  scan->add_flag("--json", scan_options.json, "One JSON object per message");
  scan->add_flag("--timing", scan_options.timing, "Print load time and CPU per message to stderr");
  scan->add_flag("--dump-texts", scan_options.dump_texts, "Print the texts rules see to stderr")->group("");
  scan->add_option("--envelope-from", scan_options.envelope_from,
                   "The SMTP envelope sender (as the proxy passes it to the rules)");
  scan->add_option("--envelope-to", scan_options.rcpt_to,
                   "The SMTP envelope recipients (spam.local_domains)");
  scan->add_option("--rules-dir", scan_rule_dirs,
                   "Rule directories, first existing (default: the config's spam.rule_dirs)");
  scan->add_option("--site-dir", scan_site_dir,
                   "Site config directory, *.pre and *.cf (default: the config's spam.site_dir)");
  scan->add_option("--threads", scan_options.threads,
                   "Messages scanned at once, sharing the compiled rules (output in file order)")
      ->check(CLI::Range(1, 64));
  scan->add_option("files", scan_options.files, "Message files")->required();
  cli::QuarantineOptions quarantine_options;
  auto* quarantine = add("quarantine", "List, show or release quarantined messages");
  quarantine->require_subcommand(1);
  quarantine->add_subcommand("list", "One line per quarantined message")->fallthrough();
  quarantine->add_subcommand("show", "The index entry and the message as received")
      ->fallthrough()
      ->add_option("mail_id", quarantine_options.mail_id, "The message's mail_id")
      ->required();
  auto* release = quarantine->add_subcommand(
      "release", "Relay the original message to the next hop ([relay] next_hop)");
  release->fallthrough();
  release->add_option("mail_id", quarantine_options.mail_id, "The message's mail_id")
      ->required();
  release->add_option("--to", quarantine_options.to,
                      "Deliver to these recipients instead of the original ones");
  auto* generation = add("generation", "(internal) Run one generation of the filter");
  generation->group("");  // hidden from help
  auto* prefilter_build = app.add_subcommand(
      "prefilter-build", "(internal) Build the prefilter's databases for the filter that runs it");
  prefilter_build->group("");
  auto* check_upgrade = add("check-upgrade", "(internal) Can this program take over a supervisor?");
  check_upgrade->group("");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return EX_OK;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return EX_OK;
  } catch (const CLI::CallForVersion&) {
    std::cout << "mailsift " << MAILSIFT_VERSION << "\n";
    return EX_OK;
  } catch (const CLI::ParseError& error) {
    std::cerr << "mailsift: " << error.what() << "\n\n" << app.help();
    return EX_USAGE;
  }

  if (prefilter_build->parsed()) return rules::RunPrefilterBuilder();
  std::error_code ec;
  std::string absolute_config = std::filesystem::absolute(config_path, ec).lexically_normal();
  if (check_upgrade->parsed()) {
    // Run by the supervisor before an upgrade: the answer it waits for, or the reason.
    auto config = config::LoadConfig(absolute_config);
    if (!config) {
      PrintProblems(config.error());
      return EX_CONFIG;
    }
    std::printf("%s\n", supervisor::UpgradeReadiness().c_str());
    return EX_OK;
  }
  if (check->parsed()) {
    auto config = config::LoadConfig(config_path);
    if (!config) {
      PrintProblems(config.error());
      return EX_CONFIG;
    }
    // The rules are compiled to be checked, not used: no prefilter cache to read or build.
    rules::PrefilterOptions prefilter = cli::PrefilterDefaults(&*config);
    prefilter.mode = rules::PrefilterMode::kOff;
    auto built = scan::BuildChecks(*config, prefilter);
    if (!built) {
      std::fprintf(stderr, "%s: %s\n", config_path.c_str(), built.error().message.c_str());
      return EX_CONFIG;
    }
    std::string checks_summary = "no content checks";
    for (size_t i = 0; i < built->summaries.size(); ++i) {
      checks_summary = i == 0 ? built->summaries[i] : checks_summary + "; " + built->summaries[i];
    }
    std::printf("%s: ok (%zu listener%s, relay to %s, %s, config %s; %s)\n", config_path.c_str(),
                config->listeners.size(), config->listeners.size() == 1 ? "" : "s",
                config->relay.next_hop.ToString().c_str(),
                std::string(config::ToString(config->relay.mode)).c_str(),
                config->digest.c_str(), checks_summary.c_str());
    return EX_OK;
  }
  if (scan->parsed()) {
    // The config's checks and policy (the built-in defaults without a config file); the rule
    // directories given on the command line replace its [spam] ones.
    config::Config scan_config = config::DefaultConfig();
    if (std::filesystem::exists(config_path, ec)) {
      auto config = config::LoadConfig(config_path);
      if (!config) {
        PrintProblems(config.error());
        return EX_CONFIG;
      }
      scan_config = std::move(*config);
    }
    if (scan->count("--rules-dir") > 0) scan_config.spam.rule_dirs = scan_rule_dirs;
    if (scan->count("--site-dir") > 0) scan_config.spam.site_dir = scan_site_dir;
    scan_options.prefilter =
        rules::PrefilterOptions::FromEnvironment(cli::PrefilterDefaults(&scan_config));
    return cli::RunScan(scan_config, scan_options);
  }
  if (quarantine->parsed()) {
    auto config = config::LoadConfig(config_path);
    if (!config) {
      PrintProblems(config.error());
      return EX_CONFIG;
    }
    quarantine_options.verb = quarantine->get_subcommands().front()->get_name();
    return cli::RunQuarantine(*config, quarantine_options);
  }
  if (generation->parsed()) return Generation(absolute_config);
  if (reload->parsed()) return Request(absolute_config, "reload");
  if (status->parsed()) return Request(absolute_config, status_json ? "status json" : "status");
  if (upgrade->parsed()) {
    return Request(absolute_config, "upgrade", supervisor::kUpgradeAnswerWait);
  }
  if (stop->parsed()) return Request(absolute_config, fast ? "stop fast" : "stop");

  supervisor::Options options;
  options.config_path = absolute_config;
  options.program = ProgramPath(argv[0]);
  // Validate up front so that a broken config is reported before anything starts.
  auto config = config::LoadConfig(absolute_config);
  if (!config) {
    if (!std::getenv("MAILSIFT_SUPERVISOR_STATE")) {
      PrintProblems(config.error());
      return EX_CONFIG;
    }
  } else if (foreground->parsed()) {
    ConfigureLog(*config);
  }
  if (foreground->parsed()) return supervisor::Run(options);
  if (start->parsed()) return Start(options, config ? &*config : nullptr);
  std::cerr << app.help();
  return EX_USAGE;
}
