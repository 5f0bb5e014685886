// cli/scan.h — `mailsift scan`: the offline verdict on message files, like `spamassassin -t`.
#pragma once

#include <string>
#include <vector>

#include "rules/multi_prefilter.h"

namespace mailsift::cli {

struct ScanOptions {
  std::vector<std::string> files;
  bool json = false;     // one JSON object per line: file, score, required, hits
  bool timing = false;   // per-message CPU time on stderr, and the load time
  bool dump_texts = false;  // print the texts rules see (body lines, rawbody, URIs) to stderr
  std::string envelope_from;           // the SMTP sender, as the proxy would pass it
  std::vector<std::string> rule_dirs;  // default rule directories, first existing wins
  std::string site_dir;                // *.pre and local *.cf
  // Messages scanned at once, by threads sharing the compiled rules as the filter's scan pool
  // does; the output keeps the order of `files`.
  int threads = 1;
  rules::PrefilterOptions prefilter = rules::PrefilterOptions::FromEnvironment();
};

// Loads and compiles the rules, scans every file. Exit code: 0, 66 for an unreadable file
// (the others are still scanned), 78 when the rules are refused.
int RunScan(const ScanOptions& options);

}  // namespace mailsift::cli
