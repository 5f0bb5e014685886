#!/usr/bin/env python3
"""Writes the config that an installed mailsift runs with (/etc/mailsift/mailsift.toml).

It is packaging/mailsift.toml, the development sample (every key with its default, which the
README's first command runs from the checkout as root), with the few keys a service needs
changed: the generations run as the system user mailsift, and the spool and the prefilter's
cache live in the directories the package creates for that user. Each change must match exactly
one line of the sample, so a reworded sample fails the build instead of shipping the wrong file.

Usage: service-config.py SAMPLE OUTPUT
"""

import sys

# (the sample's line, the service's line)
CHANGES = [
    ('directory = "/var/tmp"         # where messages larger than memory_limit are spooled',
     'directory = "/var/spool/mailsift"   # where messages larger than memory_limit are spooled'),
    ('prefilter_cache_dir = ""',
     'prefilter_cache_dir = "/var/cache/mailsift/prefilter"'),
    ('# prefilter_cache_dir = "/var/cache/mailsift/prefilter"',
     '# (the package\'s cache directory, owned by mailsift; systemd\'s CacheDirectory=)'),
    ('user = ""              # generations switch to this user right after start ("" = stay)',
     'user = "mailsift"      # generations switch to this user right after start ("" = stay)'),
]

HEADER = """\
# The installed config (Debian package mailsift): the defaults, except that the generations run
# as the system user mailsift, spool to /var/spool/mailsift and cache the prefilter in
# /var/cache/mailsift. See mailsift.toml(5). After a change: systemctl reload mailsift
"""


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: service-config.py SAMPLE OUTPUT")
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = f.read().split("\n")
    for old, new in CHANGES:
        hits = [i for i, line in enumerate(lines) if line == old]
        if len(hits) != 1:
            sys.exit(f"service-config.py: {sys.argv[1]}: expected one line {old!r}, "
                     f"found {len(hits)}")
        lines[hits[0]] = new
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(HEADER + "\n".join(lines))


if __name__ == "__main__":
    main()
