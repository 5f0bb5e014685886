// scan/virus_check.h — the virus check: asks ClamAV's clamd about each message.
//
// Run() opens one connection to clamd (virus.clamd: "unix:/path" or "host:port"), streams the
// message with zINSTREAM (chunks of a 4-byte big-endian length and data, a zero-length chunk
// at the end) and reads clamd's one reply. The bytes go as the pipeline holds them, LF line
// ends: amavisd-new hands clamd its mail file with LF line ends too, so signatures see the bytes
// they see under amavisd, and clamd's mail parser takes either. clamd decodes MIME, base64 and
// archives itself (ScanMail, ScanArchive: clamd's defaults).
//
// What the caller sees, in the CheckResult (check "virus"):
//   "stream: OK"            scanned, kNothing
//   "stream: <Name> FOUND"  scanned, kVirus, details: the virus names as clamd gives them
//   anything else           not scanned, kUnchecked, details: one line saying why, and
//                           skipped_reason, a word for counters:
//     "size"         over limits (subcategory 2, amavisd's UNCHECKED-OverLimits): the message
//                    is over virus.max_stream_size (clamd is not asked) or clamd replied
//                    "INSTREAM size limit exceeded" (its StreamMaxLength is smaller)
//     "unavailable"  clamd could not be reached: "clamd unix:/run/clamav/clamd.ctl: connect:
//                    No such file or directory", "… connect: Connection refused"
//     "timeout"      virus.timeout passed (it bounds the whole exchange: connect, send, reply)
//     "error"        clamd replied ERROR, closed early, or said something unparsable
//   Every reason that involves clamd begins "clamd <endpoint>: ". The clamd errors to count and
//   warn about are the kUnchecked results whose skipped_reason is unavailable, timeout or
//   error. Nothing that was not checked is ever reported clean.
//
// Plain blocking-style I/O (non-blocking sockets and poll() against one deadline): Run() is
// synchronous on a scan-pool thread. One connection per message: clamd closes a connection
// after an INSTREAM reply anyway (without IDSESSION), and connecting to it costs a small
// fraction of a scan (see virus_check_test.cc).
//
// Thread-safety: immutable after construction; Run() and Ping() are reentrant.
#pragma once

#include <chrono>
#include <string_view>

#include "base/error.h"
#include "config/config.h"
#include "scan/check.h"

namespace mailsift::scan {

class VirusCheck : public Check {
 public:
  // Requires config.clamd non-empty and config.clamd_address parsed from it (config.cc does
  // both; an empty virus.clamd means no virus check, and no VirusCheck is built).
  explicit VirusCheck(config::Virus config);

  std::string_view name() const override { return "virus"; }
  CheckResult Run(const MessageInput& message) const override;

  // Sends PING, expects PONG before `deadline`: for start-up checks and `mailsift status`.
  // The error reads like a kUnchecked reason ("clamd [127.0.0.1]:3310: connect: Connection
  // refused").
  Status Ping(std::chrono::steady_clock::time_point deadline) const;

  const config::Virus& config() const { return config_; }

 private:
  config::Virus config_;
  std::string endpoint_text_;  // config_.clamd_address.ToString()
};

}  // namespace mailsift::scan
