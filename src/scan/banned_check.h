// scan/banned_check.h — banned file names and types: amavisd-new's $banned_filename_re check.
//
// Run() takes the message apart as amavisd's decompose_mail (Amavis/Unpackers.pm) does and
// matches what it finds against the configured patterns:
//   - every MIME part (mime/message.h; message/rfc822 parts are opened too, which amavisd
//     leaves whole) is a node with its declared MIME type (M), its file names from
//     Content-Disposition filename and Content-Type name, RFC 2047/2231-decoded and as written
//     (N), and the short types amavisd's $map_full_type_to_short_type_re (Amavis/Conf.pm) gives
//     libmagic's description of its decoded content (T: "exe", "exe-ms", "zip", "pdf", …);
//   - a part whose short type is one amavisd's @decoders list opens (zip, 7z, rar, tar, cpio,
//     gz, bz2, xz, lzma, Z, zst, lz4, rpm, deb, cab, lha, iso; a RAR self-extracting exe) is
//     opened with libarchive from memory; each member is a child node with its name and
//     detected types, and is opened in turn. A compressed stream (gz, bz2, …) has one child,
//     named as amavisd's do_uncompress names it ("a.tar.gz" → "a.tar", "a.tgz" → "a.tar").
// Each leaf of that tree is checked as amavisd's check_for_banned_names
// (Amavis/Unpackers/Validity.pm) checks it: the keys of the leaf and of all its ancestors —
// declared types, "." + short types, names, and "UNDECIPHERABLE" for a node amavisd marks
// undecipherable — against each pattern in order (PCRE2, case-insensitive); the first pattern
// that matches any key bans the leaf.
//
// Limits (amavisd's $MAXLEVELS, $MAXFILES, $MAX_EXPANSION_QUOTA; 0 = none): MIME parts are
// level 1 and the members of an archive at level n are at level n+1; members past
// max_archive_depth are listed by name but not read (other parts are still opened); more than
// max_archive_files archive entries in the whole message, or more than max_expanded_size bytes
// expanded, stops the walk; archives are never opened deeper than 64 levels (when
// max_archive_depth is 0 or larger). The MIME parser's own limits (mime/message.h: nesting
// depth, number of parts, decoded size) count as well: past one of them the parser did not see
// every part, so the message is not clean but UNCHECKED-2 ("MIME nesting deeper than 20
// levels", "More than 1000 MIME parts", "MIME part 2 not fully decoded …" — the last only when
// what was cut could matter: libmagic saw less than it reads, or the part is an archive to be
// opened). Past a limit the result is UNCHECKED-2; an encrypted archive
// member (or an archive with encrypted headers) makes it UNCHECKED-1 (an over-limit wins, as
// amavisd's higher minor category does). A banned leaf wins over both: what was listed before
// a limit stopped the walk is still checked. A corrupt or truncated archive is neither: its
// members read so far are checked, the rest is ignored (amavisd logs "not a zip" and keeps the
// part whole). PGP- or S/MIME-encrypted MIME content is not UNCHECKED here (amavisd makes it
// UNCHECKED-ENCRYPTED, which its default $final_unchecked_destiny passes); a part libmagic
// calls PGP-encrypted only shows attribute C. Archives are expanded in memory: a member that
// is itself to be opened is held whole while it is, so max_expanded_size also bounds memory.
//
// The result (check.h), finding kBanned: details[0] is amavisd's %F, the text its main log
// line shows in "BANNED (…)": the first banned leaf's keys, "[comment:]M,.T,N" (a comment
// comes from a (?#…) group in the matching pattern); details[1…] are the banned leaves in
// amavisd's banned_parts_as_attr form (its "p.path" log text), one per leaf, ancestors first:
//   "P=p003,L=1,M=multipart/mixed | P=p002,L=1/2,M=application/octet-stream,T=exe,T=exe-ms,N=a.exe"
// (P: amavisd's part number: MIME leaves first, then MIME containers, then archive members in
// walk order; L: the place in the tree, "1/2/1"; A: attributes, U undecipherable, C crypted).
// finding kUnchecked: details say which limit ("Maximum decoding depth (14) exceeded", as
// amavisd's $hold text) or which member is encrypted.
//
// libmagic is asked as File::LibMagic asks it for amavisd, unless no pattern can match a type
// that only libmagic's costly text tests give (true of Debian's defaults): then in two cheaper
// steps that find every binary type as exactly (see exact_libmagic()).
//
// Thread-safety: immutable after Create; Run() may be called from several threads at once
// (libmagic cookies come from a small locked pool, each loaded from one in-memory copy of the
// magic database read at Create, so Run() opens no file and works after a chroot).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "config/config.h"
#include "scan/check.h"

namespace mailsift::mime {
class Message;
}

namespace mailsift::scan {

class BannedCheck : public Check {
 public:
  // Compiles config.patterns (an invalid pattern is an error that names it and its index in
  // banned.patterns) and loads libmagic's compiled database (the .mgc files on libmagic's
  // default path, MAGIC honoured); an error when none can be read.
  static Result<std::unique_ptr<BannedCheck>> Create(const config::Banned& config);
  ~BannedCheck() override;

  std::string_view name() const override { return "banned"; }
  // Parses the message and calls Inspect(). Not scanned when config.enabled is false.
  CheckResult Run(const MessageInput& message) const override;
  // The check on an already parsed message.
  CheckResult Inspect(const mime::Message& message) const;

  // amavisd's short types for a libmagic description, in order ("PE32 executable (GUI) Intel
  // 80386, for MS Windows" → {"exe", "exe-ms"}); empty only when nothing matches (never: the
  // table ends with a catch-all "dat"). Exposed for tests.
  std::vector<std::string> ShortTypes(std::string_view description) const;
  // libmagic's description of `content` (as `file -b` prints it, in exact mode). Exposed for
  // tests.
  std::string Describe(std::string_view content) const;
  // Whether libmagic is asked once per part as amavisd asks it (some pattern can match a type
  // that libmagic's text tests give: ".asc", ".txt", ".html", ".url", ".svg", ".pgp", …), or
  // in two cheaper steps that find every binary type as exactly (the .cc file says how).
  bool exact_libmagic() const;

  struct Impl;

 private:
  BannedCheck() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailsift::scan
