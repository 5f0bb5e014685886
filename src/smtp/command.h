// smtp/command.h — the pure SMTP/LMTP command codec (RFC 5321 §4.1, RFC 2033, RFC 1870,
// RFC 3461, RFC 6152, RFC 6531, RFC 3030, Postfix XFORWARD_README).
//
// Parses one command line (without its CRLF) into a verb and arguments, and MAIL/RCPT/XFORWARD
// arguments into addresses and parameters. Parsing never asserts on input: every malformed
// line yields a CommandError that names the reply to send. Pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/reply_table.h"

namespace mailsift::smtp {

// The session and the codec answer with the entries of the one reply table.
using policy::ReplyId;

enum class Verb {
  kHelo,
  kEhlo,
  kLhlo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kExpn,
  kHelp,
  kXforward,
  kStarttls,
  kAuth,
  kEtrn,
  kTurn,
  kUnknown
};

struct Command {
  Verb verb = Verb::kUnknown;
  std::string_view verb_text;  // as sent
  std::string_view argument;   // after the verb and one or more spaces; may be empty
};

// Splits a command line. The caller has already checked the line for NUL and length.
Command SplitCommand(std::string_view line);

// True if the line holds only printable ASCII, spaces and tabs, plus UTF-8 (bytes >= 0x80,
// which SMTPUTF8 allows in addresses). NUL and other controls make it false.
bool IsCleanCommandLine(std::string_view line);

struct Parameter {
  std::string keyword;  // upper case
  std::string value;    // as sent (xtext stays encoded)
  bool has_value = false;
};

// A MAIL FROM or RCPT TO argument. `address` is the text between < and > (may be empty for
// the null sender); `parameters` in the order sent.
struct PathArgument {
  std::string address;
  std::vector<Parameter> parameters;

  const Parameter* Find(std::string_view keyword) const;
};

struct CommandError {
  ReplyId reply;
  std::string detail;  // fills the reply's {} placeholder where it has one
};

// Parses "FROM:<a@b> SIZE=123 BODY=8BITMIME" (for MAIL) or "TO:<c@d> NOTIFY=NEVER" (for RCPT).
// Checks the syntax of every parameter that the verb supports (RFC 1870 SIZE, RFC 6152 BODY,
// RFC 6531 SMTPUTF8, RFC 3461 RET/ENVID/NOTIFY/ORCPT, RFC 4954 AUTH); unknown parameters are
// refused with 555 5.5.4.
std::optional<PathArgument> ParseMailArgument(std::string_view argument, CommandError& error);
std::optional<PathArgument> ParseRcptArgument(std::string_view argument, CommandError& error);

// XFORWARD attributes (Postfix XFORWARD_README): NAME ADDR PORT PROTO HELO IDENT SOURCE.
struct XforwardAttributes {
  std::optional<std::string> name, addr, port, proto, helo, ident, source;  // xtext-decoded
};
// Merges the attributes of one XFORWARD command into `attributes`.
bool ParseXforward(std::string_view argument, XforwardAttributes& attributes, CommandError& error);
// The XFORWARD commands (without CRLF) carrying `attributes`, limited to the attribute names
// the server announced, each command under 512 octets.
std::vector<std::string> FormatXforward(const XforwardAttributes& attributes,
                                        const std::vector<std::string>& announced_names);

// BDAT <size> [LAST] (RFC 3030 §2).
struct BdatArgument {
  uint64_t size = 0;
  bool last = false;
};
std::optional<BdatArgument> ParseBdatArgument(std::string_view argument);

// RFC 3461 §4 xtext.
std::optional<std::string> DecodeXtext(std::string_view text);
std::string EncodeXtext(std::string_view text);

}  // namespace mailsift::smtp
