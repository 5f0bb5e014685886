// bayes/lmdb_store.cc — the LMDB Bayes store; see lmdb_store.h. The learn, forget and expiry
// logic follows Plugin/Bayes.pm (_learn_trapped, _forget_trapped), BayesStore/DBM.pm
// (tok_sync_counters, tok_put, tok_touch_token, calculate_expire_delta, token_expiration) and
// BayesStore.pm (expiry_due, expire_old_tokens_trapped).
#include "bayes/lmdb_store.h"

#include <lmdb.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>

namespace mailsift::bayes {

namespace {

constexpr uint64_t kFormat = 1;                  // the layout of lmdb_store.h
constexpr uint32_t kSafetyExpirePeriod = 43200;  // expiry_due: 12 h between runs
constexpr uint64_t kMinKeptTokens = 100000;      // expiry keeps at least this many tokens

std::string LmdbError(const std::string& where, int rc) { return where + ": " + mdb_strerror(rc); }

void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint32_t Clamp32(uint64_t v) {
  return static_cast<uint32_t>(std::min<uint64_t>(v, std::numeric_limits<uint32_t>::max()));
}

MDB_val Val(const void* data, size_t size) {
  MDB_val v;
  v.mv_data = const_cast<void*>(data);
  v.mv_size = size;
  return v;
}

}  // namespace

struct LmdbStore::Env {
  std::string path;
  MDB_env* env = nullptr;
  MDB_dbi tokens = 0, seen = 0, vars = 0;
  ~Env() {
    if (env != nullptr) mdb_env_close(env);
  }
};

namespace {

// One transaction, aborted unless committed.
class Txn {
 public:
  Txn(LmdbStore::Env* env, bool write) : env_(env), write_(write) {}
  ~Txn() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  Status Begin() {
    int rc = mdb_txn_begin(env_->env, nullptr, write_ ? 0 : MDB_RDONLY, &txn_);
    if (rc == MDB_MAP_RESIZED) {
      // Another process grew the map: adopt its size and retry.
      mdb_env_set_mapsize(env_->env, 0);
      rc = mdb_txn_begin(env_->env, nullptr, write_ ? 0 : MDB_RDONLY, &txn_);
    }
    if (rc != 0) {
      txn_ = nullptr;
      return Fail(LmdbError("bayes store " + env_->path + ": begin transaction", rc));
    }
    return {};
  }
  Status Commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    if (rc == MDB_MAP_FULL) {
      return Fail("bayes store " + env_->path +
                  ": the database is full (raise the store's map size); nothing was written");
    }
    if (rc != 0) return Fail(LmdbError("bayes store " + env_->path + ": commit", rc));
    return {};
  }
  MDB_txn* get() const { return txn_; }
  LmdbStore::Env* env() const { return env_; }

  // A write that failed: the error (MDB_MAP_FULL said plainly).
  tl::unexpected<Error> WriteError(const char* what, int rc) const {
    if (rc == MDB_MAP_FULL) {
      return Fail("bayes store " + env_->path +
                  ": the database is full (raise the store's map size); nothing was written");
    }
    return Fail(LmdbError("bayes store " + env_->path + ": " + what, rc));
  }

  Result<uint64_t> GetVar(std::string_view name) const {
    MDB_val key = Val(name.data(), name.size()), val;
    int rc = mdb_get(txn_, env_->vars, &key, &val);
    if (rc == MDB_NOTFOUND) return uint64_t{0};
    if (rc != 0) return Fail(LmdbError("bayes store " + env_->path + ": read variables", rc));
    uint64_t v = 0;
    const char* p = static_cast<const char*>(val.mv_data);
    for (size_t i = std::min<size_t>(val.mv_size, 8); i > 0; --i) {
      v = (v << 8) | static_cast<unsigned char>(p[i - 1]);
    }
    return v;
  }
  Status PutVar(std::string_view name, uint64_t v) {
    char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    MDB_val key = Val(name.data(), name.size()), val = Val(buf, sizeof buf);
    int rc = mdb_put(txn_, env_->vars, &key, &val, 0);
    if (rc != 0) return WriteError("write variables", rc);
    return {};
  }

  // The token's counts, or found = false.
  Result<StoredToken> GetToken(TokenId id) const {
    std::string k = TokenIdBytes(id);
    MDB_val key = Val(k.data(), k.size()), val;
    int rc = mdb_get(txn_, env_->tokens, &key, &val);
    StoredToken t;
    if (rc == MDB_NOTFOUND) return t;
    if (rc != 0) return Fail(LmdbError("bayes store " + env_->path + ": read token", rc));
    if (val.mv_size < 12) {
      return Fail("bayes store " + env_->path + ": token record of " + std::to_string(val.mv_size) +
                  " bytes (corrupt database)");
    }
    const char* p = static_cast<const char*>(val.mv_data);
    t.spam = GetU32(p);
    t.ham = GetU32(p + 4);
    t.atime = GetU32(p + 8);
    t.found = true;
    return t;
  }

 private:
  LmdbStore::Env* env_;
  bool write_;
  MDB_txn* txn_ = nullptr;
};

// The oldest/newest bookkeeping of DBM.pm tok_put, carried through one transaction.
struct AtimeRange {
  uint64_t oldest = 0, newest = 0;
  bool have_oldest = false;
  bool changed = false;
  void Note(uint32_t atime) {
    if (atime > newest) {
      newest = atime;
      changed = true;
    }
    if (!have_oldest || atime < oldest) {
      oldest = atime;
      have_oldest = true;
      changed = true;
    }
  }
};

Result<AtimeRange> ReadRange(const Txn& txn) {
  AtimeRange r;
  auto oldest = txn.GetVar("oldest_atime");
  if (!oldest) return tl::unexpected(oldest.error());
  auto newest = txn.GetVar("newest_atime");
  if (!newest) return tl::unexpected(newest.error());
  auto have = txn.GetVar("have_oldest");
  if (!have) return tl::unexpected(have.error());
  r.oldest = *oldest;
  r.newest = *newest;
  r.have_oldest = *have != 0;
  return r;
}

Status WriteRange(Txn& txn, const AtimeRange& r) {
  if (!r.changed) return {};
  if (auto s = txn.PutVar("oldest_atime", r.oldest); !s) return s;
  if (auto s = txn.PutVar("newest_atime", r.newest); !s) return s;
  return txn.PutVar("have_oldest", r.have_oldest ? 1 : 0);
}

// tok_put: write the counts (delete the token at 0/0), keeping the atime range.
Status PutToken(Txn& txn, TokenId id, uint64_t spam, uint64_t ham, uint32_t atime, bool exists,
                AtimeRange* range) {
  std::string k = TokenIdBytes(id);
  MDB_val key = Val(k.data(), k.size());
  if (spam == 0 && ham == 0) {
    if (!exists) return {};
    int rc = mdb_del(txn.get(), txn.env()->tokens, &key, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return txn.WriteError("delete token", rc);
    return {};
  }
  char buf[12];
  PutU32(buf, Clamp32(spam));
  PutU32(buf + 4, Clamp32(ham));
  PutU32(buf + 8, atime);
  MDB_val val = Val(buf, sizeof buf);
  int rc = mdb_put(txn.get(), txn.env()->tokens, &key, &val, 0);
  if (rc != 0) return txn.WriteError("write token", rc);
  range->Note(atime);
  return {};
}

// multi_tok_count_change → tok_sync_counters for every token.
Status ChangeTokens(Txn& txn, std::span<const TokenId> tokens, int64_t ds, int64_t dh,
                    uint32_t atime) {
  auto range = ReadRange(txn);
  if (!range) return tl::unexpected(range.error());
  for (TokenId id : tokens) {
    auto t = txn.GetToken(id);
    if (!t) return tl::unexpected(t.error());
    int64_t s = static_cast<int64_t>(t->spam) + ds;
    int64_t h = static_cast<int64_t>(t->ham) + dh;
    if (s < 0) s = 0;
    if (h < 0) h = 0;
    uint32_t a = std::max(atime, t->atime);  // never roll an atime back
    if (auto st = PutToken(txn, id, static_cast<uint64_t>(s), static_cast<uint64_t>(h), a, t->found,
                           &*range);
        !st) {
      return st;
    }
  }
  return WriteRange(txn, *range);
}

// nspam_nham_change (floored at 0, as tok_sync_nspam_nham).
Status ChangeMessageCounts(Txn& txn, int64_t ds, int64_t dh) {
  auto ns = txn.GetVar("nspam");
  if (!ns) return tl::unexpected(ns.error());
  auto nh = txn.GetVar("nham");
  if (!nh) return tl::unexpected(nh.error());
  int64_t s = static_cast<int64_t>(*ns) + ds, h = static_cast<int64_t>(*nh) + dh;
  if (auto st = txn.PutVar("nspam", static_cast<uint64_t>(std::max<int64_t>(s, 0))); !st) {
    return st;
  }
  return txn.PutVar("nham", static_cast<uint64_t>(std::max<int64_t>(h, 0)));
}

Result<std::optional<char>> GetSeen(const Txn& txn, std::string_view msgid) {
  MDB_val key = Val(msgid.data(), msgid.size()), val;
  int rc = mdb_get(txn.get(), txn.env()->seen, &key, &val);
  if (rc == MDB_NOTFOUND) return std::optional<char>();
  if (rc != 0) return Fail(LmdbError("bayes store " + txn.env()->path + ": read seen", rc));
  if (val.mv_size == 0) return std::optional<char>('\0');
  return std::optional<char>(static_cast<const char*>(val.mv_data)[0]);
}

// _forget_trapped inside a write transaction.
Result<LearnOutcome> ForgetIn(Txn& txn, std::span<const std::string> msgids,
                              std::span<const TokenId> tokens) {
  std::optional<bool> spam;
  std::string_view found;
  for (const std::string& id : msgids) {
    if (id.empty()) continue;  // `while ($msgid = shift @msgid)`: a false id ends nothing
    auto seen = GetSeen(txn, id);
    if (!seen) return tl::unexpected(seen.error());
    if (!*seen) continue;
    if (**seen == 's') {
      spam = true;
    } else if (**seen == 'h') {
      spam = false;
    } else {
      return LearnOutcome::kNotLearned;  // "neither ham nor spam, ignored"
    }
    found = id;
    break;
  }
  if (!spam) return LearnOutcome::kNotLearned;
  if (auto st = ChangeMessageCounts(txn, *spam ? -1 : 0, *spam ? 0 : -1); !st) {
    return tl::unexpected(st.error());
  }
  if (auto st = ChangeTokens(txn, tokens, *spam ? -1 : 0, *spam ? 0 : -1, 0); !st) {
    return tl::unexpected(st.error());
  }
  MDB_val key = Val(found.data(), found.size());
  int rc = mdb_del(txn.get(), txn.env()->seen, &key, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) return txn.WriteError("delete seen", rc);
  return LearnOutcome::kLearned;
}

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, std::weak_ptr<LmdbStore::Env>>& Registry() {
  static std::map<std::string, std::weak_ptr<LmdbStore::Env>> registry;
  return registry;
}

}  // namespace

LmdbStore::LmdbStore(std::shared_ptr<Env> env) : env_(std::move(env)) {}
LmdbStore::~LmdbStore() = default;

Result<std::unique_ptr<LmdbStore>> LmdbStore::Open(const std::string& directory,
                                                   const LmdbOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) return Fail("bayes store " + directory + ": create directory: " + ec.message());
  std::filesystem::path canonical = std::filesystem::canonical(directory, ec);
  if (ec) return Fail("bayes store " + directory + ": " + ec.message());
  const std::string key = canonical.string();

  std::lock_guard<std::mutex> lock(RegistryMutex());
  if (auto shared = Registry()[key].lock()) {
    return std::unique_ptr<LmdbStore>(new LmdbStore(std::move(shared)));
  }
  auto env = std::make_shared<Env>();
  env->path = key;
  int rc = mdb_env_create(&env->env);
  if (rc != 0) return Fail(LmdbError("bayes store " + key + ": mdb_env_create", rc));
  mdb_env_set_maxdbs(env->env, 4);
  mdb_env_set_maxreaders(env->env, options.max_readers);
  rc = mdb_env_set_mapsize(env->env, options.map_size);
  if (rc != 0) return Fail(LmdbError("bayes store " + key + ": map size", rc));
  // MDB_NOTLS: read transactions belong to their object, not the thread, so any thread may
  // run one.
  rc = mdb_env_open(env->env, key.c_str(), MDB_NOTLS, 0640);
  if (rc != 0) return Fail(LmdbError("bayes store " + key + ": open", rc));
  int dead = 0;
  mdb_reader_check(env->env, &dead);  // clear the slots of readers that died

  Txn txn(env.get(), true);
  if (auto s = txn.Begin(); !s) return tl::unexpected(s.error());
  for (auto [name, dbi] : {std::pair<const char*, MDB_dbi*>{"tokens", &env->tokens},
                           {"seen", &env->seen},
                           {"vars", &env->vars}}) {
    rc = mdb_dbi_open(txn.get(), name, MDB_CREATE, dbi);
    if (rc != 0) return Fail(LmdbError("bayes store " + key + ": open " + name, rc));
  }
  auto format = txn.GetVar("format");
  if (!format) return tl::unexpected(format.error());
  if (*format == 0) {
    if (auto s = txn.PutVar("format", kFormat); !s) return tl::unexpected(s.error());
  } else if (*format != kFormat) {
    return Fail("bayes store " + key + ": database format " + std::to_string(*format) +
                " is not supported (this mailsift reads format " + std::to_string(kFormat) + ")");
  }
  if (auto s = txn.Commit(); !s) return tl::unexpected(s.error());
  Registry()[key] = env;
  return std::unique_ptr<LmdbStore>(new LmdbStore(std::move(env)));
}

Result<MessageCounts> LmdbStore::Counts() {
  Txn txn(env_.get(), false);
  if (auto s = txn.Begin(); !s) return tl::unexpected(s.error());
  auto ns = txn.GetVar("nspam");
  if (!ns) return tl::unexpected(ns.error());
  auto nh = txn.GetVar("nham");
  if (!nh) return tl::unexpected(nh.error());
  return MessageCounts{*ns, *nh};
}

Result<std::vector<StoredToken>> LmdbStore::Lookup(std::span<const TokenId> ids) {
  Txn txn(env_.get(), false);
  if (auto s = txn.Begin(); !s) return tl::unexpected(s.error());
  std::vector<StoredToken> out;
  out.reserve(ids.size());
  for (TokenId id : ids) {
    auto t = txn.GetToken(id);
    if (!t) return tl::unexpected(t.error());
    out.push_back(*t);
  }
  return out;
}

Result<std::optional<char>> LmdbStore::Seen(std::string_view msgid) {
  Txn txn(env_.get(), false);
  if (auto s = txn.Begin(); !s) return tl::unexpected(s.error());
  return GetSeen(txn, msgid);
}

Result<LearnOutcome> LmdbStore::Learn(bool spam, std::span<const std::string> msgids,
                                      std::span<const TokenId> tokens, uint32_t atime) {
  if (msgids.empty() || msgids[0].empty()) {
    return Fail("bayes store " + env_->path + ": learn without a message id");
  }
  Txn txn(env_.get(), true);
  if (auto s = txn.Begin(); !s) return tl::unexpected(s.error());
  LearnOutcome outcome = LearnOutcome::kLearned;
  for (const std::string& id : msgids) {
    if (id.empty()) continue;
    auto seen = GetSeen(txn, id);
    if (!seen) return tl::unexpected(seen.error());
    if (!*seen) continue;
    if ((**seen == 's' && spam) || (**seen == 'h' && !spam)) return LearnOutcome::kAlreadyLearned;
    if (**seen == 's' || **seen == 'h') {
      // Learned as the other class: forget first (with the same tokens, as forget()
      // re-tokenizes the same message).
      auto forgot = ForgetIn(txn, msgids, tokens);
      if (!forgot) return tl::unexpected(forgot.error());
      outcome = LearnOutcome::kRelearned;
    }
    // A corrupt entry is ignored (SpamAssassin warns), and the message is learned.
    break;
  }
  if (auto st = ChangeMessageCounts(txn, spam ? 1 : 0, spam ? 0 : 1); !st) {
    return tl::unexpected(st.error());
  }
  if (auto st = ChangeTokens(txn, tokens, spam ? 1 : 0, spam ? 0 : 1, atime); !st) {
    return tl::unexpected(st.error());
  }
  const char flag = spam ? 's' : 'h';
  MDB_val key = Val(msgids[0].data(), msgids[0].size()), val = Val(&flag, 1);
  int rc = mdb_put(txn.get(), env_->seen, &key, &val, 0);
  if (rc != 0) return txn.WriteError("write seen", rc);
  if (auto s = txn.Commit(); !s) return tl::unexpected(s.error());
  return outcome;
}

Result<LearnOutcome> LmdbStore::Forget(std::span<const std::string> msgids,
                                       std::span<const TokenId> tokens) {
  Txn txn(env_.get(), true);
  if (auto s = txn.Begin(); !s) return tl::unexpected(s.error());
  auto outcome = ForgetIn(txn, msgids, tokens);
  if (!outcome) return outcome;
  if (*outcome == LearnOutcome::kLearned) {
    if (auto s = txn.Commit(); !s) return tl::unexpected(s.error());
  }
  return outcome;
}

Status LmdbStore::Touch(std::span<const TokenId> ids, uint32_t atime) {
  Txn txn(env_.get(), true);
  if (auto s = txn.Begin(); !s) return s;
  auto range = ReadRange(txn);
  if (!range) return tl::unexpected(range.error());
  for (TokenId id : ids) {
    auto t = txn.GetToken(id);
    if (!t) return tl::unexpected(t.error());
    // tok_touch_token: only forward, only tokens that are there.
    if (!t->found || t->atime >= atime) continue;
    if (auto st = PutToken(txn, id, t->spam, t->ham, atime, true, &*range); !st) return st;
  }
  if (auto st = WriteRange(txn, *range); !st) return st;
  return txn.Commit();
}

Result<StoreVariables> LmdbStore::Variables() {
  Txn txn(env_.get(), false);
  if (auto s = txn.Begin(); !s) return tl::unexpected(s.error());
  StoreVariables v;
  struct Field {
    const char* name;
    uint64_t* u64;
    uint32_t* u32;
  };
  uint64_t oldest = 0, newest = 0, last_expire = 0, delta = 0;
  for (const Field& f :
       {Field{"nspam", &v.nspam, nullptr}, Field{"nham", &v.nham, nullptr},
        Field{"oldest_atime", &oldest, nullptr}, Field{"newest_atime", &newest, nullptr},
        Field{"last_expire", &last_expire, nullptr}, Field{"last_atime_delta", &delta, nullptr},
        Field{"last_expire_reduce", &v.last_expire_reduce, nullptr}}) {
    auto value = txn.GetVar(f.name);
    if (!value) return tl::unexpected(value.error());
    *f.u64 = *value;
  }
  v.oldest_atime = Clamp32(oldest);
  v.newest_atime = Clamp32(newest);
  v.last_expire = Clamp32(last_expire);
  v.last_atime_delta = Clamp32(delta);
  MDB_stat stat;
  int rc = mdb_stat(txn.get(), env_->tokens, &stat);
  if (rc != 0) return Fail(LmdbError("bayes store " + env_->path + ": stat", rc));
  v.ntokens = stat.ms_entries;
  return v;
}

namespace {

// Calls `visit(id bytes, spam, ham, atime)` for every token, in key order.
template <typename Visit>
Status ForEachToken(Txn& txn, Visit visit) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), txn.env()->tokens, &cursor);
  if (rc != 0) return Fail(LmdbError("bayes store " + txn.env()->path + ": cursor", rc));
  MDB_val key, val;
  Status result;
  for (rc = mdb_cursor_get(cursor, &key, &val, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &key, &val, MDB_NEXT)) {
    if (val.mv_size < 12) continue;
    const char* p = static_cast<const char*>(val.mv_data);
    if (!visit(cursor, GetU32(p), GetU32(p + 4), GetU32(p + 8))) break;
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    result = Fail(LmdbError("bayes store " + txn.env()->path + ": walk tokens", rc));
  }
  mdb_cursor_close(cursor);
  return result;
}

}  // namespace

Result<ExpiryResult> LmdbStore::Expire(const ExpiryOptions& options, uint32_t now) {
  auto vars = Variables();
  if (!vars) return tl::unexpected(vars.error());
  ExpiryResult result;
  // expiry_due()
  if (!options.force) {
    if (static_cast<int64_t>(now) - vars->last_expire < kSafetyExpirePeriod) return result;
    if (vars->ntokens <= kMinKeptTokens || options.max_db_size > vars->ntokens ||
        static_cast<int64_t>(vars->newest_atime) - vars->oldest_atime < kSafetyExpirePeriod) {
      return result;
    }
  }

  Txn txn(env_.get(), true);
  if (auto s = txn.Begin(); !s) return tl::unexpected(s.error());
  // Read again inside the write transaction: another writer may have changed them.
  auto range = ReadRange(txn);
  if (!range) return tl::unexpected(range.error());
  MDB_stat stat;
  int rc = mdb_stat(txn.get(), env_->tokens, &stat);
  if (rc != 0) return Fail(LmdbError("bayes store " + env_->path + ": stat", rc));
  const uint64_t ntokens = stat.ms_entries;
  auto last_expire = txn.GetVar("last_expire");
  auto last_delta = txn.GetVar("last_atime_delta");
  auto last_reduce = txn.GetVar("last_expire_reduce");
  if (!last_expire || !last_delta || !last_reduce) {
    return Fail("bayes store " + env_->path + ": cannot read the expiry variables");
  }
  uint64_t newest = std::min<uint64_t>(range->newest, now);  // never in the future
  auto finish_early = [&]() -> Result<ExpiryResult> {
    if (auto s = txn.PutVar("last_expire", now); !s) return tl::unexpected(s.error());
    if (auto s = txn.Commit(); !s) return tl::unexpected(s.error());
    result.ran = true;
    result.kept = ntokens;
    return result;
  };

  int64_t goal = static_cast<int64_t>(static_cast<double>(options.max_db_size) * options.pct);
  if (goal < static_cast<int64_t>(kMinKeptTokens)) goal = kMinKeptTokens;
  const int64_t goal_reduction = static_cast<int64_t>(ntokens) - goal;
  if (goal_reduction < 1000) return finish_early();  // too few tokens to expire

  const double reduce = static_cast<double>(*last_reduce);
  const double delta_prev = static_cast<double>(*last_delta);
  int64_t newdelta = 0;
  if (*last_reduce > 0) {
    newdelta = static_cast<int64_t>(delta_prev * reduce / static_cast<double>(goal_reduction));
  }
  double ratio = (*last_reduce == 0 || reduce > static_cast<double>(goal_reduction))
                     ? reduce / static_cast<double>(goal_reduction)
                     : static_cast<double>(goal_reduction) / reduce;
  if (static_cast<int64_t>(now) - static_cast<int64_t>(*last_expire) > 86400 * 30 ||
      *last_delta < options.period || *last_reduce < 1000 || newdelta < options.period ||
      ratio > 1.5) {
    // calculate_expire_delta: how many tokens each delta period × 2^k would remove.
    const uint64_t start = options.period;
    uint64_t max_mult = uint64_t{1} << options.max_exponent;
    std::map<uint64_t, uint64_t> delta;
    auto counted = ForEachToken(txn, [&](MDB_cursor*, uint32_t, uint32_t, uint32_t atime) {
      int64_t age = static_cast<int64_t>(newest) - atime;
      for (uint64_t i = 1; i <= max_mult; i <<= 1) {
        if (age >= static_cast<int64_t>(start * i)) {
          ++delta[i];
        } else {
          break;
        }
      }
      return true;
    });
    if (!counted) return tl::unexpected(counted.error());
    if (delta.empty()) return result;  // `return 0 unless (%delta)`: nothing is old enough
    for (; max_mult > 0; max_mult >>= 1) {
      auto it = delta.find(max_mult);
      if (it == delta.end()) continue;
      if (static_cast<int64_t>(it->second) > goal_reduction) {
        max_mult <<= 1;  // the max expire is actually the next power of 2 out
        break;
      }
    }
    if (max_mult == 0) max_mult = 1;
    auto it = delta.find(max_mult);
    if (it == delta.end() || it->second < 1000) return finish_early();
    newdelta = static_cast<int64_t>(start * max_mult);
  }

  // token_expiration: first count what would stay; fewer than 100,000 and nothing is removed.
  const int64_t too_old = static_cast<int64_t>(newest) - newdelta;
  uint64_t kept = 0, deleted = 0;
  auto tallied = ForEachToken(txn, [&](MDB_cursor*, uint32_t, uint32_t, uint32_t atime) {
    (static_cast<int64_t>(atime) < too_old ? deleted : kept) += 1;
    return true;
  });
  if (!tallied) return tl::unexpected(tallied.error());
  result.ran = true;
  if (kept < kMinKeptTokens) {
    for (auto [name, value] : {std::pair<const char*, uint64_t>{"last_expire", now},
                               {"last_expire_reduce", 0},
                               {"last_atime_delta", 0}}) {
      if (auto s = txn.PutVar(name, value); !s) return tl::unexpected(s.error());
    }
    if (auto s = txn.Commit(); !s) return tl::unexpected(s.error());
    result.kept = ntokens;
    return result;
  }
  AtimeRange kept_range;
  kept_range.newest = newest;
  Status walk_error;
  auto walked =
      ForEachToken(txn, [&](MDB_cursor* cursor, uint32_t spam, uint32_t ham, uint32_t atime) {
        int drc = 0;
        if (static_cast<int64_t>(atime) < too_old) {
          drc = mdb_cursor_del(cursor, 0);
        } else if (atime > newest) {
          // Future atimes are brought back to the newest one.
          char buf[12];
          PutU32(buf, spam);
          PutU32(buf + 4, ham);
          PutU32(buf + 8, static_cast<uint32_t>(newest));
          MDB_val key, val = Val(buf, sizeof buf);
          MDB_val current;
          drc = mdb_cursor_get(cursor, &key, &current, MDB_GET_CURRENT);
          if (drc == 0) drc = mdb_cursor_put(cursor, &key, &val, MDB_CURRENT);
          atime = static_cast<uint32_t>(newest);
        }
        if (drc != 0) {
          walk_error = txn.WriteError("expire token", drc);
          return false;
        }
        if (static_cast<int64_t>(atime) >= too_old) {
          if (!kept_range.have_oldest || atime < kept_range.oldest) {
            kept_range.oldest = atime;
            kept_range.have_oldest = true;
          }
        }
        return true;
      });
  if (!walked) return tl::unexpected(walked.error());
  if (!walk_error) return tl::unexpected(walk_error.error());
  kept_range.changed = true;
  if (auto s = WriteRange(txn, kept_range); !s) return tl::unexpected(s.error());
  for (auto [name, value] : {std::pair<const char*, uint64_t>{"last_expire", now},
                             {"last_expire_reduce", deleted},
                             {"last_atime_delta", static_cast<uint64_t>(newdelta)}}) {
    if (auto s = txn.PutVar(name, value); !s) return tl::unexpected(s.error());
  }
  if (auto s = txn.Commit(); !s) return tl::unexpected(s.error());
  result.kept = kept;
  result.deleted = deleted;
  result.atime_delta = static_cast<uint32_t>(newdelta);
  return result;
}

}  // namespace mailsift::bayes
