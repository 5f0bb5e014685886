// cli/quarantine.h — `mailsift quarantine list|show|release`: the local quarantine
// (quarantine/quarantine.h) from the command line.
//
//   list              one line per message: mail id, time, category, action, sender,
//                     recipients, size, released or not
//   show MAIL_ID      the index entry, then the message as it was received
//   release MAIL_ID   relays the original bytes, under one Received: trace header of the
//                     release, to the configured next hop ([relay]) for the original
//                     recipients (or --to), prints the next hop's reply, records the release in
//                     the index and writes a line where the service logs ([log] file, else
//                     syslog); exit 0 only when the next hop accepted. A message released before
//                     is released again, with a warning on stderr and in the log.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace mailsift::cli {

struct QuarantineOptions {
  std::string verb;  // list | show | release
  std::string mail_id;
  std::vector<std::string> to;  // release: these recipients instead of the original ones
};

int RunQuarantine(const config::Config& config, const QuarantineOptions& options);

}  // namespace mailsift::cli
