// cli/scan.h — `mailsift scan`: the filter's checks and verdict on message files, offline.
//
// RunScan() builds the checks from the config as a generation builds them (scan/checks.h: bad
// header, banned files, clamd when [virus] clamd is set, SpamAssassin's rules), runs them on each
// file as the filter's scan pool runs them (scan::Pipeline::RunNow) and decides with the same
// config (scan::Decide): the category (CLEAN, BAD-HEADER, SPAMMY, SPAM, UNCHECKED, BANNED,
// VIRUS), its action, every check's finding, and the spam score against the config's tag_level,
// tag2_level and kill_level. A message the filter would tempfail as over a limit is UNCHECKED
// here too. The message reaches the checks as it would from SMTP: a leading mbox "From " line is
// dropped, CRLF line ends become LF.
//
// What the filter knows and a file does not: the SMTP envelope. Unless --envelope-from is given,
// the rules guess the sender from the headers (X-Envelope-From, Return-Path, Received), as
// `spamassassin -t` does, and the filter (which passes MAIL FROM) may score differently; the
// output says which envelope was assumed. No policy bank is selected (the top-level policy
// applies), and an after-queue reject is shown as the action "reject".
//
// Output, per file in the order of the files (whatever `threads`):
//   text: "FILE: CATEGORY[-n], action A, score=S required=T2", the envelope, one line per check
//         with its finding and details, then the spam rules that hit with their points;
//   json: one object per line: "file", "score", "required" (tag2_level), "hits" (every rule that
//         hit, sub-rules too, with its hit count), "scores" (the points of each scored rule),
//         "category", "subcategory", "verdict" (the log name, e.g. "BANNED (…)"), "reason",
//         "action", "spam" {scanned, skipped, tag_level, tag2_level, kill_level,
//         rules_required}, "checks" [{check, scanned, skipped, finding, subcategory, details}],
//         "envelope" {mail_from, mail_from_given, rcpt_to}.
//
// Thread-safety: RunScan is called once per process.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "rules/prefilter/multi_prefilter.h"

namespace mailsift::cli {

struct ScanOptions {
  std::vector<std::string> files;
  bool json = false;          // one JSON object per line (see above)
  bool timing = false;        // per-message CPU time on stderr, and the load time
  bool dump_texts = false;    // print the texts rules see (body lines, rawbody, URIs) to stderr
  std::string envelope_from;  // the SMTP sender, as the proxy would pass it
  std::vector<std::string> rcpt_to;  // the SMTP recipients (for spam.local_domains)
  // Messages scanned at once, by threads sharing the checks as the filter's scan pool does; the
  // output keeps the order of `files`.
  int threads = 1;
  rules::PrefilterOptions prefilter;  // generation::PrefilterDefaults
};

// Exit codes (sysexits(3) where one fits):
inline constexpr int kScanAllChecked = 0;  // every message checked; none VIRUS/BANNED/UNCHECKED
inline constexpr int kScanBlocked = 1;     // some message is VIRUS or BANNED
inline constexpr int kScanUnchecked = 75;  // EX_TEMPFAIL: some message is UNCHECKED (no
                                           // VIRUS/BANNED), as the filter tempfails it
// 66 (EX_NOINPUT) for an unreadable file (the others are still scanned; wins over 1 and 75),
// 78 (EX_CONFIG) when the checks cannot be built (rules refused, libmagic missing).

// Builds the checks from `config`, scans every file, prints the verdicts; returns the exit code.
int RunScan(const config::Config& config, const ScanOptions& options);

}  // namespace mailsift::cli
