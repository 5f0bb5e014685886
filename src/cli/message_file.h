// cli/message_file.h — reading message files for the offline verbs (scan, learn).
//
// Thread-safety: functions of their arguments.
#pragma once

#include <string>

namespace mailsift::cli {

// Reads `file` whole into `out` (one allocation for a regular file); false when it cannot.
bool ReadMessageFile(const std::string& file, std::string& out);

// Makes `text` the message as the checks get it from SMTP, in place: no mbox "From " line (no
// MTA sends one in DATA), and LF line ends as the session makes them (a CR is dropped only
// before an LF).
void AsFromSmtp(std::string& text);

}  // namespace mailsift::cli
