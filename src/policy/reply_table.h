// policy/reply_table.h — every reply mailsift itself composes, in one table.
//
// As Postfix keeps every text a remote peer can see in one place (cleanup_strerror.c), each
// reply mailsift sends is a ReplyId here: a key, a code, an enhanced status code (RFC 3463;
// RFC 2034 says every reply after the greeting and the HELO/EHLO reply carries one) and a
// text. Texts never contain internal detail beyond the placeholders a caller fills in (an
// address, a size, a mail id, the next hop's own reply). Replies relayed from the next hop are
// the next hop's words, not entries here. The table is front-end neutral: the SMTP session
// sends its entries, and the message policy (message_policy.h) names them in its decision, so
// that a milter front end can answer with the same words.
// Thread-safe (constant data).
#pragma once

#include <string>
#include <string_view>

namespace mailsift::policy {

enum class ReplyId {
  kGreeting,
  kGreetingLmtp,
  kServiceBusy,
  kAccessDenied,
  kShuttingDown,
  kCommandTimeout,
  kTooManyErrors,
  kOk,
  kSenderOk,
  kRecipientOk,
  kStartMailInput,
  kBye,
  kVrfyCannot,
  kHelp,
  kUnknownCommand,
  kNotImplemented,
  kNeedHelo,
  kNeedMail,
  kNestedMail,
  kNeedRcpt,
  kXforwardInTransaction,
  kMixedBdatData,
  kSyntaxHelo,
  kSyntaxMail,
  kSyntaxRcpt,
  kSyntaxNoArguments,
  kSyntaxBdat,
  kSyntaxXforward,
  kBadSenderAddress,
  kBadRecipientAddress,
  kUnsupportedParameter,
  kBadParameterValue,
  kSmtputf8Required,
  kDeclaredSizeTooBig,
  kMessageTooBig,
  kTooManyRecipients,
  kLineTooLong,
  kBadCharacters,
  kProtocolSynchronization,
  kBareNewline,
  kUseLhlo,
  kUseEhlo,
  kNoValidRecipients,
  kBdatChunkOk,
  kRelayUnreachable,
  kRelayTimeout,
  kRelayLost,
  kRelayTempfail,
  kRelayProtocolError,
  kRelayPassed,
  kLocalError,
  kXforwardOk,
  kScanTimeout,
  kRejectContent,
  kDiscardContent,
  kTempfailContent,
  kBounceSuppressed,
  kHeaderTooBig,
  kEmptyMessage,
  kCommandLineTimeout,
  kDataTooSlow,
  kRelayClosedAtEnd,
  kHeloOk,
  kEhloOk,
  kCount
};

struct ReplyEntry {
  int code;
  const char* enhanced;  // "" for the greeting and HELO/EHLO, which carry none
  const char* text;      // may hold "{}" placeholders; '\n' separates the lines of a
                         // multi-line reply (RFC 5321 §4.2.1)
};

const ReplyEntry& Entry(ReplyId id);

// The wire form "CODE ENH TEXT\r\n" of a table entry, with `detail` (and `detail2`) in its
// placeholders; a multi-line entry as "CODE-ENH LINE\r\n" lines, the last "CODE ENH LINE\r\n".
std::string FormatReply(ReplyId id, std::string_view detail = {}, std::string_view detail2 = {});
// The same with `enhanced` in place of the entry's enhanced status code (a next hop's own
// 4.x.x, relayed in our 451).
std::string FormatReplyWithEnhanced(ReplyId id, std::string_view enhanced,
                                    std::string_view detail = {});

}  // namespace mailsift::policy
