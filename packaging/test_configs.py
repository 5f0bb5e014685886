#!/usr/bin/env python3
"""Both configs mailsift ships pass `mailsift check-config`: the sample packaging/mailsift.toml
(the README's first command runs it from the checkout) and the installed one that
packaging/service-config.py writes from it (/etc/mailsift/mailsift.toml in the package), whose
spool directory, /var/spool/mailsift, is pointed at a temporary one when the machine has none.
It also checks the installed config's service keys and that the unit's LimitNOFILE= covers
limits.max_sessions (8 descriptors per session)."""

import argparse
import os
import re
import subprocess
import sys
import tempfile

UNIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "systemd", "mailsift.service")


def check_config(mailsift, path):
    run = subprocess.run([mailsift, "check-config", "--config", path], capture_output=True,
                         text=True, timeout=100)
    print(f"check-config {path}: exit {run.returncode}: {(run.stdout + run.stderr).strip()}")
    return run.returncode == 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailsift", required=True)
    parser.add_argument("--sample", required=True)
    parser.add_argument("--service", required=True)
    args = parser.parse_args()
    failed = []
    if not check_config(args.mailsift, args.sample):
        failed.append("the sample does not pass check-config")
    service = open(args.service, encoding="utf-8").read()
    for line in ['user = "mailsift"', 'directory = "/var/spool/mailsift"',
                 'prefilter_cache_dir = "/var/cache/mailsift/prefilter"',
                 'directory = "/var/lib/mailsift/quarantine"',
                 'socket = "/run/mailsift/control.sock"', 'pid_file = "/run/mailsift/mailsift.pid"']:
        if not re.search("^" + re.escape(line), service, re.M):
            failed.append(f"the installed config lacks {line}")
    with tempfile.TemporaryDirectory() as tmp:
        if not os.access("/var/spool/mailsift", os.W_OK | os.X_OK):
            service = service.replace('"/var/spool/mailsift"', f'"{tmp}"')
        path = os.path.join(tmp, "mailsift.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(service)
        if not check_config(args.mailsift, path):
            failed.append("the installed config does not pass check-config")
    sessions = int(re.search(r"^max_sessions = (\d+)", service, re.M).group(1))
    nofile = int(re.search(r"^LimitNOFILE=(\d+)", open(UNIT).read(), re.M).group(1))
    if nofile < 8 * sessions:
        failed.append(f"{UNIT}: LimitNOFILE={nofile} < 8 x limits.max_sessions ({sessions})")
    for problem in failed:
        print("FAILED:", problem)
    print(f"{len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
