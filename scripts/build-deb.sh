#!/usr/bin/env bash
# Builds the Debian package mailsift_<version>_amd64.deb with Debian's own tools
# (dpkg-buildpackage, debhelper; see debian/) from a copy of this tree, so that nothing but the
# .deb lands here, and runs lintian on it.
#   scripts/build-deb.sh [OUTDIR]        default OUTDIR: this directory
# Environment: MAILSIFT_PREBUILT=build/release packages the program that tree has built (CI
# does, after testing it) instead of compiling the program again (about 3 min on 2 cores).
# Prereqs: scripts/install-deps.sh. Then: apt install ./mailsift_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p "${1:-.}"
out=$(realpath "${1:-.}")
version=$(sed -n 's/^project(mailsift VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
changelog_version=$(dpkg-parsechangelog -S Version)
if [[ $changelog_version != "$version" ]]; then
  echo "build-deb.sh: debian/changelog is at $changelog_version, CMakeLists.txt at $version" >&2
  exit 1
fi
if [[ -n ${MAILSIFT_PREBUILT:-} ]]; then
  MAILSIFT_PREBUILT=$(realpath "$MAILSIFT_PREBUILT")
  export MAILSIFT_PREBUILT
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/mailsift-$version
mkdir "$tree"
tar -c --exclude=./build --exclude=./.git --exclude='./obj-*' --exclude='./*.deb' \
    --exclude=./.cache --exclude=__pycache__ . | tar -x -C "$tree"
(cd "$tree" && dpkg-buildpackage -b -uc -us >"$work/build.log" 2>&1) || {
  tail -n 40 "$work/build.log" >&2
  echo "build-deb.sh: dpkg-buildpackage failed (log above)" >&2
  exit 1
}
deb=mailsift_${version}_amd64.deb
cp "$work/$deb" "$out/"
echo "built $out/$deb ($(du -k "$out/$deb" | cut -f1) KB)"
if command -v lintian >/dev/null; then
  lintian --info "$work"/mailsift_"${version}"_amd64.changes || true
fi
