// cli/quarantine.h — `mailsift quarantine list|show|release`: the local quarantine
// (quarantine/quarantine.h) from the command line.
//
//   list              one line per message: mail id, time, category, action, sender,
//                     recipients, size, released or not
//   show MAIL_ID      the index entry, then the message as it was received
//   release MAIL_ID   relays the original bytes to the configured next hop ([relay]) for the
//                     original recipients (or --to), prints the next hop's reply, and records
//                     the release in the index; exit 0 only when the next hop accepted
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
