// base/envelope.h — the SMTP envelope of one message, as every module that reads it sees it.
//
// The front end (the SMTP session, a milter) knows the envelope; `mailsift scan` of a file
// does not, and then leaves it empty. The rules (EnvelopeFrom), the verdict (sender lists,
// local recipients) and the message policy read it; none of them depends on another for it.
// Thread-safety: a plain value.
#pragma once

#include <string>
#include <vector>

namespace mailsift {

struct Envelope {
  std::string mail_from;             // MAIL FROM's address ("" for the null sender)
  std::vector<std::string> rcpt_to;  // the accepted recipients' addresses, in order
};

}  // namespace mailsift
