#include "cli/learn.h"

#include <fmt/format.h>
#include <sysexits.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string_view>

#include "bayes/lmdb_store.h"
#include "bayes/message_input.h"
#include "bayes/tokenizer.h"
#include "cli/message_file.h"
#include "mime/message.h"
#include "rules/message/message_text.h"

namespace mailsift::cli {
namespace {

namespace fs = std::filesystem;

// 5446 → "5,446".
std::string Grouped(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// True when `text` starts as a message does: with a header field ("Name:", the name of
// printable ASCII without a colon).
bool LooksLikeMessage(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] > 32 && text[i] < 127 && text[i] != ':') ++i;
  return i > 0 && i < text.size() && text[i] == ':';
}

// The messages of an mbox file (it starts with "From "): split on "From " lines, each without
// its "From " line and the blank line after it, ">From " lines unquoted (mboxrd).
std::vector<std::string> SplitMbox(std::string_view text) {
  std::vector<size_t> starts;
  for (size_t pos = 0; pos < text.size();) {
    if (text.compare(pos, 5, "From ") == 0) starts.push_back(pos);
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  std::vector<std::string> messages;
  for (size_t k = 0; k < starts.size(); ++k) {
    size_t end = k + 1 < starts.size() ? starts[k + 1] : text.size();
    size_t body = text.find('\n', starts[k]);
    body = body == std::string_view::npos || body >= end ? end : body + 1;
    std::string_view raw = text.substr(body, end - body);
    if (raw.ends_with("\n\n")) raw.remove_suffix(1);  // the blank line after each message
    std::string message;
    message.reserve(raw.size());
    for (size_t pos = 0; pos < raw.size();) {
      size_t nl = raw.find('\n', pos);
      size_t line_end = nl == std::string_view::npos ? raw.size() : nl + 1;
      std::string_view line = raw.substr(pos, line_end - pos);
      size_t quotes = line.find_first_not_of('>');
      if (quotes != std::string_view::npos && quotes > 0 && line.compare(quotes, 5, "From ") == 0) {
        line.remove_prefix(1);
      }
      message.append(line);
      pos = line_end;
    }
    messages.push_back(std::move(message));
  }
  return messages;
}

struct Totals {
  uint64_t learned = 0, moved = 0, already = 0, not_learned = 0, failed = 0;
  uint64_t Seen() const { return learned + already + not_learned + failed; }
};

class Learner {
 public:
  Learner(bayes::BayesStore& store, const LearnOptions& options)
      : store_(store),
        options_(options),
        tokenizer_(SaTokenizerOptions()),
        atime_(static_cast<uint32_t>(std::time(nullptr))),
        progress_(::isatty(2) == 1) {}

  void LearnPath(const std::string& path) {
    std::error_code ec;
    fs::file_status status = fs::status(path, ec);
    if (ec || !fs::exists(status)) {
      Fail(path, ec ? ec.message() : "no such file or directory");
      return;
    }
    if (!fs::is_directory(status)) {
      LearnFile(path);
      return;
    }
    std::vector<std::string> files;
    fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code type_ec;
      if (it->is_regular_file(type_ec)) files.push_back(it->path().string());
    }
    if (ec) Fail(path, ec.message());
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) LearnFile(file);
  }

  const Totals& totals() const { return totals_; }

  void EndProgress() { EndProgressLine(); }

 private:
  static bayes::TokenizerOptions SaTokenizerOptions() {
    bayes::TokenizerOptions o;
    o.parse_addresses = bayes::SaAddressParser();
    return o;
  }

  void LearnFile(const std::string& file) {
    std::string bytes;
    if (!ReadMessageFile(file, bytes)) {
      Fail(file, "cannot read");
      return;
    }
    if (bytes.starts_with("From ")) {
      std::vector<std::string> messages = SplitMbox(bytes);
      for (size_t i = 0; i < messages.size(); ++i) {
        LearnMessage(fmt::format("{} (message {})", file, i + 1), std::move(messages[i]));
      }
      return;
    }
    LearnMessage(file, std::move(bytes));
  }

  void LearnMessage(const std::string& name, std::string bytes) {
    AsFromSmtp(bytes);
    if (!LooksLikeMessage(bytes)) {
      Fail(name, "not a message (no header field first)");
      return;
    }
    mime::Message message =
        mime::ParseMessage(std::make_shared<const std::string>(std::move(bytes)));
    rules::MessageText text(message, Envelope{}, rules::TextContext{});
    bayes::BayesInput input =
        bayes::BayesInputFromMessage(text, rules::TrustOptions{}, bayes::BayesPass::kLearn);
    std::vector<std::string> msgids = bayes::MessageMsgids(text);
    std::vector<bayes::TokenId> ids;
    for (const bayes::Token& token : tokenizer_.Tokenize(input)) ids.push_back(token.id);
    auto outcome =
        options_.mode == LearnOptions::Mode::kForget
            ? store_.Forget(msgids, ids)
            : store_.Learn(options_.mode == LearnOptions::Mode::kSpam, msgids, ids, atime_);
    if (!outcome) {
      Fail(name, outcome.error().message);
      return;
    }
    using bayes::LearnOutcome;
    totals_.learned += *outcome == LearnOutcome::kLearned || *outcome == LearnOutcome::kRelearned;
    totals_.moved += *outcome == LearnOutcome::kRelearned;  // seen as the other class
    totals_.already += *outcome == LearnOutcome::kAlreadyLearned;
    totals_.not_learned += *outcome == LearnOutcome::kNotLearned;  // Forget: never learned
    Progress();
  }

  void Fail(const std::string& name, const std::string& why) {
    EndProgressLine();
    std::fprintf(stderr, "mailsift: %s: %s, skipped\n", name.c_str(), why.c_str());
    ++totals_.failed;
    Progress();
  }

  void Progress() {
    if (!progress_ || totals_.Seen() % 100 != 0) return;
    std::fprintf(stderr, "\r%s messages...", Grouped(totals_.Seen()).c_str());
    std::fflush(stderr);
    line_open_ = true;
  }

  void EndProgressLine() {
    if (line_open_) std::fputs("\r\033[K", stderr);
    line_open_ = false;
  }

  bayes::BayesStore& store_;
  const LearnOptions& options_;
  bayes::Tokenizer tokenizer_;
  uint32_t atime_;
  bool progress_;
  bool line_open_ = false;
  Totals totals_;
};

// `sa-learn --dump magic` (Plugin/Bayes.pm learner_dump_database, database version 3).
int Dump(bayes::BayesStore& store) {
  auto vars = store.Variables();
  if (!vars) {
    std::fprintf(stderr, "mailsift: bayes store: %s\n", vars.error().message.c_str());
    return EX_IOERR;
  }
  auto line = [](uint64_t value, const char* what) {
    std::printf("%3.3f %10llu %10llu %10llu  non-token data: %s\n", 0.0, 0ULL,
                static_cast<unsigned long long>(value), 0ULL, what);
  };
  line(3, "bayes db version");
  line(vars->nspam, "nspam");
  line(vars->nham, "nham");
  line(vars->ntokens, "ntokens");
  line(vars->oldest_atime, "oldest atime");
  line(vars->newest_atime, "newest atime");
  line(0, "last journal sync atime");
  line(vars->last_expire, "last expiry atime");
  line(vars->last_atime_delta, "last expire atime delta");
  line(vars->last_expire_reduce, "last expire reduction count");
  return EX_OK;
}

}  // namespace

int RunLearn(const config::Config& config, const LearnOptions& options) {
  auto store = bayes::LmdbStore::Open(config.bayes.path);
  if (!store) {
    std::fprintf(stderr, "mailsift: bayes.path: %s: %s\n", config.bayes.path.c_str(),
                 store.error().message.c_str());
    return EX_IOERR;
  }
  int status = kLearnOk;
  if (options.mode != LearnOptions::Mode::kNone) {
    const auto start = std::chrono::steady_clock::now();
    Learner learner(**store, options);
    for (const std::string& path : options.paths) learner.LearnPath(path);
    learner.EndProgress();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const Totals& t = learner.totals();
    auto counts = (*store)->Counts();
    std::string in_store = counts ? fmt::format("; the store has {} spam, {} ham",
                                                Grouped(counts->nspam), Grouped(counts->nham))
                                  : "";
    if (options.mode == LearnOptions::Mode::kForget) {
      std::printf("forgot %s messages in %.1f s, %s not learned, %s failed%s\n",
                  Grouped(t.learned).c_str(), seconds, Grouped(t.not_learned).c_str(),
                  Grouped(t.failed).c_str(), in_store.c_str());
    } else {
      const bool spam = options.mode == LearnOptions::Mode::kSpam;
      std::printf(
          "learned %s messages as %s (%s moved from %s) in %.1f s, %s already learned, "
          "%s failed%s\n",
          Grouped(t.learned).c_str(), spam ? "spam" : "ham", Grouped(t.moved).c_str(),
          spam ? "ham" : "spam", seconds, Grouped(t.already).c_str(), Grouped(t.failed).c_str(),
          in_store.c_str());
    }
    if (t.failed > 0) status = kLearnFailed;
  }
  if (options.dump) {
    std::fflush(stdout);
    int dumped = Dump(**store);
    if (dumped != EX_OK) return dumped;
  }
  return status;
}

}  // namespace mailsift::cli
