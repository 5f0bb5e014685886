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
//   mailsift learn --spam|--ham|--forget [--dump] PATH…   sa-learn: the Bayes store
//                                           ([bayes] path) learns messages; --dump its counts
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
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/learn.h"
#include "cli/malloc_tuning.h"
#include "cli/quarantine.h"
#include "cli/scan.h"
#include "config/config.h"
#include "generation/generation.h"
#include "generation/prefilter.h"
#include "log/log.h"
#include "scan/checks.h"
#include "supervisor/control.h"
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

// --- talking to the supervisor ----------------------------------------------------------------

// Sends `request` to the supervisor that `config_path` names (supervisor/control.h) and prints
// its answer. `wait` bounds the time for the answer (zero: as long as the supervisor takes; it
// bounds its own handoffs by ready_timeout).
int Ask(const std::string& config_path, supervisor::Request request,
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
  supervisor::WriteLine(fd, supervisor::FormatRequest(request));
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
    if (request == supervisor::Request::kStop || request == supervisor::Request::kStopFast) {
      std::printf("stopped\n");
      return EX_OK;
    }
    std::fprintf(stderr, "mailsift: the supervisor closed the connection without an answer\n");
    return 1;
  }
  bool ok = answer.starts_with("ok");
  std::string text =
      answer.substr(answer.find(' ') == std::string::npos ? 0 : answer.find(' ') + 1);
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
  // Inherited by an upgraded supervisor and by every generation (see generation::ConfigureLog).
  ::setenv("MAILSIFT_LOG", log_file >= 0 ? "file" : "syslog", 1);
  if (config != nullptr) {
    generation::ConfigureLog(*config);
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
  auto* scan =
      add("scan", "Run the filter's checks and verdict on message files (as the config says)");
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
  scan->add_flag("--dump-texts", scan_options.dump_texts, "Print the texts rules see to stderr")
      ->group("");
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
  cli::LearnOptions learn_options;
  bool learn_spam = false, learn_ham = false, learn_forget = false;
  auto* learn = add("learn", "Learn messages as spam or ham into the Bayes store (sa-learn)");
  learn->footer(
      "PATH is a message file, a directory (recursive, sorted) or an mbox file. A message "
      "learned twice as the same class counts once; learned as the other class it moves. A path "
      "that cannot be read or is not a message is named on stderr and skipped.\n"
      "Exit status: 0 every message learned; 1 some failed; 64 bad command line; 74 the store "
      "cannot be opened; 78 config error.");
  auto* spam_flag = learn->add_flag("--spam", learn_spam, "Learn the messages as spam");
  auto* ham_flag = learn->add_flag("--ham", learn_ham, "Learn the messages as ham");
  auto* forget_flag = learn->add_flag("--forget", learn_forget, "Forget the messages");
  spam_flag->excludes(ham_flag)->excludes(forget_flag);
  ham_flag->excludes(forget_flag);
  learn->add_flag("--dump", learn_options.dump,
                  "Print the store's counts as sa-learn --dump magic (after learning)");
  learn->add_option("paths", learn_options.paths, "Message files, directories or mbox files");
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
  release->add_option("mail_id", quarantine_options.mail_id, "The message's mail_id")->required();
  release->add_option("--to", quarantine_options.to,
                      "Deliver to these recipients instead of the original ones");
  auto* run_generation = add("generation", "(internal) Run one generation of the filter");
  run_generation->group("");  // hidden from help
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
    rules::PrefilterOptions prefilter = generation::PrefilterDefaults(&*config);
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
                std::string(config::ToString(config->relay.mode)).c_str(), config->digest.c_str(),
                checks_summary.c_str());
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
    scan_options.prefilter = generation::PrefilterDefaults(&scan_config);
    return cli::RunScan(scan_config, scan_options);
  }
  if (learn->parsed()) {
    learn_options.mode = learn_spam     ? cli::LearnOptions::Mode::kSpam
                         : learn_ham    ? cli::LearnOptions::Mode::kHam
                         : learn_forget ? cli::LearnOptions::Mode::kForget
                                        : cli::LearnOptions::Mode::kNone;
    if (learn_options.mode == cli::LearnOptions::Mode::kNone && !learn_options.dump) {
      std::cerr << "mailsift: learn: give --spam, --ham, --forget or --dump\n\n" << learn->help();
      return EX_USAGE;
    }
    if ((learn_options.mode == cli::LearnOptions::Mode::kNone) != learn_options.paths.empty()) {
      const char* what = learn_options.paths.empty() ? "no PATH to learn"
                                                     : "a PATH needs --spam, --ham or --forget";
      std::cerr << "mailsift: learn: " << what << "\n\n" << learn->help();
      return EX_USAGE;
    }
    // As scan: the built-in defaults without the default config file (a --config given must
    // be read: never learn into the default store by mistake).
    config::Config learn_config = config::DefaultConfig();
    if (learn->count("--config") > 0 || std::filesystem::exists(config_path, ec)) {
      auto config = config::LoadConfig(config_path);
      if (!config) {
        PrintProblems(config.error());
        return EX_CONFIG;
      }
      learn_config = std::move(*config);
    }
    return cli::RunLearn(learn_config, learn_options);
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
  if (run_generation->parsed()) return generation::Run(absolute_config);
  using supervisor::Request;
  if (reload->parsed()) return Ask(absolute_config, Request::kReload);
  if (status->parsed()) {
    return Ask(absolute_config, status_json ? Request::kStatusJson : Request::kStatus);
  }
  if (upgrade->parsed()) {
    return Ask(absolute_config, Request::kUpgrade, supervisor::kUpgradeAnswerWait);
  }
  if (stop->parsed()) return Ask(absolute_config, fast ? Request::kStopFast : Request::kStop);

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
    generation::ConfigureLog(*config);
  }
  if (foreground->parsed()) return supervisor::Run(options);
  if (start->parsed()) return Start(options, config ? &*config : nullptr);
  std::cerr << app.help();
  return EX_USAGE;
}
