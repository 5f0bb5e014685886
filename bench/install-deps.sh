#!/usr/bin/env bash
# Installs what the benchmarks in bench/ need beyond scripts/install-deps.sh (run that first, or
# pass --all to run it from here). Debian 12, idempotent, run as root (or through sudo).
#
#   amavisd-new   bench/reload_compare runs it from a private config in a temp dir; the system
#                 instance must never run: this script keeps the package from starting it and
#                 makes sure nothing of it is left running or bound to 127.0.0.1:10024.
#   spamassassin  only with --with-spamassassin (bench/reload_compare --amavis-sa)
#
# Usage: bench/install-deps.sh [--all] [--with-spamassassin]
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  exec sudo -E "$0" "$@"
fi

all=0
with_sa=0
for a in "$@"; do
  case "$a" in
    --all) all=1 ;;
    --with-spamassassin) with_sa=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--all] [--with-spamassassin]" >&2; exit 64 ;;
  esac
done

here="$(cd "$(dirname "$0")" && pwd)"
if [[ $all -eq 1 ]]; then
  "$here/../scripts/install-deps.sh"
fi

export DEBIAN_FRONTEND=noninteractive

packages=(amavisd-new file pax python3 postfix procps iproute2)
[[ $with_sa -eq 1 ]] && packages+=(spamassassin)

# Keep maintainer scripts from starting services (amavis, and spamd with spamassassin) while we
# install: invoke-rc.d and deb-systemd-invoke both honour /usr/sbin/policy-rc.d exit code 101.
# A policy-rc.d that is already there (container images ship one) is left alone.
policy=/usr/sbin/policy-rc.d
ours=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# temporary, from mailsift bench/install-deps.sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  ours=1
fi
cleanup() { if [[ $ours -eq 1 ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT

# Postfix (for smtp-sink) must not become a system MTA either.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"

# Whatever the package did, the system amavisd must not run and must stay off at boot.
# (`systemctl disable` works without a running systemd too: it removes the wants/ symlink.)
units=(amavis.service)
[[ $with_sa -eq 1 ]] && units+=(spamd.service)
if command -v systemctl >/dev/null; then
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now "${units[@]}" >/dev/null 2>&1 || true
  else
    systemctl disable "${units[@]}" >/dev/null 2>&1 || true
  fi
fi
if command -v update-rc.d >/dev/null && [[ -e /etc/init.d/amavis ]]; then
  update-rc.d amavis disable >/dev/null 2>&1 || true
fi
# A system instance started anyway (no systemd, no policy-rc.d): stop it by the PID in its pid
# file, and wait until it is gone.
for pidfile in /run/amavis/amavisd.pid /var/run/amavis/amavisd.pid; do
  if [[ -s $pidfile ]]; then
    pid="$(tr -dc '0-9' <"$pidfile")"
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null \
        && grep -q amavisd "/proc/$pid/cmdline" 2>/dev/null; then
      echo "bench/install-deps.sh: stopping the system amavisd (pid $pid)" >&2
      kill -TERM "$pid" || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
done

if ss -Hltn 'sport = :10024' 2>/dev/null | grep -q .; then
  echo "bench/install-deps.sh: warning: something listens on port 10024:" >&2
  ss -Hltnp 'sport = :10024' >&2 || true
fi

command -v amavisd >/dev/null || { echo "bench/install-deps.sh: amavisd not installed" >&2; exit 1; }
amavisd -V 2>/dev/null | head -1 || true
