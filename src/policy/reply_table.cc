// policy/reply_table.cc — see reply_table.h: the keyed texts of every reply a peer sees.
#include "policy/reply_table.h"

#include <fmt/format.h>

#include <array>

namespace mailsift::policy {
namespace {

constexpr std::array<ReplyEntry, static_cast<size_t>(ReplyId::kCount)> kTable = {{
    {220, "", "{} ESMTP mailsift service ready"},                        // kGreeting
    {220, "", "{} LMTP mailsift service ready"},                         // kGreetingLmtp
    {421, "4.3.2", "Service busy, too many sessions; try again later"},  // kServiceBusy
    {554, "5.7.1", "Access denied"},                                     // kAccessDenied
    {421, "4.3.2", "Service shutting down, closing channel"},            // kShuttingDown
    {421, "4.4.2", "Error: timeout exceeded"},                           // kCommandTimeout
    {421, "4.7.0", "Error: too many errors"},                            // kTooManyErrors
    {250, "2.0.0", "Ok"},                                                // kOk
    {250, "2.1.0", "Sender <{}> OK"},                                    // kSenderOk
    {250, "2.1.5", "Recipient <{}> OK"},                                 // kRecipientOk
    {354, "", "End data with <CR><LF>.<CR><LF>"},                        // kStartMailInput
    {221, "2.0.0", "Bye"},                                               // kBye
    {252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery"},
    {214, "2.0.0", "Commands: EHLO HELO LHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP"},
    {502, "5.5.1", "Error: command not recognized"},   // kUnknownCommand
    {502, "5.5.1", "Error: command not implemented"},  // kNotImplemented
    {503, "5.5.1", "Error: send HELO/EHLO first"},     // kNeedHelo
    {503, "5.5.1", "Error: need MAIL command"},        // kNeedMail
    {503, "5.5.1", "Error: nested MAIL command"},      // kNestedMail
    {503, "5.5.1", "Error: need RCPT command"},        // kNeedRcpt
    {503, "5.5.1", "Error: XFORWARD not allowed within a mail transaction"},
    {503, "5.5.1", "Error: DATA and BDAT cannot be mixed in one transaction"},
    {501, "5.5.4", "Syntax: {} hostname"},                         // kSyntaxHelo
    {501, "5.5.4", "Syntax: MAIL FROM:<address>"},                 // kSyntaxMail
    {501, "5.5.4", "Syntax: RCPT TO:<address>"},                   // kSyntaxRcpt
    {501, "5.5.4", "Syntax: {} takes no arguments"},               // kSyntaxNoArguments
    {501, "5.5.4", "Syntax: BDAT size [LAST]"},                    // kSyntaxBdat
    {501, "5.5.4", "Syntax: XFORWARD attribute=value..."},         // kSyntaxXforward
    {501, "5.1.7", "Bad sender address syntax"},                   // kBadSenderAddress
    {501, "5.1.3", "Bad recipient address syntax"},                // kBadRecipientAddress
    {555, "5.5.4", "Unsupported option: {}"},                      // kUnsupportedParameter
    {501, "5.5.4", "Bad parameter value: {}"},                     // kBadParameterValue
    {553, "5.6.7", "Non-ASCII address requires SMTPUTF8"},         // kSmtputf8Required
    {552, "5.3.4", "Message size exceeds fixed limit"},            // kDeclaredSizeTooBig
    {552, "5.3.4", "Message size exceeds size limit ({} bytes)"},  // kMessageTooBig
    {452, "4.5.3", "Error: too many recipients"},                  // kTooManyRecipients
    {500, "5.5.2", "Error: line too long"},                        // kLineTooLong
    {500, "5.5.2", "Error: bad syntax"},                           // kBadCharacters
    {554, "5.5.0", "Error: SMTP protocol synchronization"},        // kProtocolSynchronization
    {550, "5.5.2", "Error: bare <CR> or <LF> received"},           // kBareNewline
    {500, "5.5.1", "Error: this is an LMTP service; use LHLO"},    // kUseLhlo
    {500, "5.5.1", "Error: LHLO is LMTP; use EHLO or HELO"},       // kUseEhlo
    {554, "5.5.1", "Error: no valid recipients"},                  // kNoValidRecipients
    {250, "2.0.0", "Ok: {} octets received"},                      // kBdatChunkOk
    {451, "4.4.1", "id={} - Temporary failure: next hop not reachable"},
    {451, "4.4.7", "id={} - Temporary failure: next hop did not answer in time"},
    {451, "4.4.2", "id={} - Temporary failure: lost connection with next hop"},
    // The next hop's 4xx after our end of data, with its enhanced code when it gave a 4.x.x
    // one (FormatReplyWithEnhanced): "id=<mail id> - from MTA(<next hop>): <its reply>".
    {451, "4.0.0", "id={}"},  // kRelayTempfail
    {451, "4.5.0", "id={} - Temporary failure: next hop protocol error"},
    {250, "2.0.0", "{}"},                                                   // kRelayPassed
    {451, "4.3.0", "Error: local error in processing"},                     // kLocalError
    {250, "2.0.0", "Ok"},                                                   // kXforwardOk
    {451, "4.5.0", "id={} - Error in processing: content scan timed out"},  // kScanTimeout
    // The content verdicts, as amavisd's: "id=<mail id> - <reason>" (%smtp_reason_by_ccat).
    {554, "5.7.0", "Reject, id={}"},                          // kRejectContent
    {250, "2.7.0", "Ok, discarded, id={}"},                   // kDiscardContent
    {451, "4.7.0", "Temporary failure, id={}"},               // kTempfailContent
    {250, "2.5.0", "Ok, id={}, DISCARD(bounce.suppressed)"},  // kBounceSuppressed
    {552, "5.3.4", "Message header size exceeds limit"},      // kHeaderTooBig
    {554, "5.6.0", "Error: empty message"},                   // kEmptyMessage
    {421, "4.4.2", "Error: timeout exceeded while receiving a command line"},
    {421, "4.4.2", "Error: message data arriving too slowly"},  // kDataTooSlow
    // The next hop closed or reset the connection after our end of data, before its reply.
    {451, "4.4.2", "id={} - Temporary failure: next hop closed the connection"},
    {250, "", "{}"},  // kHeloOk
    {250, "",         // kEhloOk
     "{}\nPIPELINING\nSIZE {}\nVRFY\nENHANCEDSTATUSCODES\n8BITMIME\nSMTPUTF8\nDSN\nCHUNKING\n"
     "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE"},
}};

}  // namespace

const ReplyEntry& Entry(ReplyId id) { return kTable[static_cast<size_t>(id)]; }

namespace {

std::string Format(const ReplyEntry& entry, std::string_view enhanced, std::string_view detail,
                   std::string_view detail2) {
  const std::string text = fmt::format(fmt::runtime(entry.text), detail, detail2);
  std::string wire;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    const bool last = end == std::string::npos;
    const std::string_view line = std::string_view(text).substr(start, last ? end : end - start);
    const char separator = last ? ' ' : '-';
    if (enhanced.empty()) {
      wire += fmt::format("{}{}{}\r\n", entry.code, separator, line);
    } else {
      wire += fmt::format("{}{}{} {}\r\n", entry.code, separator, enhanced, line);
    }
    if (last) return wire;
    start = end + 1;
  }
}

}  // namespace

std::string FormatReply(ReplyId id, std::string_view detail, std::string_view detail2) {
  const ReplyEntry& entry = Entry(id);
  return Format(entry, entry.enhanced, detail, detail2);
}

std::string FormatReplyWithEnhanced(ReplyId id, std::string_view enhanced,
                                    std::string_view detail) {
  return Format(Entry(id), enhanced, detail, {});
}

}  // namespace mailsift::policy
