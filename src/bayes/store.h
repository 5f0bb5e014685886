// bayes/store.h — the Bayes database as SpamAssassin's BayesStore sees it, behind one interface.
//
// A BayesStore holds what SpamAssassin's BayesStore (BayesStore.pm, BayesStore/DBM.pm) holds:
// the learned message counts (nspam, nham), per token id its spam and ham counts and last access
// time (atime), the "seen" table of learned message ids ('s' or 'h'), and the expiry variables
// (last expiry, its atime delta and reduction, oldest and newest atime). The operations are
// SpamAssassin's, each one atomic in the store:
//   - Learn: Plugin/Bayes.pm _learn_trapped — the message ids are checked in order (SpamAssassin
//     passes generate_msgid() then get_msgid()); seen as the same class: nothing changes; seen as
//     the other class: the message is forgotten first (its class moves); then nspam or nham and
//     every token's count go up by one, atimes move forward to the message's, and the first id
//     is recorded as seen;
//   - Forget: _forget_trapped — the first id that is seen decides the class; counts go down
//     (never below 0; a token at 0/0 is deleted) and the seen entry goes;
//   - Touch: tok_touch_all — the atime of the tokens a scan used moves forward;
//   - Expire: BayesStore.pm expiry_due + expire_old_tokens_trapped + DBM token_expiration —
//     drop tokens by last use so that about bayes_expiry_max_db_size × 0.75 stay.
// Counts are SpamAssassin's; the layout on disk is the implementation's (lmdb_store.h).
//
// Thread-safety: implementations say so (LmdbStore: one store may be used from several threads
// and processes at once).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "bayes/classifier.h"
#include "bayes/tokenizer.h"

namespace mailsift::bayes {

struct MessageCounts {
  uint64_t nspam = 0;
  uint64_t nham = 0;
};

struct StoredToken {
  uint64_t spam = 0;
  uint64_t ham = 0;
  uint32_t atime = 0;  // 0 when the token is not in the store
  bool found = false;
};

enum class LearnOutcome {
  kLearned,         // learned (or forgotten, for Forget)
  kAlreadyLearned,  // seen as the same class: no change
  kRelearned,       // seen as the other class: forgotten first, then learned
  kNotLearned,      // Forget: no id of the message is seen
};

// The storage variables of get_storage_variables() that expiry and `--dump magic` show.
struct StoreVariables {
  uint64_t nspam = 0, nham = 0, ntokens = 0;
  uint32_t oldest_atime = 0, newest_atime = 0;
  uint32_t last_expire = 0;         // time of the last expiry run
  uint32_t last_atime_delta = 0;    // the atime delta it used
  uint64_t last_expire_reduce = 0;  // how many tokens it removed
};

// bayes_expiry_* settings (Conf.pm defaults).
struct ExpiryOptions {
  uint64_t max_db_size = 150000;  // bayes_expiry_max_db_size
  double pct = 0.75;              // bayes_expiry_pct
  uint32_t period = 43200;        // bayes_expiry_period (12 h)
  int max_exponent = 9;           // bayes_expiry_max_exponent (up to 256 days)
  bool force = false;             // sa-learn --force-expire: skip the expiry_due() checks
};

struct ExpiryResult {
  bool ran = false;      // expiry_due() held and a pass was made
  uint64_t kept = 0;     // tokens kept (when ran)
  uint64_t deleted = 0;  // tokens deleted
  uint32_t atime_delta = 0;
};

class BayesStore {
 public:
  virtual ~BayesStore() = default;

  virtual Result<MessageCounts> Counts() = 0;
  // The counts of each id, in the same order.
  virtual Result<std::vector<StoredToken>> Lookup(std::span<const TokenId> ids) = 0;
  // The seen entry of a message id: 's', 'h', or nullopt.
  virtual Result<std::optional<char>> Seen(std::string_view msgid) = 0;

  // `msgids`: the candidate ids in SpamAssassin's order (generate_msgid(), get_msgid()); the
  // first is recorded. `tokens` de-duplicated (Tokenize's result). `atime`: the message's
  // receive date (seconds since the epoch).
  virtual Result<LearnOutcome> Learn(bool spam, std::span<const std::string> msgids,
                                     std::span<const TokenId> tokens, uint32_t atime) = 0;
  virtual Result<LearnOutcome> Forget(std::span<const std::string> msgids,
                                      std::span<const TokenId> tokens) = 0;
  virtual Status Touch(std::span<const TokenId> ids, uint32_t atime) = 0;

  virtual Result<StoreVariables> Variables() = 0;
  // `now`: the current time (seconds since the epoch).
  virtual Result<ExpiryResult> Expire(const ExpiryOptions& options, uint32_t now) = 0;
};

}  // namespace mailsift::bayes
