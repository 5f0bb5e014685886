// libFuzzer target: the SMTP command parser (one command line per input).
// Invariants: no crash, no sanitizer report; a parsed MAIL/RCPT address never holds a control
// character; XFORWARD formatting of parsed attributes parses back to the same attributes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "smtp/command.h"

using namespace mailsift::smtp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  if (!IsCleanCommandLine(line)) return 0;
  Command command = SplitCommand(line);
  CommandError error;
  switch (command.verb) {
    case Verb::kMail:
    case Verb::kRcpt: {
      auto path = command.verb == Verb::kMail ? ParseMailArgument(command.argument, error)
                                              : ParseRcptArgument(command.argument, error);
      if (path) {
        for (unsigned char c : path->address) {
          if (c < 0x20 || c == 0x7f) std::abort();
        }
      }
      break;
    }
    case Verb::kXforward: {
      XforwardAttributes attributes;
      if (ParseXforward(command.argument, attributes, error)) {
        auto commands = FormatXforward(
            attributes, {"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"});
        XforwardAttributes again;
        for (const auto& c : commands) {
          if (!ParseXforward(SplitCommand(c).argument, again, error)) std::abort();
        }
        if (again.name != attributes.name || again.addr != attributes.addr ||
            again.helo != attributes.helo || again.ident != attributes.ident) {
          std::abort();
        }
      }
      break;
    }
    case Verb::kBdat:
      ParseBdatArgument(command.argument);
      break;
    default:
      break;
  }
  return 0;
}
