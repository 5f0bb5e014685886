#!/usr/bin/python3
"""smtp-source -> mailsift -> smtp-sink with SpamAssassin corpus messages.

Usage: python3 tests/integration/test_corpus_relay.py --mailsift PATH
         [--corpus DIR] [--messages N] [-k NAME]

Per protocol (SMTP in and out; LMTP in and out) it sends N messages (default 5,000) over 20
parallel sessions: 2,000 corpus files (every message with an odd property plus a spread of
ordinary ones), each sent 1 to 4 times by one `smtp-source -F FILE` run, some runs reusing one
connection (-d), some with 2 recipients (-r 2). Then it asserts:
  * every ordinary message got 250 at the end of data (smtp-source exits 0, no warning);
  * messages with a bare CR (which smtp-source -F puts on the wire for a CR in the file) get
    550 5.5.2 under bare_newline = "reject" (set here: smtp-sink's dump drops CRs, so the
    default "normalize", which makes a bare CR a space, is checked byte for byte in
    test_hostile_smtp.py) and never reach the sink;
  * messages with lines over 998 bytes are either accepted (then checked like the others) or
    rejected with a 5xx (then must not arrive); which one is printed;
  * mailsift logged one Passed line per accepted message, and its mail_ids are unique;
  * the sink holds exactly the accepted messages: each exactly once, identified by the
    "id MAILID" of mailsift's Received header, every id being one of the Passed mail_ids;
  * each arrived message equals the file sent, byte for byte as far as smtp-sink's dump shows
    (smtp-sink drops CRs), once the one prepended "Received: from ... (mailsift, port P" header
    is removed; the envelope sender and recipients arrive unchanged;
  * mailsift exits 0 on SIGTERM.
"""

import concurrent.futures
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PARALLEL = 20
MEAN_PER_FILE = 2.5


def arg(name, default=None):
    argv = sys.argv[1:]
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
    return default


def corpus_dir():
    d = arg("--corpus") or os.environ.get("MAILSIFT_CORPUS")
    if d:
        return d
    p = subprocess.run(["bash", os.path.join(REPO, "scripts", "fetch-corpus.sh")],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("scripts/fetch-corpus.sh failed: %s" % p.stderr)
    return p.stdout.strip().splitlines()[-1]


def load_index(d):
    rows = []
    with open(os.path.join(d, "..", "index.tsv")) as f:
        for line in f:
            name, group, size, flags = line.rstrip("\n").split("\t")
            rows.append((name, group, int(size), set() if flags == "-" else set(flags.split(","))))
    return rows


def select_runs(rows, n_messages):
    """Returns a list of runs: dict(file, flags, expect, count, reuse, rcpts)."""
    n_files = max(1, int(n_messages / MEAN_PER_FILE))
    barecr = [r for r in rows if r[3] & {"barecr", "crlf"}]
    long_ = [r for r in rows if "long998" in r[3] and r not in barecr]
    special = [r for r in rows if r[3] & {"lonedot", "ctrl", "nofinalnl"}
               and r not in barecr and r not in long_]
    dots = [r for r in rows if "leadingdot" in r[3] and r not in special + long_ + barecr]
    eight = [r for r in rows if "8bit" in r[3] and r not in special + long_ + barecr + dots]
    plain = [r for r in rows if not r[3]]
    chosen = barecr + long_ + special + dots[::3] + eight[::5]
    chosen = chosen[:n_files]
    rest = n_files - len(chosen)
    if rest > 0:
        stride = max(1, len(plain) // rest)
        chosen += plain[::stride][:rest]
    runs = []
    total = 0
    for i, r in enumerate(chosen):
        name, group, size, flags = r
        if flags & {"barecr", "crlf"}:
            expect = "reject"
        elif "long998" in flags:
            expect = "either"
        else:
            expect = "pass"
        # 1 to 4 messages per run (2.5 on average); the last run takes up the rest.
        count = 1 + i % 4 if i < len(chosen) - 1 else max(1, n_messages - total)
        total += count
        runs.append({"index": i, "file": name, "flags": flags, "expect": expect,
                     "count": count, "reuse": i % 2 == 0,
                     "rcpts": 2 if (expect == "pass" and i % 4 == 1) else 1,
                     "sender": "c%04d@corpus.test" % i})
    return runs


def run_one(run, d, port, lmtp):
    args = ["-s", "1", "-m", str(run["count"]), "-F", os.path.join(d, run["file"]),
            "-f", run["sender"], "-t", "rcpt@dest.test", "-M", "client.test"]
    if run["reuse"]:
        args.append("-d")
    if run["rcpts"] > 1:
        args += ["-r", str(run["rcpts"])]
    if run["expect"] != "pass":
        args.append("-A")
    if lmtp:
        args.append("-L")
    args.append("127.0.0.1:%d" % port)
    try:
        p = h.run_smtp_source(args, timeout=90)
        return p.returncode, p.stderr
    except subprocess.TimeoutExpired:
        return "timeout", ""


def relay_test(lmtp):
    binary = h.mailsift_path()
    d = corpus_dir()
    rows = load_index(d)
    n_messages = int(arg("--messages", "5000"))
    runs = select_runs(rows, n_messages)
    print("  corpus %s: %d files, %d messages, %d parallel sessions, %s" % (
        d, len(runs), sum(r["count"] for r in runs), PARALLEL, "LMTP" if lmtp else "SMTP"))
    proto = "lmtp" if lmtp else "smtp"
    with h.SmtpSink(lmtp=lmtp, timeout=30) as sink:
        cfg = h.base_config(sink.address, protocol=proto, relay_protocol=proto,
                            smtp={"bare_newline": "reject"})
        ms = h.Mailsift(binary, cfg)
        with ms:
            t0 = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(PARALLEL) as ex:
                results = list(ex.map(lambda r: run_one(r, d, ms.port, lmtp), runs))
            elapsed = time.monotonic() - t0
            # Expected acknowledged counts from the clients' point of view.
            accepted_per_run = []
            problems = []
            long_notes = []
            for run, (rc, err) in zip(runs, results):
                warnings = [l for l in err.splitlines() if "rejected" in l]
                rejected = [l for l in warnings if "end of data rejected" in l]
                if run["expect"] == "pass":
                    if rc != 0 or warnings:
                        problems.append("%s (%s): smtp-source rc=%s %s" % (
                            run["file"], ",".join(sorted(run["flags"])) or "plain", rc,
                            err.strip()[:300]))
                    accepted_per_run.append(run["count"] if rc == 0 else None)
                else:
                    codes = [re.search(r"rejected: (\d{3} [\d.]+)", l) for l in rejected]
                    codes = [c.group(1) if c else "?" for c in codes]
                    if rc != 0:
                        problems.append("%s: smtp-source rc=%s %s" % (run["file"], rc,
                                                                       err.strip()[:300]))
                    if run["expect"] == "reject":
                        bad = [c for c in codes if not c.startswith("550 5.5.2")]
                        if len(codes) != run["count"] or bad:
                            problems.append("%s (bare CR on the wire): expected %d x 550 5.5.2 "
                                            "at end of data, got %r" % (run["file"],
                                                                        run["count"], codes))
                    else:
                        bad = [c for c in codes if not c.startswith("5")]
                        if bad:
                            problems.append("%s (long lines): non-5xx rejections %r" % (
                                run["file"], codes))
                        long_notes.append((run["count"] - len(codes), len(codes), codes))
                    accepted_per_run.append(run["count"] - len(codes))
            expected_total = sum(a for a in accepted_per_run if a is not None)
            if long_notes:
                print("  note: %d files with lines over 998 bytes: %d messages accepted, %d "
                      "rejected %s" % (len(long_notes), sum(n[0] for n in long_notes),
                                       sum(n[1] for n in long_notes),
                                       sorted(set(c for n in long_notes for c in n[2]))))
            print("  %d smtp-source runs done in %.1fs; clients saw %d messages accepted" % (
                len(runs), elapsed, expected_total))
            tx = sink.wait_transactions(expected_total, timeout=30)
            passed = ms.wait_log_lines(expected_total, "Passed", timeout=10)
            time.sleep(0.5)
            tx = sink.transactions()
            rc = ms.stop()
        sink.stop()
        h.check(not problems, "every ordinary message got 250 and every bare-CR message got "
                "550 5.5.2 at end of data (%d runs)" % len(runs),
                "\n    " + "\n    ".join(problems[:20]) + (
                    "\n    ... %d more" % (len(problems) - 20) if len(problems) > 20 else ""))
        h.check_eq(rc, 0, "mailsift exits 0 on SIGTERM")
        passed = ms.log_lines("Passed")
        ids = [h.log_mail_id(l) for l in passed]
        h.check(None not in ids, "every Passed line carries a mail_id")
        h.check_eq(len(set(ids)), len(ids), "Passed mail_ids are unique")
        h.check_eq(len(ids), expected_total,
                   "one Passed log line per message acknowledged with 250")
        log_sender = {h.log_mail_id(l): h.log_sender(l) for l in passed}

        by_sender = {r["sender"]: r for r in runs}
        arrived_ids = []
        mismatches = []
        arrivals = {}
        expected_cache = {}
        for t in tx:
            header, rest = t.split_mailsift_received()
            if header is None:
                mismatches.append("%s: no mailsift Received header at the top: %r" % (
                    t.mail_args, t.text[:200]))
                continue
            if ("(mailsift, port %d)" % ms.port).encode() not in header:
                mismatches.append("Received header lacks '(mailsift, port %d)': %r" % (
                    ms.port, header))
            mid = h.received_id(header)
            arrived_ids.append(mid)
            run = by_sender.get(t.mail_from)
            if run is None:
                mismatches.append("unknown sender %r" % t.mail_args)
                continue
            arrivals[run["sender"]] = arrivals.get(run["sender"], 0) + 1
            if run["file"] not in expected_cache:
                with open(os.path.join(d, run["file"]), "rb") as f:
                    expected_cache[run["file"]] = h.expected_dump_text(f.read())
            exp = expected_cache[run["file"]]
            if rest != exp:
                k = next((k for k in range(min(len(rest), len(exp))) if rest[k] != exp[k]),
                         min(len(rest), len(exp)))
                mismatches.append("%s (mail_id %s): content differs at byte %d: got %r, "
                                  "expected %r" % (run["file"], mid, k, rest[max(0, k - 40):k + 40],
                                                   exp[max(0, k - 40):k + 40]))
            # smtp-source -r N -t rcpt@dest.test sends Nrcpt@..., ..., 2rcpt@..., rcpt@...
            exp_rcpts = (["%drcpt@dest.test" % i for i in range(run["rcpts"], 1, -1)]
                         + ["rcpt@dest.test"])
            if t.rcpt_to != exp_rcpts:
                mismatches.append("%s: recipients %r, expected %r" % (run["file"], t.rcpt_to,
                                                                      exp_rcpts))
            if mid in log_sender and log_sender[mid] != run["sender"]:
                mismatches.append("mail_id %s: log says sender %r, sink got %r" % (
                    mid, log_sender[mid], run["sender"]))
        h.check_eq(len(tx), expected_total, "the sink received exactly as many messages as "
                   "mailsift acknowledged")
        h.check_eq(len(set(arrived_ids)), len(arrived_ids),
                   "no message arrived twice (Received ids unique)")
        h.check_eq(sorted(arrived_ids), sorted(ids),
                   "the Received ids at the sink are exactly the Passed mail_ids")
        wrong_counts = ["%s: sent %d, accepted %s, arrived %d" % (
            r["file"], r["count"], a, arrivals.get(r["sender"], 0))
            for r, a in zip(runs, accepted_per_run) if a is not None
            and arrivals.get(r["sender"], 0) != a]
        h.check(not wrong_counts, "each file arrived as often as it was acknowledged "
                "(rejected ones never)", "; ".join(wrong_counts[:10]))
        h.check(not mismatches, "every arrived message equals the file sent, apart from the "
                "one added Received header; envelope unchanged (%d messages)" % len(tx),
                "\n    " + "\n    ".join(mismatches[:10]) + (
                    "\n    ... %d more" % (len(mismatches) - 10) if len(mismatches) > 10 else ""))


def test_corpus_smtp():
    relay_test(lmtp=False)


def test_corpus_lmtp():
    relay_test(lmtp=True)


if __name__ == "__main__":
    runner = h.TestRunner("corpus relay")
    sys.exit(runner.run([test_corpus_smtp, test_corpus_lmtp], only=h.only_args()))
