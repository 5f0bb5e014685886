// cli/scan.cc — see scan.h.
#include "cli/scan.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "base/strings.h"
#include "cli/message_file.h"
#include "mime/message.h"
#include "rules/engine.h"
#include "rules/message/message_text.h"
#include "scan/checks.h"
#include "scan/pipeline.h"
#include "scan/spam_check.h"
#include "scan/verdict.h"

namespace mailsift::cli {
namespace {

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// This process's peak resident set size in MiB (VmHWM), or -1.
double PeakRssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024;
  }
  return -1;
}

std::string JsonStrings(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + JsonQuote(items[i]);
  return out + "]";
}

// CPU time of the calling thread (user and system), in seconds. (getrusage(RUSAGE_THREAD)
// counts in scheduler ticks, 4 ms here: too coarse for one message.)
double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

std::string_view FindingName(scan::Finding finding) {
  switch (finding) {
    case scan::Finding::kVirus:
      return "virus";
    case scan::Finding::kBanned:
      return "banned";
    case scan::Finding::kUnchecked:
      return "unchecked";
    case scan::Finding::kBadHeader:
      return "bad_header";
    case scan::Finding::kNothing:
      break;
  }
  return "nothing";
}

// "UNCHECKED-2", "BAD-HEADER-8", "SPAM".
std::string CategoryText(const scan::Verdict& v) {
  std::string name(scan::CategoryName(v.category));
  return v.subcategory > 0 ? fmt::format("{}-{}", name, v.subcategory) : name;
}

// The scan's shared state: the checks (as a generation builds them) and the spam check's rules.
struct Scanner {
  const config::Config& config;
  const ScanOptions& options;
  std::unique_ptr<scan::Pipeline> pipeline;
  const rules::CompiledRuleset* engine = nullptr;  // null without the spam check
};

// What scanning one file prints.
struct FileOutput {
  std::string out, err;
  int status = EX_OK;
};

// The spam check's words for its result: "ham", "SPAMMY", "SPAM" at the config's levels.
std::string SpamStanding(const scan::CheckResult& r, const config::Spam& spam) {
  if (r.score >= spam.kill_level) return "SPAM";
  if (r.score >= spam.tag2_level) return "SPAMMY";
  return "ham";
}

std::string TextRecord(const Scanner& s, const std::string& file, const scan::Verdict& v,
                       const std::vector<scan::CheckResult>& results, const Envelope& envelope) {
  const config::Spam& spam = s.config.spam;
  std::string o = fmt::format("{}: {}, action {}, score={} required={}\n", file, CategoryText(v),
                              config::ToString(v.action), scan::FormatScore(v.score),
                              scan::FormatScore(spam.tag2_level));
  if (v.category != scan::Category::kClean && !v.log_name.empty()) {
    o += fmt::format(" verdict: {}\n", v.log_name);
  }
  o += " envelope: ";
  o += s.options.envelope_from.empty()
           ? std::string(
                 "no MAIL FROM given (the rules guess the sender from the headers, as "
                 "spamassassin -t does; --envelope-from to pass the filter's)")
           : fmt::format("MAIL FROM <{}>", envelope.mail_from);
  if (envelope.rcpt_to.empty()) {
    o += ", no RCPT TO (every recipient local)\n";
  } else {
    for (const std::string& r : envelope.rcpt_to) o += fmt::format(", RCPT TO <{}>", r);
    o += "\n";
  }
  for (const scan::CheckResult& r : results) {
    if (!r.scanned && r.finding == scan::Finding::kNothing) {
      o += fmt::format(
          " check {}: not scanned ({})\n", r.check,
          r.skipped_reason == "size" && r.check == "spam"
              ? fmt::format("larger than spam.max_scan_size, {} bytes", spam.max_scan_size)
              : r.skipped_reason);
      continue;
    }
    if (r.check == "spam") {
      o += fmt::format(" check spam: score={} {} (tag_level {}, tag2_level {}, kill_level {})\n",
                       scan::FormatScore(r.score), SpamStanding(r, spam),
                       scan::FormatScore(spam.tag_level), scan::FormatScore(spam.tag2_level),
                       scan::FormatScore(spam.kill_level));
      continue;
    }
    std::string finding = r.finding == scan::Finding::kNothing ? std::string("nothing found")
                          : r.finding == scan::Finding::kBadHeader
                              ? std::string("BAD-HEADER")
                              : ToUpperAscii(FindingName(r.finding));
    if (r.subcategory > 0) finding += fmt::format("-{}", r.subcategory);
    o += fmt::format(" check {}: {}\n", r.check, finding);
    for (const std::string& d : r.details) o += "   " + d + "\n";
  }
  for (const scan::CheckResult& r : results) {
    if (r.check != "spam" || !r.scanned) continue;
    o += " pts rule name              description\n";
    o += "---- ---------------------- --------------------------------------------\n";
    for (const rules::RuleHit& hit : r.hits) {
      if (hit.name.rfind("__", 0) == 0) continue;
      const rules::Rule* rule = s.engine ? s.engine->ruleset().Find(hit.name) : nullptr;
      o += fmt::format("{:4.1f} {:<22} {}{}\n", hit.score, hit.name,
                       rule ? rule->describe : std::string(),
                       hit.count > 1 ? fmt::format(" (x{})", hit.count) : std::string());
    }
  }
  return o + "\n";
}

std::string JsonRecord(const Scanner& s, const std::string& file, const scan::Verdict& v,
                       const std::vector<scan::CheckResult>& results, const Envelope& envelope) {
  const config::Spam& spam = s.config.spam;
  const scan::CheckResult* spam_result = nullptr;
  for (const scan::CheckResult& r : results) {
    if (r.check == "spam") spam_result = &r;
  }
  const bool scored = spam_result != nullptr && spam_result->scanned;
  // The fields the parity test and test_scan.py read come first, as before.
  std::string o = "{\"file\": " + JsonQuote(file) +
                  ", \"score\": " + scan::FormatScore(scored ? spam_result->score : 0) +
                  ", \"required\": " + scan::FormatScore(spam.tag2_level) + ", \"hits\": {";
  if (scored) {
    for (size_t i = 0; i < spam_result->hits.size(); ++i) {
      o += (i ? ", " : "") + JsonQuote(spam_result->hits[i].name) + ": " +
           std::to_string(spam_result->hits[i].count);
    }
  }
  o += "}, \"scores\": {";
  if (scored) {
    bool first = true;
    for (const rules::RuleHit& hit : spam_result->hits) {
      if (hit.name.rfind("__", 0) == 0) continue;
      o += (first ? "" : ", ") + JsonQuote(hit.name) + ": " + scan::FormatScore(hit.score);
      first = false;
    }
  }
  o += fmt::format(
      "}}, \"category\": {}, \"subcategory\": {}, \"verdict\": {}, \"reason\": {}, "
      "\"action\": {}",
      JsonQuote(scan::CategoryName(v.category)), v.subcategory, JsonQuote(v.log_name),
      JsonQuote(v.reason), JsonQuote(config::ToString(v.action)));
  o += fmt::format(
      ", \"spam\": {{\"scanned\": {}, \"skipped\": {}, \"tag_level\": {}, "
      "\"tag2_level\": {}, \"kill_level\": {}, \"rules_required\": {}}}",
      scored ? "true" : "false",
      JsonQuote(spam_result ? spam_result->skipped_reason : std::string("disabled")),
      scan::FormatScore(spam.tag_level), scan::FormatScore(spam.tag2_level),
      scan::FormatScore(spam.kill_level),
      scan::FormatScore(spam_result ? spam_result->required : 0));
  o += ", \"checks\": [";
  for (size_t i = 0; i < results.size(); ++i) {
    const scan::CheckResult& r = results[i];
    o += fmt::format(
        "{}{{\"check\": {}, \"scanned\": {}, \"skipped\": {}, \"finding\": {}, "
        "\"subcategory\": {}, \"details\": {}}}",
        i ? ", " : "", JsonQuote(r.check), r.scanned ? "true" : "false",
        JsonQuote(r.skipped_reason), JsonQuote(FindingName(r.finding)), r.subcategory,
        JsonStrings(r.details));
  }
  o += fmt::format(
      "], \"envelope\": {{\"mail_from\": {}, \"mail_from_given\": {}, "
      "\"rcpt_to\": {}}}}}\n",
      JsonQuote(envelope.mail_from), s.options.envelope_from.empty() ? "false" : "true",
      JsonStrings(envelope.rcpt_to));
  return o;
}

FileOutput ScanFile(const Scanner& s, const std::string& file) {
  FileOutput o;
  std::string bytes;
  if (!ReadMessageFile(file, bytes)) {
    o.err = "mailsift: cannot read " + file + "\n";
    o.status = EX_NOINPUT;
    return o;
  }
  AsFromSmtp(bytes);
  const double cpu_before = ThreadCpuSeconds();
  Envelope envelope;
  envelope.mail_from = s.options.envelope_from;
  envelope.rcpt_to = s.options.rcpt_to;
  scan::MessageInput input{std::make_shared<const std::string>(std::move(bytes)), envelope};
  if (s.options.dump_texts) {
    rules::MessageText text(input.Parsed(), {}, {});
    for (const std::string& line : text.BodyLines()) o.err += "body: " + line + "|\n";
    for (const std::string& chunk : text.RawBodyChunks()) o.err += "rawbody: " + chunk + "|\n";
  }
  std::vector<scan::CheckResult> results = s.pipeline->RunNow(input);
  scan::Verdict verdict = scan::Decide(results, s.config, envelope);
  if (s.options.timing) {
    o.err += fmt::format("cpu_us {:.0f} {}\n", (ThreadCpuSeconds() - cpu_before) * 1e6, file);
  }
  switch (verdict.category) {
    case scan::Category::kVirus:
    case scan::Category::kBanned:
      o.status = kScanBlocked;
      break;
    case scan::Category::kUnchecked:
      o.status = kScanUnchecked;
      break;
    default:
      break;
  }
  o.out = s.options.json ? JsonRecord(s, file, verdict, results, envelope)
                         : TextRecord(s, file, verdict, results, envelope);
  return o;
}

// The exit code when `status` and `next` were both seen: unreadable beats blocked beats
// unchecked beats all checked.
int WorseStatus(int status, int next) {
  auto rank = [](int code) {
    return code == EX_NOINPUT ? 3 : code == kScanBlocked ? 2 : code == kScanUnchecked ? 1 : 0;
  };
  return rank(next) > rank(status) ? next : status;
}

}  // namespace

int RunScan(const config::Config& config, const ScanOptions& options) {
  const auto load_start = std::chrono::steady_clock::now();
  const double cpu_start = CpuSeconds();
  auto built = scan::BuildChecks(config, options.prefilter);
  if (!built) {
    std::cerr << "mailsift: " << built.error().message << "\n";
    return EX_CONFIG;
  }
  Scanner scanner{config, options, nullptr, nullptr};
  for (const auto& check : built->checks) {
    if (const auto* spam = dynamic_cast<const scan::SpamCheck*>(check.get())) {
      scanner.engine = &spam->ruleset();
    }
  }
  // The checks run on the calling threads (RunNow), as the filter's pool threads run them.
  scanner.pipeline = std::make_unique<scan::Pipeline>(std::move(built->checks), 1);
  if (options.timing) {
    std::fprintf(
        stderr, "load: %.3f s wall, %.3f s CPU\n",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count(),
        CpuSeconds() - cpu_start);
    for (const std::string& summary : built->summaries) {
      std::fprintf(stderr, "load: %s\n", summary.c_str());
    }
    if (scanner.engine != nullptr) {
      const auto& st = scanner.engine->stats();
      std::fprintf(stderr,
                   "load: %zu rules, %zu enabled, %zu regexes (%zu wide, %zu prefiltered), %zu "
                   "native evals, %zu evals that never hit locally, %zu capture-template rules\n",
                   st.rules, st.enabled, st.regexes, st.wide_regexes, st.prefiltered_regexes,
                   st.evals_native, st.evals_never_hit, st.capture_template_rules);
      for (const std::string& name : st.unknown_eval_functions) {
        std::fprintf(stderr, "load: eval function %s has no native version (never hits)\n",
                     name.c_str());
      }
      std::fprintf(stderr, "load: %s\n", scanner.engine->prefilter().Describe().c_str());
    }
  }
  // Each file's output, written in the order of the files whichever thread scans it.
  std::vector<FileOutput> outputs(options.files.size());
  std::vector<char> done(options.files.size(), 0);
  std::mutex mutex;
  size_t next_to_print = 0, next_to_scan = 0;
  int status = kScanAllChecked;
  auto worker = [&] {
    while (true) {
      size_t index;
      {
        std::lock_guard lock(mutex);
        if (next_to_scan == options.files.size()) return;
        index = next_to_scan++;
      }
      FileOutput out = ScanFile(scanner, options.files[index]);
      std::lock_guard lock(mutex);
      outputs[index] = std::move(out);
      done[index] = 1;
      for (; next_to_print < done.size() && done[next_to_print]; ++next_to_print) {
        FileOutput& o = outputs[next_to_print];
        if (o.status == EX_NOINPUT) std::fflush(stdout);  // the error after the verdicts before it
        std::fputs(o.err.c_str(), stderr);
        std::fputs(o.out.c_str(), stdout);
        status = WorseStatus(status, o.status);
        o = FileOutput();
      }
    }
  };
  const int threads = std::max(1, std::min<int>(options.threads, options.files.size()));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  std::fflush(stdout);
  // A one-shot scan usually ends before the prefilter's background build: let the build finish
  // so that its cache file exists for the next run (the verdicts are already printed). Without a
  // writable cache there is nothing to wait for.
  if (scanner.engine != nullptr && scanner.engine->prefilter().BuildingForCache()) {
    if (options.timing) {
      std::fprintf(stderr, "prefilter: waiting for the database build to be cached\n");
    }
    scanner.engine->prefilter().Wait(std::chrono::hours(1));
  }
  if (options.timing) {
    if (scanner.engine != nullptr) {
      std::fprintf(stderr, "%s\n", scanner.engine->prefilter().Describe().c_str());
    }
    std::fprintf(stderr, "peak RSS: %.1f MiB (VmHWM)\n", PeakRssMb());
  }
  return status;
}

}  // namespace mailsift::cli
