#!/usr/bin/env bash
# parity-reference.sh - SpamAssassin's own verdicts on the parity sample, as a TSV.
#
# Usage: scripts/parity-reference.sh [--corpus DIR] [--from-line keep|strip] [--out FILE]
#                                    [--force] [--concurrency N] [--keep-tmp]
#
# The sample: the first 150 files by name of each of easy-ham-1, hard-ham-1 and spam-2 of the
# corpus that scripts/fetch-corpus.sh lays out (--corpus DIR or $MAILSIFT_CORPUS skip the fetch).
# spamd gets the same files that mailsift scans (mbox "From " line removed). --from-line keep
# gives it the messages as the public corpus has them, with that line first
# (scripts/fetch-corpus.sh --keep-from-line; with --corpus DIR or $MAILSIFT_CORPUS: the sibling
# DIR-with-from when there is one). SpamAssassin strips the line but may take the envelope
# sender from it; on this sample both give the same result, equal to the project's shared
# reference (checked with SpamAssassin 4.0.1 and Email::Address::XS 1.05).
#
# How: Debian's spamd (packages spamd, spamc; SpamAssassin 4.0.1) runs with local tests only
# (-L), no user config (-x), Debian's site config (/etc/spamassassin) and rules, plus
#   use_bayes 0 / bayes_auto_learn 0 / skip_rbl_checks 1 / dns_available no / use_razor2 0 /
#   use_pyzor 0
# (so score set 0 is in force) and two add_header lines that report the scored rules hit with
# their scores (_TESTSSCORES(,)_) and the `__` sub-rules hit with counts
# (_SUBTESTSCOLLAPSED(,)_). It listens on 127.0.0.1 on a free port with 2 children, its
# HOME (-H) is a temp dir, and it is stopped by PID when the script ends (also on errors and
# Ctrl-C). tests/parity/sa_reference.py sends each message with SPAMC/1.5 HEADERS,
# 2 at a time, and writes the TSV:
#   file  score  rules_with_scores  subrules_hit(count)
#   easy-ham-1/00001.<md5>.txt  0.00  HEADER_FROM_DIFFERENT_DOMAINS=1,...  __CT,__E_LIKE_LETTER(126),...
# (score: spamd's one-decimal score; names sorted; an empty field when nothing hit).
#
# The result is cached as ${MAILSIFT_CACHE:-$HOME/.cache/mailsift}/parity/sa-reference-<key>.tsv,
# key = SHA-256 of the SpamAssassin version, the contents of the rule and config files it reads,
# the sample (names and bytes) and the settings above; a cached result is reused (--force
# makes it anew). The path of the TSV is the only thing printed on stdout; --out FILE also
# copies it there; progress and timings go to stderr. Exit status: 0 ok, 69 spamd missing,
# 75 cache lock busy, 1 other failures. One run takes ~30 s of wall time on 2 idle cores
# (~55 s of CPU), or ~0.3 s when cached.
#
# Needs: Debian packages spamassassin, spamd and libemail-address-xs-perl (Debian installs it
# with spamassassin's recommended packages; without it SA parses addresses with its own fallback
# and finds another envelope sender on two messages of the sample), Python 3, npm the first
# time (corpus). Run as root (spamd then runs as debian-spamd) or as a normal user.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
helper="$repo/tests/parity/sa_reference.py"
PYTHON=python3
[[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3

corpus="${MAILSIFT_CORPUS:-}"
out=""
force=0
concurrency=2
keep_tmp=0
from_line="strip"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --corpus) corpus="$2"; shift 2 ;;
    --corpus=*) corpus="${1#*=}"; shift ;;
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    --force) force=1; shift ;;
    --from-line) from_line="$2"; shift 2 ;;
    --from-line=*) from_line="${1#*=}"; shift ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --keep-tmp) keep_tmp=1; shift ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) echo "usage: $0 [--corpus DIR] [--from-line keep|strip] [--out FILE] [--force]" \
            "[--concurrency N] [--keep-tmp]" >&2
       exit 64 ;;
  esac
done
case "$from_line" in
  keep|strip) ;;
  *) echo "parity-reference: --from-line keep|strip" >&2; exit 64 ;;
esac

SPAMD="$(command -v spamd || true)"
[[ -z $SPAMD && -x /usr/sbin/spamd ]] && SPAMD=/usr/sbin/spamd
if [[ -z $SPAMD ]]; then
  echo "parity-reference: spamd not found (Debian packages spamd and spamc: scripts/install-deps.sh)" >&2
  exit 69
fi

if ! perl -MEmail::Address::XS -e 1 2>/dev/null; then
  # Without it SpamAssassin parses addresses with its own fallback code, which finds another
  # envelope sender on some messages (spam-2/00135 and 00136 of the sample).
  echo "parity-reference: warning: Perl module Email::Address::XS missing (Debian" \
       "libemail-address-xs-perl); the reference will differ from the project's" >&2
fi

if [[ -z $corpus ]]; then
  if [[ $from_line == keep ]]; then
    corpus="$(bash "$repo/scripts/fetch-corpus.sh" --keep-from-line | tail -n 1)"
  else
    corpus="$(bash "$repo/scripts/fetch-corpus.sh" | tail -n 1)"
  fi
elif [[ $from_line == keep && $corpus != *-with-from && $corpus != *-with-from/ ]]; then
  if [[ -d ${corpus%/}-with-from ]]; then
    corpus="${corpus%/}-with-from"
  else
    echo "parity-reference: warning: no ${corpus%/}-with-from; scanning $corpus as it is" >&2
  fi
fi
[[ -d $corpus ]] || { echo "parity-reference: no corpus directory $corpus" >&2; exit 1; }

cache="${MAILSIFT_CACHE:-$HOME/.cache/mailsift}/parity"
mkdir -p "$cache"
# One run at a time per cache (two tests must not both start spamd for the same result).
exec 9>"$cache/.lock"
flock -w 900 9 || { echo "parity-reference: could not lock $cache/.lock" >&2; exit 75; }

started=$(date +%s.%N)
tmp="$(mktemp -d "${TMPDIR:-/tmp}/mailsift-parity.XXXXXX")"
spamd_pid=""

# Field 22 of /proc/PID/stat (start time in ticks), empty when PID is gone.
starttime() { awk '{sub(/.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null || true; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $spamd_pid ]]; then
    # spamd's children, as "PID:start-time" (read before the parent goes away), so that a
    # child left behind is killed by PID and never a process that reused the PID.
    local kids="" k
    for k in $(cat /proc/"$spamd_pid"/task/*/children 2>/dev/null || true); do
      kids+=" $k:$(starttime "$k")"
    done
    kill -TERM "$spamd_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$spamd_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$spamd_pid" 2>/dev/null || true
    wait "$spamd_pid" 2>/dev/null || true
    for k in $kids; do
      if [[ -n ${k#*:} && "$(starttime "${k%%:*}")" == "${k#*:}" ]]; then
        sleep 1
        if [[ "$(starttime "${k%%:*}")" == "${k#*:}" ]]; then
          kill -KILL "${k%%:*}" 2>/dev/null || true
        fi
      fi
    done
  fi
  if [[ $keep_tmp -eq 1 ]]; then
    echo "parity-reference: temp dir kept: $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

settings="$tmp/settings.cf"
cat >"$settings" <<'EOF'
use_bayes 0
bayes_auto_learn 0
skip_rbl_checks 1
dns_available no
use_razor2 0
use_pyzor 0
add_header all MsParityTests _TESTSSCORES(,)_
add_header all MsParitySubtests _SUBTESTSCOLLAPSED(,)_
EOF
# spamd flags that change results are part of the key too.
echo "spamd -L -x --siteconfigpath=/etc/spamassassin" >>"$tmp/settings.key"
cat "$settings" >>"$tmp/settings.key"

"$PYTHON" "$helper" sample --corpus "$corpus" --out "$tmp/sample.tsv"
key="$("$PYTHON" "$helper" key --sample "$tmp/sample.tsv" --settings "$tmp/settings.key")"
result="$cache/sa-reference-${key:0:24}.tsv"

if [[ $force -eq 0 && -s $result ]]; then
  echo "parity-reference: cached: $result" >&2
else
  home="$tmp/home"
  mkdir -p "$home"
  user_args=()
  if [[ $(id -u) -eq 0 ]]; then
    # spamd will not scan as root; Debian's package makes the debian-spamd user.
    spamd_user=debian-spamd
    getent passwd "$spamd_user" >/dev/null || spamd_user=nobody
    user_args=(-u "$spamd_user")
    chown "$spamd_user" "$home"
    chmod 755 "$tmp"
  fi
  cf_args=()
  while IFS= read -r line; do cf_args+=("--cf=$line"); done <"$settings"

  port="$("$PYTHON" "$helper" free-port)"
  echo "parity-reference: starting spamd on 127.0.0.1:$port" >&2
  "$SPAMD" -L -x "${user_args[@]}" -H "$home" --siteconfigpath=/etc/spamassassin \
    "${cf_args[@]}" -i "127.0.0.1:$port" -A 127.0.0.1 \
    -m 2 --min-children=2 --min-spare=2 --max-spare=2 -s stderr \
    </dev/null >"$tmp/spamd.log" 2>&1 &
  spamd_pid=$!
  if ! "$PYTHON" "$helper" wait --port "$port" --pid "$spamd_pid" --timeout 120; then
    tail -n 20 "$tmp/spamd.log" >&2
    exit 1
  fi
  echo "parity-reference: spamd ready after $(elapsed "$started")s" >&2
  if ! "$PYTHON" "$helper" scan --port "$port" --sample "$tmp/sample.tsv" \
      --out "$tmp/reference.tsv" --concurrency "$concurrency"; then
    tail -n 20 "$tmp/spamd.log" >&2
    exit 1
  fi
  if grep -q -E "(warn|error): config:" "$tmp/spamd.log"; then
    echo "parity-reference: spamd reported config problems:" >&2
    grep -E "(warn|error): config:" "$tmp/spamd.log" | head -n 10 >&2
  fi
  mv -f "$tmp/reference.tsv" "$result"
fi

if [[ -n $out ]]; then
  cp -f "$result" "$out"
fi
echo "parity-reference: done in $(elapsed "$started")s" >&2
echo "$result"
