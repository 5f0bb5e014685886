// cli/learn.h — `mailsift learn`: SpamAssassin's sa-learn for mailsift's Bayes store.
//
// RunLearn opens the store the config names ([bayes] path, an LMDB environment: bayes/
// lmdb_store.h) and learns every message of the given paths as spam or ham, or forgets them,
// as sa-learn does (Plugin/Bayes.pm learn_message / forget_message): each message is parsed
// (mime::ParseMessage), its Bayes input made as sa-learn makes it (bayes::BayesInputFromMessage,
// BayesPass::kLearn), tokenized, and learned under SpamAssassin's message ids (generate_msgid,
// then get_msgid), so the store's seen table decides as SpamAssassin's: a message learned twice
// as the same class counts once, learned as the other class it moves.
//
// A path is a message file, a directory (every regular file below it, recursively, in sorted
// order) or an mbox file (a first line "From "; split on "From " lines at the start of a line,
// with mboxrd's ">From " unquoting). A path that does not exist, a file that cannot be read or
// that is not a message (its first line is no header field) is named on stderr and skipped; the
// batch goes on. A summary line ends the run on stdout; on a terminal (stderr) a count is
// updated every 100 messages. `dump` prints the store's counts as `sa-learn --dump magic`.
//
// Not yet as sa-learn: a token's atime is the time of the run, not the message's received date
// (Message::receive_date); the tokenizer has SpamAssassin's defaults, not the rule files'
// bayes_ignore_header lines.
//
// Thread-safety: RunLearn is called once per process.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace mailsift::cli {

struct LearnOptions {
  enum class Mode { kNone, kSpam, kHam, kForget };
  Mode mode = Mode::kNone;  // kNone: only --dump
  bool dump = false;        // after learning, the counts as `sa-learn --dump magic`
  std::vector<std::string> paths;
};

// Exit codes:
inline constexpr int kLearnOk = 0;      // every message learned, already learned or forgotten
inline constexpr int kLearnFailed = 1;  // some path or message could not be learned
// 74 (EX_IOERR) when the store cannot be opened.

int RunLearn(const config::Config& config, const LearnOptions& options);

}  // namespace mailsift::cli
