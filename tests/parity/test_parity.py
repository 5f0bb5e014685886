#!/usr/bin/python3
"""Parity with SpamAssassin: `mailsift scan --json` against spamd on 450 corpus messages.

Usage: python3 tests/parity/test_parity.py [--mailsift PATH] [--corpus DIR] [--config FILE]
         [--thresholds FILE] [--out-dir DIR] [-k NAME]

Steps:
  1. the corpus: --corpus DIR, else $MAILSIFT_CORPUS, else scripts/fetch-corpus.sh;
  2. SpamAssassin's reference: scripts/parity-reference.sh --corpus DIR (spamd 4.0.1, local
     tests, score set 0; cached under ~/.cache/mailsift/parity, so only the first run pays the
     ~30 s). The sample is the first 150 messages by name of easy-ham-1, hard-ham-1 and spam-2;
  3. `mailsift scan --json [--config FILE] FILE...` on those 450 files (the binary: --mailsift
     PATH, $MAILSIFT_BIN, or build/release/mailsift; the config: --config FILE or
     $MAILSIFT_PARITY_CONFIG, else mailsift's default);
  4. tests/parity/compare.py REFERENCE CANDIDATE with the thresholds of
     tests/parity/thresholds.json (or --thresholds FILE): each key "min_scored_precision",
     "min_scored_recall", "min_sub_precision", "min_sub_recall", "min_verdicts", "min_pearson"
     becomes the compare.py option of the same name.

The reference, mailsift's output (candidate.jsonl, scan.stderr) and the metrics (metrics.json)
are left in --out-dir (default: ./parity-results, i.e. build/release/tests/parity-results under
ctest) for a look afterwards. Prints "N passed, N failed"; exit status 0 when all checks pass,
1 otherwise, 77 when it cannot run here (spamd not installed, or the binary has no `scan` verb).
"""

import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402
import compare  # noqa: E402

SKIP = 77
REFERENCE_TIMEOUT = 900
SCAN_TIMEOUT = 900


def arg(name, default=None):
    argv = sys.argv[1:]
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default


class State:
    corpus = None
    out_dir = None
    reference = None
    files = None
    candidate = None


def has_scan_verb(binary):
    try:
        p = subprocess.run([binary, "scan", "--help"], capture_output=True, text=True, timeout=60)
    except OSError:
        return False
    return p.returncode == 0 and "scan" in (p.stdout + p.stderr)


def test_reference():
    """parity-reference.sh makes (or reuses) SpamAssassin's reference for 450 messages."""
    t0 = time.monotonic()
    p = subprocess.run(["bash", os.path.join(REPO, "scripts", "parity-reference.sh"),
                        "--corpus", State.corpus], capture_output=True, text=True,
                       timeout=REFERENCE_TIMEOUT)
    sys.stdout.write(p.stderr)
    assert p.returncode == 0, "scripts/parity-reference.sh exited %d" % p.returncode
    path = p.stdout.strip().splitlines()[-1]
    ref = compare.load_reference(path)
    print("reference: %s (%d messages, %.1fs)" % (path, len(ref), time.monotonic() - t0))
    assert len(ref) == 450, "expected 450 messages in the reference, got %d" % len(ref)
    State.reference = os.path.join(State.out_dir, "reference.tsv")
    shutil.copyfile(path, State.reference)
    files = []
    for key in sorted(ref):
        group, name = key.split("/")
        f = os.path.join(State.corpus, "%s.%s.eml" % (group, name[:-len(".txt")]))
        assert os.path.isfile(f), "corpus file missing: %s" % f
        files.append(f)
    State.files = files


def test_scan():
    """`mailsift scan --json` prints one record per message."""
    assert State.files, "no reference (see test_reference)"
    binary = h.mailsift_path()
    cmd = [binary, "scan", "--json"]
    config = arg("--config") or os.environ.get("MAILSIFT_PARITY_CONFIG")
    if config:
        cmd += ["--config", config]
    cand = os.path.join(State.out_dir, "candidate.jsonl")
    err = os.path.join(State.out_dir, "scan.stderr")
    print("running: %s ... (%d files)" % (" ".join(cmd), len(State.files)))
    t0 = time.monotonic()
    with open(cand, "wb") as out, open(err, "wb") as errf:
        p = subprocess.Popen(cmd + State.files, stdout=out, stderr=errf, cwd=State.out_dir)
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:
            p.kill()
            p.wait()
            raise
        p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    print("mailsift scan: exit %d, %.1fs wall, %.1fs CPU, max RSS %d MB"
          % (p.returncode, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss // 1024))
    with open(err, "rb") as f:
        tail = f.read()[-2000:].decode("utf-8", "replace")
    if tail.strip():
        print("scan stderr (end):\n" + tail)
    assert p.returncode >= 0, "mailsift scan died of signal %d" % -p.returncode
    State.candidate = cand
    records, bad = compare.load_candidate(cand)
    got = sum(1 for f in State.files if compare.message_key(f) in records)
    print("candidate records: %d usable for the sample, %d without score/hits" % (got, bad))
    assert got == len(State.files), "mailsift scan gave %d of %d records" % (got, len(State.files))


def test_parity_thresholds():
    """compare.py reaches the thresholds of tests/parity/thresholds.json."""
    assert State.candidate, "no mailsift output (see test_scan)"
    tfile = arg("--thresholds") or os.path.join(HERE, "thresholds.json")
    with open(tfile) as f:
        limits = json.load(f)
    cmd = [sys.executable, os.path.join(HERE, "compare.py"), State.reference, State.candidate,
           "--json-out", os.path.join(State.out_dir, "metrics.json")]
    for name, value in sorted(limits.items()):
        if not name.startswith("min_"):
            continue
        cmd += ["--" + name.replace("_", "-"), str(value)]
    print("thresholds (%s): %s" % (tfile, json.dumps(limits, sort_keys=True)))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    sys.stdout.write(p.stdout + p.stderr)
    assert p.returncode == 0, "compare.py exited %d (below a threshold)" % p.returncode


def main():
    binary = h.mailsift_path()
    if not os.path.exists(binary):
        print("cannot run: no mailsift binary at %s" % binary)
        return SKIP
    if not (shutil.which("spamd") or os.path.exists("/usr/sbin/spamd")):
        print("cannot run: spamd is not installed (Debian packages spamd, spamc)")
        return SKIP
    if not has_scan_verb(binary):
        print("cannot run: %s has no `scan` verb" % binary)
        return SKIP
    State.corpus = h.corpus_dir(arg("--corpus"))
    State.out_dir = os.path.abspath(arg("--out-dir") or os.path.join(os.getcwd(),
                                                                       "parity-results"))
    os.makedirs(State.out_dir, exist_ok=True)
    print("corpus: %s\noutput: %s" % (State.corpus, State.out_dir))
    runner = h.TestRunner("parity")
    return runner.run([test_reference, test_scan, test_parity_thresholds], only=h.only_args())


if __name__ == "__main__":
    sys.exit(main())
