// cli/main.cc — the one program, `mailsift`, and its verbs.
//
//   mailsift foreground [--config FILE]    run in the foreground, log to stderr
//   mailsift check-config [--config FILE]  validate the config; exit 0, or 78 naming each problem
//
// Exit codes follow sysexits(3): 64 bad command line, 78 config error, 71 OS error.
#include <signal.h>
#include <sysexits.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>

#include "config/config.h"
#include "filter/server.h"
#include "log/log.h"

namespace {

constexpr const char* kDefaultConfig = "/etc/mailsift/mailsift.toml";

// Loads the config, printing every problem. nullopt means: exit EX_CONFIG.
std::optional<mailsift::config::Config> LoadOrReport(const std::string& path, bool explicit_path) {
  if (!explicit_path && !std::filesystem::exists(path)) {
    mailsift::log::Info("no {}: using the built-in defaults", path);
    return mailsift::config::DefaultConfig();
  }
  auto config = mailsift::config::LoadConfig(path);
  if (!config) {
    for (const auto& problem : config.error().items) {
      std::fprintf(stderr, "mailsift: config error: %s\n", problem.c_str());
    }
    return std::nullopt;
  }
  return std::move(*config);
}

int Foreground(const std::string& path, bool explicit_path) {
  auto config = LoadOrReport(path, explicit_path);
  if (!config) return EX_CONFIG;
  // Signals are taken synchronously by a dedicated thread, so no handler runs in the I/O
  // threads. SIGPIPE is ignored: a peer that goes away is an error return, not a death.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  mailsift::filter::Server server(std::move(*config));
  if (auto status = server.Listen(); !status) {
    mailsift::log::Error("{}", status.error().message);
    return EX_OSERR;
  }
  std::thread signal_thread([&server, signals] {
    while (true) {
      int number = 0;
      if (sigwait(&signals, &number) != 0) continue;
      if (number == SIGHUP) {
        mailsift::log::Info("SIGHUP: reload needs the supervisor (mailsift start); ignored");
        continue;
      }
      mailsift::log::Info("{}: draining open sessions, then exiting",
                          number == SIGINT ? "SIGINT" : "SIGTERM");
      server.Drain(mailsift::config::Seconds(10));
      return;
    }
  });
  server.Run();
  mailsift::log::Info("stopped: {} sessions, {} messages relayed, {} tempfailed, {} rejected",
                      server.counters().sessions.load(), server.counters().messages_relayed.load(),
                      server.counters().messages_tempfailed.load(),
                      server.counters().messages_rejected.load());
  // Run ends only through the signal thread's Drain, so the thread has returned.
  signal_thread.join();
  return EX_OK;
}

int CheckConfig(const std::string& path) {
  auto config = mailsift::config::LoadConfig(path);
  if (!config) {
    for (const auto& problem : config.error().items) {
      std::fprintf(stderr, "mailsift: config error: %s\n", problem.c_str());
    }
    return EX_CONFIG;
  }
  std::printf("%s: ok (%zu listener%s, relay to %s, %s)\n", path.c_str(),
              config->listeners.size(), config->listeners.size() == 1 ? "" : "s",
              config->relay.next_hop.ToString().c_str(),
              std::string(mailsift::config::ToString(config->relay.mode)).c_str());
  return EX_OK;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mailsift: a content filter for mail servers (SMTP/LMTP proxy)", "mailsift"};
  app.set_version_flag("--version", std::string("mailsift ") + MAILSIFT_VERSION);
  app.require_subcommand(1);
  std::string config_path = kDefaultConfig;

  auto* foreground = app.add_subcommand("foreground", "Run in the foreground, logging to stderr");
  auto* foreground_config =
      foreground->add_option("-c,--config", config_path, "Config file")->capture_default_str();
  auto* check = app.add_subcommand("check-config", "Validate the config file and exit");
  check->add_option("-c,--config", config_path, "Config file")->capture_default_str();

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

  if (foreground->parsed()) return Foreground(config_path, foreground_config->count() > 0);
  if (check->parsed()) return CheckConfig(config_path);
  std::cerr << app.help();
  return EX_USAGE;
}
