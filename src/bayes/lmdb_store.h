// bayes/lmdb_store.h — the embedded Bayes store: one LMDB environment in a directory.
//
// LmdbStore keeps SpamAssassin's Bayes database (store.h) in an LMDB environment (Debian's
// liblmdb): a directory holding data.mdb and lock.mdb, with three named databases —
//   tokens  key: the 5 id bytes (SpamAssassin's DBM/Redis key), value: spam, ham, atime as
//           three little-endian uint32 (SpamAssassin's DBM packs them as 32-bit too);
//   seen    key: the message id, value: "s" or "h";
//   vars    key: a name (nspam, nham, oldest_atime, newest_atime, last_expire,
//           last_atime_delta, last_expire_reduce, format), value: a little-endian uint64.
// Every operation is one LMDB transaction, so a Learn is all or nothing: a process killed in
// the middle leaves the store as it was before (commits are synced to disk). Readers never
// block and never see a half-written learn (MVCC): each call reads one committed snapshot, not
// always the newest (LMDB may start a read on the snapshot before the one the previous call
// saw); writers (the filter's Touch, a `mailsift
// learn`) take turns on LMDB's process-shared writer lock, and a writer that dies holding it is
// recovered by the next one (robust mutexes). Reader slots of dead processes are cleared on
// open.
//
// LMDB must not open one environment twice in a process (its locks are per process), so Open
// shares one environment per directory between all stores of the process: the filter's
// generations can each hold a store. Do not carry a store across fork(); open it in the child.
//
// The map size is fixed at open (default 1 GiB of address space; the file grows as it fills):
// a full map makes writes fail with a clear error, reads go on.
//
// Thread-safety: a LmdbStore may be used from several threads at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "bayes/store.h"

namespace mailsift::bayes {

struct LmdbOptions {
  size_t map_size = size_t{1} << 30;  // the most the database can hold, in bytes
  unsigned max_readers = 1024;        // concurrent read transactions, all processes together
};

class LmdbStore final : public BayesStore {
 public:
  // Opens (creating the directory and the databases when missing) the store at `directory`.
  static Result<std::unique_ptr<LmdbStore>> Open(const std::string& directory,
                                                 const LmdbOptions& options = {});
  ~LmdbStore() override;

  Result<MessageCounts> Counts() override;
  Result<std::vector<StoredToken>> Lookup(std::span<const TokenId> ids) override;
  Result<std::optional<char>> Seen(std::string_view msgid) override;
  Result<LearnOutcome> Learn(bool spam, std::span<const std::string> msgids,
                             std::span<const TokenId> tokens, uint32_t atime) override;
  Result<LearnOutcome> Forget(std::span<const std::string> msgids,
                              std::span<const TokenId> tokens) override;
  Status Touch(std::span<const TokenId> ids, uint32_t atime) override;
  Result<StoreVariables> Variables() override;
  Result<ExpiryResult> Expire(const ExpiryOptions& options, uint32_t now) override;

  struct Env;

 private:
  explicit LmdbStore(std::shared_ptr<Env> env);
  std::shared_ptr<Env> env_;
};

}  // namespace mailsift::bayes
