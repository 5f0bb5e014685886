#!/usr/bin/python3
"""`mailsift learn`, SpamAssassin's sa-learn for the Bayes store, on real corpus messages.

Usage: python3 tests/integration/test_learn.py --mailsift PATH [-k NAME]

Needs $MAILSIFT_CORPUS (scripts/fetch-corpus.sh; CI exports it): skipped, exit 77, without it.
Each test learns into a store of its own ([bayes] path in a temp directory):
  - 20 spam and 20 ham learned: --dump (sa-learn --dump magic's lines) says nspam 20, nham 20,
    some tokens;
  - the same 20 spam again: nothing changes ("already learned"); 5 of them as ham move
    (nspam 15, nham 25); --forget of 5 ham: nham 20;
  - a directory path (recursive), an mbox file of 3 messages (mboxrd: the same messages as the
    files, so learning the files after it finds them learned), a
    path that does not exist and a binary file: the bad ones named on stderr and skipped, the
    rest learned, exit status 1;
  - usage errors (no class, no path) exit 64.
"""

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import check, check_eq  # noqa: E402

BIN = None
CORPUS = None
SPAM = []
HAM = []


class Store:
    """A temp directory with a config whose [bayes] path is a store of its own."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailsift-learn-")
        self.config = os.path.join(self.dir, "mailsift.toml")
        with open(self.config, "w") as f:
            f.write('[bayes]\npath = "%s"\n' % os.path.join(self.dir, "bayes"))

    def learn(self, *args):
        p = subprocess.run([BIN, "learn", "--config", self.config] + list(args),
                           capture_output=True, text=True, timeout=60)
        print("  $ mailsift learn %s -> %d: %s%s" % (
            " ".join(a if not a.startswith("/") else os.path.basename(a) for a in args)[:100],
            p.returncode, p.stdout.strip()[:200], (" | " + p.stderr.strip()[:300])
            if p.stderr.strip() else ""), flush=True)
        return p

    def dump(self):
        p = self.learn("--dump")
        check_eq(p.returncode, 0, "--dump exits 0")
        values = {}
        for line in p.stdout.splitlines():
            fields = line.split(None, 4)
            check(len(fields) == 5 and fields[4].startswith("non-token data: "),
                  "dump line as sa-learn's: %r" % line)
            values[fields[4][len("non-token data: "):]] = int(fields[2])
        return values

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def files(names):
    return [os.path.join(CORPUS, n) for n in names]


def test_learn_relearn_move_forget():
    s = Store()
    try:
        p = s.learn("--spam", *files(SPAM))
        check_eq(p.returncode, 0, "learning 20 spam exits 0")
        check("learned 20 messages as spam" in p.stdout, "the summary says 20 learned")
        p = s.learn("--ham", *files(HAM))
        check_eq(p.returncode, 0, "learning 20 ham exits 0")
        d = s.dump()
        check_eq((d["bayes db version"], d["nspam"], d["nham"]), (3, 20, 20),
                 "version 3, nspam 20, nham 20")
        check(d["ntokens"] > 1000, "ntokens > 1000", str(d["ntokens"]))
        check(d["oldest atime"] > 0 and d["newest atime"] >= d["oldest atime"], "atimes set")
        tokens = d["ntokens"]

        p = s.learn("--spam", *files(SPAM))
        check_eq(p.returncode, 0, "learning the same spam again exits 0")
        check("learned 0 messages" in p.stdout and "20 already learned" in p.stdout,
              "the summary says 20 already learned")
        d = s.dump()
        check_eq((d["nspam"], d["nham"], d["ntokens"]), (20, 20, tokens), "nothing changed")

        p = s.learn("--ham", *files(SPAM[:5]))
        check_eq(p.returncode, 0, "5 spam learned as ham exits 0")
        check("learned 5 messages as ham (5 moved from spam)" in p.stdout,
              "the summary says 5 moved")
        d = s.dump()
        check_eq((d["nspam"], d["nham"]), (15, 25), "they moved: nspam 15, nham 25")

        p = s.learn("--forget", *files(HAM[:5]))
        check_eq(p.returncode, 0, "--forget exits 0")
        check("forgot 5 messages" in p.stdout, "the summary says 5 forgotten")
        d = s.dump()
        check_eq((d["nspam"], d["nham"]), (15, 20), "forgotten: nham 20")
        p = s.learn("--forget", *files(HAM[:5]))
        check("forgot 0 messages" in p.stdout and "5 not learned" in p.stdout,
              "forgetting again: 5 not learned")
    finally:
        s.close()


def mbox_of(names):
    """An mboxrd file of the messages: a "From " line before each, ">*From " body lines quoted
    with one more ">", a blank line after each."""
    out = b""
    for name in names:
        with open(os.path.join(CORPUS, name), "rb") as f:
            data = f.read().replace(b"\r\n", b"\n")
        if not data.endswith(b"\n"):
            data += b"\n"
        data = re.sub(rb"(?m)^(>*From )", rb">\1", data)
        out += b"From sender@example.com Mon Dec  7 10:00:00 2026\n" + data + b"\n"
    return out


def test_directory_mbox_and_bad_paths():
    s = Store()
    try:
        tree = os.path.join(s.dir, "maildir")
        os.makedirs(os.path.join(tree, "cur", "deeper"))
        for i, name in enumerate(SPAM[:6]):
            sub = os.path.join(tree, "cur") if i % 2 else os.path.join(tree, "cur", "deeper")
            shutil.copy(os.path.join(CORPUS, name), os.path.join(sub, "m%d" % i))
        mbox = os.path.join(s.dir, "three.mbox")
        with open(mbox, "wb") as f:
            f.write(mbox_of(SPAM[6:9]))
        garbage = os.path.join(s.dir, "garbage.bin")
        with open(garbage, "wb") as f:
            f.write(b"\x00\x01\x02" + random.Random(13).randbytes(4096))
        missing = os.path.join(s.dir, "no-such-file")
        p = s.learn("--spam", tree, mbox, missing, garbage, *files(SPAM[9:10]))
        check_eq(p.returncode, 1, "some failed: exit 1")
        check("no-such-file" in p.stderr, "the missing path is named on stderr")
        check("garbage.bin" in p.stderr and "not a message" in p.stderr,
              "the binary file is named on stderr as not a message")
        check("learned 10 messages as spam" in p.stdout and "2 failed" in p.stdout,
              "6 from the directory, 3 from the mbox and 1 file learned, 2 failed")
        d = s.dump()
        check_eq((d["nspam"], d["nham"]), (10, 0), "nspam 10")
        # The mbox's messages are the corpus files: learned again, they are already learned.
        p = s.learn("--spam", *files(SPAM[6:9]))
        check("3 already learned" in p.stdout, "the mbox's messages have the files' msgids")
    finally:
        s.close()


def test_usage_errors():
    s = Store()
    try:
        check_eq(s.learn(*files(SPAM[:1])).returncode, 64, "no --spam/--ham/--forget: 64")
        check_eq(s.learn("--spam").returncode, 64, "no PATH: 64")
        check_eq(s.learn("--spam", "--ham", *files(SPAM[:1])).returncode, 64,
                 "--spam with --ham: 64")
    finally:
        s.close()


def main():
    global BIN, CORPUS, SPAM, HAM
    BIN = h.mailsift_path()
    CORPUS = os.environ.get("MAILSIFT_CORPUS")
    if not CORPUS:
        print("skipped: MAILSIFT_CORPUS is not set (scripts/fetch-corpus.sh prints it)")
        return 77
    index = h.corpus_index(CORPUS)
    SPAM = [n for n, group, size, flags in index if group == "spam-1" and not flags][:20]
    HAM = [n for n, group, size, flags in index if group == "easy-ham-1" and not flags][:20]
    if len(SPAM) < 20 or len(HAM) < 20:
        print("skipped: fewer than 20 ordinary spam-1 and easy-ham-1 messages in the corpus")
        return 77
    return h.TestRunner("learn").run(
        [test_learn_relearn_move_forget, test_directory_mbox_and_bad_paths, test_usage_errors],
        only=h.only_args())


if __name__ == "__main__":
    sys.exit(main())
