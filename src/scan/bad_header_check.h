// scan/bad_header_check.h — header syntax: amavisd-new's bad-header check.
//
// Run() looks at the top-level header section as amavisd's check_header_validity
// (Amavis/Unpackers/Validity.pm) does: the bytes before the first empty line (the whole
// message when there is none), cut into fields at lines that do not start with a blank. For
// each field, the first of these that applies is reported (one problem per field, at most 100):
//   6 "Invalid header field syntax" — no field name before a colon, or a name starting "--";
//     "Invalid header field name, contains non-ASCII char";
//   4 "Improper folded header field made up entirely of whitespace";
//   5 "Header line longer than 998 characters" (RFC 5322 §2.1.1);
//   3 "Improper use of control character" — NUL or CR (the message has LF line ends);
//   2 non-ASCII bytes: "Non-encoded non-ASCII data (and not UTF-8)", or "UTF-8 string contains
//     C1 Controls"; valid UTF-8 is reported ("Non-encoded UTF-8 string in non-EAI mail") only
//     with Options::utf8 (amavisd's 'utf8' test, off by default) and never when the envelope
//     said SMTPUTF8 (RFC 6531; MessageInput::smtputf8).
// Then, in amavisd's order: 7 "Missing required header field" for Date and From (RFC 5322
// §3.6), and 8 "Duplicate header field" / "Header field occurs more than once" for Date, From,
// Sender, Reply-To, To, Cc, Bcc, Subject, Message-ID, References, In-Reply-To, MIME-Version,
// Content-Type, Content-Transfer-Encoding, Content-ID, Content-Description,
// Content-Disposition, Auto-Submitted. Last, 1 "MIME error: …" for each structural error
// MIME::Parser would report (RFC 2046 §5.1.1): "multipart boundary is missing, or contains CR
// or LF", "unexpected end of preamble" (no delimiter), "part did not end with expected
// boundary" and "unexpected end of parts before epilogue" (no close delimiter), "unexpected
// end of header" (no empty line after the header section).
//
// The result (check.h): finding kBadHeader with one detail per problem in amavisd's words
// (bytes outside printable ASCII and valid UTF-8 written \x{XX}, as amavisd escapes them),
// and the sub-category amavisd chooses: the highest number among the problems found.
//
// Thread-safety: immutable; Run() may be called from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "scan/check.h"

namespace mailsift::mime {
class Message;
}

namespace mailsift::scan {

// amavisd's %allowed_header_tests beyond what the config has.
struct BadHeaderOptions {
  bool utf8 = false;  // report valid UTF-8 in a non-SMTPUTF8 message (amavisd: off)
};

class BadHeaderCheck : public Check {
 public:
  using Options = BadHeaderOptions;

  static std::unique_ptr<BadHeaderCheck> Create(const config::BadHeader& config,
                                                Options options = {});

  std::string_view name() const override { return "bad_header"; }
  // Parses the message and calls Inspect(). Not scanned when config.enabled is false.
  CheckResult Run(const MessageInput& message) const override;
  // The check on the raw message and its parse (for the MIME errors); `smtputf8`: the
  // envelope's MAIL FROM had the SMTPUTF8 parameter.
  CheckResult Inspect(std::string_view raw, const mime::Message& parsed, bool smtputf8) const;

 private:
  BadHeaderCheck(const config::BadHeader& config, Options options)
      : config_(config), options_(options) {}
  config::BadHeader config_;
  Options options_;
};

}  // namespace mailsift::scan
