// cli/scan.cc — see scan.h.
#include "cli/scan.h"

#include <sysexits.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "mime/message.h"
#include "rules/cf_parser.h"
#include "rules/engine.h"
#include "rules/message_text.h"
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

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}


// CPU time of the calling thread (user and system), in seconds. (getrusage(RUSAGE_THREAD)
// counts in scheduler ticks, 4 ms here: too coarse for one message.)
double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// What scanning one file prints.
struct FileOutput {
  std::string out, err;
  int status = EX_OK;
};

FileOutput ScanFile(const rules::CompiledRuleset& engine, const ScanOptions& options,
                    const std::string& file) {
  FileOutput o;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    o.err = "mailsift: cannot read " + file + "\n";
    o.status = EX_NOINPUT;
    return o;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const double cpu_before = ThreadCpuSeconds();
  mime::Message message = mime::ParseMessage(buffer.str());
  if (options.dump_texts) {
    rules::MessageText text(message, {}, {});
    for (const std::string& line : text.BodyLines()) o.err += "body: " + line + "|\n";
    for (const std::string& chunk : text.RawBodyChunks()) o.err += "rawbody: " + chunk + "|\n";
  }
  rules::Envelope envelope;
  envelope.mail_from = options.envelope_from;
  rules::ScanResult result = engine.Scan(message, envelope);
  if (options.timing) {
    o.err += fmt::format("cpu_us {:.0f} {}\n", (ThreadCpuSeconds() - cpu_before) * 1e6, file);
  }
  if (options.json) {
    o.out = "{\"file\": " + JsonString(file) + ", \"score\": " + scan::FormatScore(result.score) +
            ", \"required\": " + scan::FormatScore(result.required) + ", \"hits\": {";
    for (size_t i = 0; i < result.hits.size(); ++i) {
      o.out += (i ? ", " : "") + JsonString(result.hits[i].name) + ": " +
               std::to_string(result.hits[i].count);
    }
    o.out += "}}\n";
    return o;
  }
  o.out = fmt::format("{}: {}, score={} required={}\n", file, result.IsSpam() ? "SPAM" : "ham",
                      scan::FormatScore(result.score), scan::FormatScore(result.required));
  o.out += " pts rule name              description\n";
  o.out += "---- ---------------------- --------------------------------------------\n";
  for (const rules::RuleHit& hit : result.hits) {
    if (hit.name.rfind("__", 0) == 0) continue;
    const rules::Rule* rule = engine.ruleset().Find(hit.name);
    o.out += fmt::format("{:4.1f} {:<22} {}{}\n", hit.score, hit.name,
                         rule ? rule->describe : std::string(),
                         hit.count > 1 ? fmt::format(" (x{})", hit.count) : std::string());
  }
  o.out += "\n";
  return o;
}

}  // namespace

int RunScan(const ScanOptions& options) {
  const auto load_start = std::chrono::steady_clock::now();
  const double cpu_start = CpuSeconds();
  std::vector<std::filesystem::path> dirs(options.rule_dirs.begin(), options.rule_dirs.end());
  rules::RulePaths paths = rules::StandardRulePaths(dirs, options.site_dir);
  rules::ParserOptions parser_options;
  parser_options.local_tests_only = true;
  auto ruleset = rules::LoadRuleset(paths, parser_options);
  if (!ruleset) {
    std::cerr << "mailsift: " << ruleset.error().message << "\n";
    return EX_CONFIG;
  }
  rules::CompileOptions compile_options;
  compile_options.prefilter = options.prefilter;
  auto compiled = rules::CompiledRuleset::Compile(std::move(*ruleset), compile_options);
  if (!compiled) {
    std::cerr << "mailsift: the rules are refused:\n" << compiled.error().message << "\n";
    return EX_CONFIG;
  }
  const rules::CompiledRuleset& engine = **compiled;
  if (options.timing) {
    const auto& st = engine.stats();
    std::fprintf(stderr,
                 "load: %.3f s wall, %.3f s CPU; %zu rules, %zu enabled, %zu regexes (%zu wide, %zu "
                 "prefiltered), "
                 "%zu native evals, %zu evals that never hit locally, %zu capture-template rules\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start)
                     .count(),
                 CpuSeconds() - cpu_start, st.rules, st.enabled, st.regexes, st.wide_regexes,
                 st.prefiltered_regexes,
                 st.evals_native, st.evals_never_hit, st.capture_template_rules);
    for (const std::string& name : st.unknown_eval_functions) {
      std::fprintf(stderr, "load: eval function %s has no native version (never hits)\n",
                   name.c_str());
    }
    std::fprintf(stderr, "load: %s\n", engine.prefilter().Describe().c_str());
  }
  // Each file's output, written in the order of the files whichever thread scans it.
  std::vector<FileOutput> outputs(options.files.size());
  std::vector<char> done(options.files.size(), 0);
  std::mutex mutex;
  size_t next_to_print = 0, next_to_scan = 0;
  int status = EX_OK;
  auto worker = [&] {
    while (true) {
      size_t index;
      {
        std::lock_guard lock(mutex);
        if (next_to_scan == options.files.size()) return;
        index = next_to_scan++;
      }
      FileOutput out = ScanFile(engine, options, options.files[index]);
      std::lock_guard lock(mutex);
      outputs[index] = std::move(out);
      done[index] = 1;
      for (; next_to_print < done.size() && done[next_to_print]; ++next_to_print) {
        FileOutput& o = outputs[next_to_print];
        if (o.status != EX_OK) std::fflush(stdout);  // the error after the verdicts before it
        std::fputs(o.err.c_str(), stderr);
        std::fputs(o.out.c_str(), stdout);
        if (o.status != EX_OK) status = o.status;
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
  if (engine.prefilter().BuildingForCache()) {
    if (options.timing) {
      std::fprintf(stderr, "prefilter: waiting for the database build to be cached\n");
    }
    engine.prefilter().Wait(std::chrono::hours(1));
  }
  if (options.timing) {
    std::fprintf(stderr, "%s\n", engine.prefilter().Describe().c_str());
    std::fprintf(stderr, "peak RSS: %.1f MiB (VmHWM)\n", PeakRssMb());
  }
  return status;
}

}  // namespace mailsift::cli
