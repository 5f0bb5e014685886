// smtp/reply_table.h — every SMTP reply mailsift itself composes, in one table.
//
// As Postfix keeps every text a remote peer can see in one place (cleanup_strerror.c), each
// reply mailsift sends is a ReplyId here: code, enhanced status code (RFC 3463; RFC 2034 says
// every reply after the greeting carries one) and text. Texts never contain internal detail
// beyond the placeholder a caller fills in (an address, a size, a mail id, the next hop's own
// reply). Replies relayed from the next hop are the next hop's words, not entries here.
// Thread-safe (constant data).
#pragma once

#include <string>
#include <string_view>

namespace mailsift::smtp {

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
  kCount
};

struct ReplyEntry {
  int code;
  const char* enhanced;  // "" for the greeting and HELO/EHLO, which carry none
  const char* text;      // may hold one "{}" placeholder
};

const ReplyEntry& Entry(ReplyId id);

// The wire form "CODE ENH TEXT\r\n" of a table entry, with `detail` in its placeholder.
std::string FormatReply(ReplyId id, std::string_view detail = {});

}  // namespace mailsift::smtp
