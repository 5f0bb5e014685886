#!/usr/bin/python3
"""The SpamAssassin rule check in the proxy: client -> mailsift (scanning) -> smtp-sink.

Usage: python3 tests/integration/test_scan.py --mailsift PATH [-k NAME]

Runs the generation with its spam check on Debian's SpamAssassin rules (skipped, exit 77, when
/usr/share/spamassassin is missing) and real corpus messages (scripts/fetch-corpus.sh):
  - a corpus spam and a corpus ham are scanned and relayed; the main log line carries the
    score (Hits: N.NNN) and says SPAM for the spam, CLEAN for the ham; the score equals what
    `mailsift scan` gives for the same file (the pipeline sees the message as the file says,
    whatever the SMTP line ends);
  - a scan that cannot finish within the per-message deadline tempfails the message
    (451 4.5.0) and nothing reaches the next hop;
  - check-config and reload refuse a rule file that does not parse, naming its file and line,
    while the running generation keeps scanning and relaying;
  - a reload picks up a changed local rule (the new generation scores with it);
  - with [spam] watch_rule_dirs, rule files written as sa-update writes them (a new channel
    directory, several files over half a second) give exactly one reload after the quiet
    period, and the next message is scored with the new rule; a rule file that does not parse
    is refused (failed_reloads=1) while mail goes on flowing;
  - the prefilter's databases are built by a builder process and cached in [spam]
    prefilter_cache_dir (created when missing); the generation logs it; a cache directory
    that cannot be created is one warning, and mail is scored all the same.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import check, check_eq  # noqa: E402

BIN = None
RULES = "/usr/share/spamassassin"
SPAM = "spam-2.00003.590eff932f8704d8b0fcbe69d023b54d.eml"
HAM = "easy-ham-1.00001.7c53336b37003a9286aba55d2945844c.eml"


def corpus_file(name):
    return os.path.join(h.corpus_dir(), name)


def smtp_data(path):
    """The file's bytes as DATA: mbox From line dropped, CRLF, dot-stuffed, final dot."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1]
    return h.dot_stuff(raw.rstrip(b"\n").split(b"\n"))


def offline_score(path, site_dir):
    out = subprocess.run([BIN, "scan", "--json", "--site-dir", site_dir,
                          "--envelope-from", "sender@example.com", path],
                         capture_output=True, check=True, timeout=120)
    return json.loads(out.stdout.decode().splitlines()[0])


def spam_config(sink, site_dir, **extra):
    return h.base_config(sink.address, spam={"enabled": True, "site_dir": site_dir}, **extra)


def hits_of(line):
    m = re.search(r"Hits: ([-0-9.]+)", line)
    return float(m.group(1)) if m else None


class SiteDir:
    """A private SpamAssassin site directory: Debian's *.pre (so the same plugins load) plus
    the test's own local.cf."""

    def __init__(self, local_cf=""):
        self.path = tempfile.mkdtemp(prefix="mailsift-site-")
        for name in os.listdir("/etc/spamassassin"):
            if name.endswith(".pre"):
                shutil.copy(os.path.join("/etc/spamassassin", name), self.path)
        self.write(local_cf)

    def write(self, local_cf):
        with open(os.path.join(self.path, "local.cf"), "w") as f:
            f.write(local_cf)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def test_spam_and_ham_are_scored_and_relayed():
    site = SiteDir()
    try:
        with h.SmtpSink() as sink, h.Mailsift(BIN, spam_config(sink, site.path)) as ms:
            for name, kind in ((SPAM, "SPAM"), (HAM, "CLEAN")):
                path = corpus_file(name)
                with h.SmtpClient(ms.port) as c:
                    c.greeting()
                    replies = c.send_message("sender@example.com", ["rcpt@example.net"],
                                             smtp_data(path))
                    final = replies[-1]
                    check(final.code == 250, "%s relayed (250)" % name, final.text)
                    c.cmd("QUIT")
                lines = ms.wait_log_lines(1, kind)
                check(len(lines) == 1, "log line says Passed %s for %s" % (kind, name),
                      ms.read_stderr()[-2000:])
                expected = offline_score(path, site.path)
                got = hits_of(lines[0]) if lines else None
                check(got is not None and abs(got - expected["score"]) < 0.001,
                      "Hits: %s equals mailsift scan's score %s" % (got, expected["score"]),
                      lines[0] if lines else "")
                if kind == "SPAM":
                    check(expected["score"] >= expected["required"], "the spam is spam")
                else:
                    check(expected["score"] < expected["required"], "the ham is ham")
            check_eq(len(sink.wait_transactions(2)), 2, "both messages reached the next hop")
    finally:
        site.cleanup()


def test_scan_past_the_deadline_tempfails():
    # 4,000 rules without a literal to prefilter on, over 175 kB of body text: about a second
    # of scanning (bounded), against a 0.2 s deadline.
    site = SiteDir("".join("body SLOW_%d /x{1,3}[yz]/\nscore SLOW_%d 0.1\n" % (i, i)
                           for i in range(4000)))
    try:
        with h.SmtpSink() as sink, h.Mailsift(
                BIN, spam_config(sink, site.path, timeouts={"message_deadline": 0.2})) as ms:
            body = [b"Subject: slow", b""] + [b"x" * 70] * 2500
            with h.SmtpClient(ms.port) as c:
                c.greeting()
                replies = c.send_message("sender@example.com", ["rcpt@example.net"],
                                         h.dot_stuff(body))
                final = replies[-1]
                check(final.code == 451 and "4.5.0" in final.text,
                      "451 4.5.0 when the scan misses the deadline  [%s]" % final.text,
                      final.text)
                r = c.cmd("NOOP")
                check(r.code == 250, "the session goes on", r.text)
                c.cmd("QUIT")
            time.sleep(0.5)
            check_eq(len(sink.transactions()), 0, "nothing reached the next hop")
            check(len(ms.log_lines("UNCHECKED")) == 1, "log line says UNCHECKED",
                  ms.read_stderr()[-2000:])
            status = subprocess.run([BIN, "status", "--config", ms.config_path],
                                    capture_output=True, timeout=30).stdout.decode()
            check(re.search(r"\bscan_timeouts=1\b", status) is not None,
                  "status counts the scan timeout", status)
    finally:
        site.cleanup()


def test_broken_rules_are_refused_and_the_running_generation_serves():
    site = SiteDir("body LOCAL_OK /local words/\nscore LOCAL_OK 1\n")
    try:
        with h.SmtpSink() as sink, h.Mailsift(BIN, spam_config(sink, site.path)) as ms:
            site.write("body LOCAL_OK /local words/\nbody LOCAL_BROKEN /unclosed(group/\n")
            r = subprocess.run([BIN, "check-config", "--config", ms.config_path],
                               capture_output=True, timeout=120)
            err = r.stderr.decode()
            check(r.returncode == 78 and "local.cf:2" in err and "LOCAL_BROKEN" in err,
                  "check-config exits 78 naming local.cf:2 and the rule", err)
            r = subprocess.run([BIN, "reload", "--config", ms.config_path],
                               capture_output=True, timeout=120)
            out = (r.stdout + r.stderr).decode()
            check(r.returncode == 1 and "local.cf:2" in out,
                  "reload is refused (exit 1) naming local.cf:2", out)
            with h.SmtpClient(ms.port) as c:
                c.greeting()
                replies = c.send_message("sender@example.com", ["rcpt@example.net"],
                                         h.dot_stuff([b"Subject: t", b"", b"some local words"]))
                check(replies[-1].code == 250, "the running generation still relays",
                      replies[-1].text)
                c.cmd("QUIT")
            lines = ms.wait_log_lines(1, "Passed")
            check(len(lines) == 1 and hits_of(lines[0]) is not None and hits_of(lines[0]) >= 1,
                  "and still scans with its rules (LOCAL_OK scored)", "\n".join(lines))
    finally:
        site.cleanup()


def test_reload_picks_up_changed_rules():
    site = SiteDir("body LOCAL_A /marker words/\nscore LOCAL_A 1\n")
    try:
        with h.SmtpSink() as sink, h.Mailsift(BIN, spam_config(sink, site.path)) as ms:
            def send():
                with h.SmtpClient(ms.port) as c:
                    c.greeting()
                    replies = c.send_message(
                        "sender@example.com", ["rcpt@example.net"],
                        h.dot_stuff([b"Subject: t", b"", b"the marker words"]))
                    c.cmd("QUIT")
                    return replies[-1]
            check(send().code == 250, "first message relayed")
            first = ms.wait_log_lines(1, "Passed")
            site.write("body LOCAL_A /marker words/\nscore LOCAL_A 40\n")
            r = subprocess.run([BIN, "reload", "--config", ms.config_path],
                               capture_output=True, timeout=120)
            check(r.returncode == 0, "reload with the changed rule succeeds",
                  (r.stdout + r.stderr).decode())
            check(send().code == 250, "second message relayed")
            lines = ms.wait_log_lines(2, "Passed")
            scores = [hits_of(l) for l in lines]
            check(len(scores) == 2 and scores[1] - scores[0] > 38,
                  "the new generation scores with the new rule (%s)" % scores, "\n".join(lines))
            check(len(first) == 1 and "SPAM" in lines[-1], "SPAM after", "\n".join(lines))
    finally:
        site.cleanup()


def spam_data(path, extra_header=b""):
    """smtp_data() of a corpus file with a header line put first."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1]
    return h.dot_stuff((extra_header + raw).rstrip(b"\n").split(b"\n"))


def as_received(path):
    """The message bytes mailsift received for spam_data(path): CRLF lines, dots unstuffed."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1]
    return b"".join(line + b"\r\n" for line in raw.rstrip(b"\n").split(b"\n"))


def test_spam_is_tagged_with_amavisd_headers():
    site = SiteDir()
    try:
        with h.SmtpSink() as sink, h.Mailsift(BIN, spam_config(sink, site.path)) as ms:
            path = corpus_file(SPAM)
            expected = offline_score(path, site.path)
            with h.SmtpClient(ms.port) as c:
                c.greeting()
                replies = c.send_message(
                    "sender@example.com", ["rcpt@example.net"],
                    spam_data(path, b"X-Spam-Status: No, score=-100 forged upstream\n"))
                check(replies[-1].code == 250, "the spam is relayed (action pass)",
                      replies[-1].text)
                c.cmd("QUIT")
            ts = sink.wait_transactions(1)
            check_eq(len(ts), 1, "one message at the next hop")
            text = ts[0].text.decode("latin-1") if ts else ""
            head = text.split("\n\n", 1)[0]
            score = h_score = None
            m = re.search(r"^X-Spam-Score: (\S+)$", head, re.M)
            if m:
                h_score = float(m.group(1))
            check(head.startswith("X-Spam-Flag: YES\n"), "X-Spam-Flag: YES comes first",
                  head[:300])
            check(h_score is not None and abs(h_score - expected["score"]) < 0.001,
                  "X-Spam-Score is the score (%s)" % h_score, head[:400])
            stars = "*" * int(expected["score"])
            check(re.search(r"^X-Spam-Level: %s$" % re.escape(stars), head, re.M) is not None,
                  "X-Spam-Level has %d stars" % len(stars), head[:400])
            m = re.search(r"^X-Spam-Status: Yes, score=\S+ tagged_above=2 required=6.31\n"
                          r" tests=\[(.*?)\]\n autolearn=disabled$", head, re.M | re.S)
            check(m is not None, "X-Spam-Status in amavisd's format", head[:800])
            if m:
                listed = sorted(t.split("=")[0] for t in m.group(1).replace("\n ", " ").split(", "))
                scored = sorted(k for k in expected["hits"] if not k.startswith("__"))
                check_eq(listed, scored, "X-Spam-Status lists every scored rule that hit")
            check("score=-100" not in head, "the forged X-Spam-Status from outside is gone")
            check(re.search(r"^Subject: \*\*\*SPAM\*\*\* ", head, re.M) is not None,
                  "the Subject is tagged at tag2_level", head[:800])
            lines = ms.wait_log_lines(1, "Passed")
            check(len(lines) == 1 and
                  "Passed SPAM {RelayedTaggedInbound,Quarantined}" in lines[0],
                  "log: Passed SPAM {RelayedTaggedInbound,Quarantined} (amavisd quarantines "
                  "spam at kill level even when it passes)", "\n".join(lines))
            m = re.search(r"quarantine: (\S)/spam-(\S+), .*mail_id: (\S+),", lines[0] if lines else "")
            check(m is not None and m.group(1) == m.group(3)[0] and m.group(2) == m.group(3),
                  "the log names the quarantine file <first letter>/spam-<mail_id>",
                  lines[0] if lines else "")
            if m:
                check(re.search(r"^X-Quarantine-ID: <%s>$" % re.escape(m.group(3)), head, re.M)
                      is not None, "the relayed spam carries X-Quarantine-ID", head[:400])
            status = subprocess.run([BIN, "status", "--config", ms.config_path],
                                    capture_output=True, timeout=30).stdout.decode()
            check(re.search(r"\bspam=1\b", status) is not None, "status counts the spam",
                  status)
    finally:
        site.cleanup()


def test_spam_actions_reject_and_discard():
    site = SiteDir()
    try:
        for action, code, enh, log in (("reject", 554, "5.7.0",
                                        "Blocked SPAM {RejectedInbound,Quarantined}"),
                                       ("discard", 250, "2.7.0",
                                        "Blocked SPAM {DiscardedInbound,Quarantined}")):
            with h.SmtpSink() as sink, h.Mailsift(
                    BIN, spam_config(sink, site.path, actions={"spam": action})) as ms:
                with h.SmtpClient(ms.port) as c:
                    c.greeting()
                    replies = c.send_message("sender@example.com", ["rcpt@example.net"],
                                             spam_data(corpus_file(SPAM)))
                    final = replies[-1]
                    check(final.code == code and enh in final.text,
                          "%s: the client gets %d %s  [%s]" % (action, code, enh, final.text),
                          final.text)
                    with h.SmtpClient(ms.port) as c2:
                        c2.greeting()
                        r = c2.send_message("sender@example.com", ["rcpt@example.net"],
                                            spam_data(corpus_file(HAM)))
                        check(r[-1].code == 250, "%s: the ham still passes" % action, r[-1].text)
                        c2.cmd("QUIT")
                    c.cmd("QUIT")
                time.sleep(0.5)
                ts = sink.transactions()
                check_eq(len(ts), 1, "%s: only the ham reached the next hop" % action)
                lines = ms.wait_log_lines(1, "Blocked")
                check(len(lines) == 1 and log in lines[0], "%s: log says %s" % (action, log),
                      "\n".join(lines))
                check(len(lines) == 1 and "queued_as" not in lines[0],
                      "%s: a blocked line has no queued_as (as amavisd's)" % action)
                m = re.search(r"quarantine: (\S+),", lines[0] if lines else "")
                kept = os.path.join(ms.config["quarantine"]["directory"], m.group(1)) if m else ""
                check(m is not None and os.path.isfile(kept) and
                      open(kept, "rb").read() == as_received(corpus_file(SPAM)),
                      "%s: the quarantine holds the message as received" % action, kept)
    finally:
        site.cleanup()


def test_sa_update_hook_reloads():
    hook = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packaging",
                        "sa-update-hooks.d", "mailsift")
    site = SiteDir()
    try:
        with h.SmtpSink() as sink, h.Mailsift(BIN, spam_config(sink, site.path)) as ms:
            env = dict(os.environ, MAILSIFT_CONFIG=ms.config_path, MAILSIFT=os.path.abspath(BIN))
            r = subprocess.run(["sh", hook], env=env, capture_output=True, timeout=120)
            check(r.returncode == 0, "the sa-update hook exits 0", (r.stdout + r.stderr).decode())
            status = subprocess.run([BIN, "status", "--config", ms.config_path],
                                    capture_output=True, timeout=30).stdout.decode()
            check(re.search(r"reloads=1\b", status) is not None,
                  "and the service reloaded once (new rules loaded)", status)
        # Nothing running: the hook does nothing and succeeds.
        env = dict(os.environ, MAILSIFT_CONFIG="/nonexistent/mailsift.toml",
                   MAILSIFT=os.path.abspath(BIN))
        r = subprocess.run(["sh", hook], env=env, capture_output=True, timeout=60)
        check(r.returncode == 0, "with no service running the hook exits 0",
              (r.stdout + r.stderr).decode())
    finally:
        site.cleanup()


def status_counter(ms, name):
    """A counter from `mailsift status` ("counters reloads=N failed_reloads=N ..."), or None."""
    out = subprocess.run([BIN, "status", "--config", ms.config_path],
                         capture_output=True, timeout=30).stdout.decode()
    m = re.search(r"\b%s=(\d+)\b" % re.escape(name), out)
    return int(m.group(1)) if m else None


def wait_counter(ms, name, value, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        got = status_counter(ms, name)
        if got == value or time.monotonic() >= deadline:
            return got
        time.sleep(0.1)


def test_watched_rule_dirs_reload_once_sa_update_has_finished():
    # A tiny ruleset of our own as the rule directory (the first in rule_dirs that exists is
    # read, then site_dir), watched with a quiet period of 1 s.
    rules = tempfile.mkdtemp(prefix="mailsift-rules-")
    site = tempfile.mkdtemp(prefix="mailsift-site-")

    def write(path, text):
        with open(path, "w") as f:
            f.write(text)

    write(os.path.join(rules, "10_base.cf"), "body TINY_BASE /tiny base words/\n")
    write(os.path.join(rules, "50_scores.cf"), "score TINY_BASE 1.5\n")
    try:
        with h.SmtpSink() as sink:
            config = h.base_config(sink.address, spam={
                "enabled": True, "rule_dirs": [rules], "site_dir": site,
                "watch_rule_dirs": True, "watch_quiet_period": "1s"})
            with h.Mailsift(BIN, config) as ms:
                def send():
                    with h.SmtpClient(ms.port) as c:
                        c.greeting()
                        replies = c.send_message(
                            "sender@example.com", ["rcpt@example.net"],
                            h.dot_stuff([b"Subject: t", b"",
                                         b"tiny base words and new channel words"]))
                        c.cmd("QUIT")
                        return replies[-1]

                check(send().code == 250, "first message relayed")
                lines = ms.wait_log_lines(1, "Passed")
                check(len(lines) == 1 and hits_of(lines[0]) == 1.5,
                      "scored with the tiny ruleset (Hits: 1.5)", "\n".join(lines))
                check("watching the rule directories" in ms.read_stderr(),
                      "the supervisor says it watches the rule directories",
                      ms.read_stderr()[-2000:])

                # As sa-update does: a new channel directory, its files written one after the
                # other over about half a second (one by rename), then the channel's .cf with
                # its includes.
                channel = os.path.join(rules, "updates_test_org")
                os.mkdir(channel)
                write(os.path.join(channel, "20_new.cf"), "body TINY_NEW /new channel words/\n")
                time.sleep(0.25)
                write(os.path.join(channel, "72_scores.cf.tmp"), "score TINY_NEW 20\n")
                os.rename(os.path.join(channel, "72_scores.cf.tmp"),
                          os.path.join(channel, "72_scores.cf"))
                time.sleep(0.25)
                write(os.path.join(rules, "updates_test_org.cf"),
                      "include updates_test_org/20_new.cf\ninclude updates_test_org/72_scores.cf\n")
                got = wait_counter(ms, "reloads", 1)
                check_eq(got, 1, "the rule change gave a reload")
                time.sleep(2.5)  # longer than the quiet period: no second reload comes
                check_eq(status_counter(ms, "reloads"), 1, "exactly one reload for the burst")
                changed = ms.read_stderr().count("rule files changed in")
                check_eq(changed, 1, "one 'rule files changed in <dir>: reloading' line")
                check(send().code == 250, "second message relayed")
                lines = ms.wait_log_lines(2, "Passed")
                check(len(lines) == 2 and hits_of(lines[1]) == 21.5,
                      "the new generation scores with the new rule (Hits: 21.5)",
                      "\n".join(lines))

                # A rule file that does not parse: the reload is refused, the running
                # generation keeps relaying with the rules it has.
                write(os.path.join(rules, "99_broken.cf"), "body TINY_BROKEN /unclosed(group/\n")
                got = wait_counter(ms, "failed_reloads", 1)
                check_eq(got, 1, "the broken rules' reload is refused (failed_reloads=1)")
                check_eq(status_counter(ms, "reloads"), 1, "and no reload succeeded")
                check("99_broken.cf" in ms.read_stderr(), "the log names the broken file",
                      ms.read_stderr()[-2000:])
                check(send().code == 250, "mail still flows after the refused reload")
                lines = ms.wait_log_lines(3, "Passed")
                check(len(lines) == 3 and hits_of(lines[2]) == 21.5,
                      "still scored with the last good rules", "\n".join(lines))
                check_eq(len(sink.wait_transactions(3)), 3, "all three reached the next hop")

                # Fixed: the next change reloads again.
                os.remove(os.path.join(rules, "99_broken.cf"))
                check_eq(wait_counter(ms, "reloads", 2), 2, "removing the broken file reloads")

                # A reload with watch_rule_dirs = false stops the watch.
                with open(ms.config_path) as f:
                    text = f.read()
                with open(ms.config_path, "w") as f:
                    f.write(text.replace("watch_rule_dirs = true", "watch_rule_dirs = false"))
                r = subprocess.run([BIN, "reload", "--config", ms.config_path],
                                   capture_output=True, timeout=120)
                check(r.returncode == 0, "reload with the watch turned off",
                      (r.stdout + r.stderr).decode())
                check("no longer watching the rule directories" in ms.read_stderr(),
                      "the supervisor says it no longer watches", ms.read_stderr()[-2000:])
                write(os.path.join(rules, "60_more.cf"), "body TINY_MORE /more/\n")
                time.sleep(2.5)
                check_eq(status_counter(ms, "reloads"), 3, "a change is no reload any more")
    finally:
        shutil.rmtree(rules, ignore_errors=True)
        shutil.rmtree(site, ignore_errors=True)


def test_prefilter_is_built_by_a_builder_process_and_cached():
    # A tiny ruleset: its databases build in milliseconds. The environment would override the
    # config's prefilter keys.
    for name in ("MAILSIFT_PREFILTER", "MAILSIFT_PREFILTER_CACHE"):
        os.environ.pop(name, None)
    rules = tempfile.mkdtemp(prefix="mailsift-rules-")
    site = tempfile.mkdtemp(prefix="mailsift-site-")
    work = tempfile.mkdtemp(prefix="mailsift-prefilter-")
    with open(os.path.join(rules, "10_tiny.cf"), "w") as f:
        f.write("body TINY_ONE /tiny\\s+one/i\nbody TINY_TWO /\\btwo\\b/\n"
                "body TINY_NONE /never (?:seen|found)/\nscore TINY_ONE 1.5\nscore TINY_TWO 2\n")
    with open(os.path.join(work, "file"), "w") as f:
        f.write("a file, not a directory\n")
    try:
        for cache, cached in ((os.path.join(work, "cache", "prefilter"), True),
                              (os.path.join(work, "file", "prefilter"), False)):
            with h.SmtpSink() as sink:
                config = h.base_config(sink.address, spam={
                    "enabled": True, "rule_dirs": [rules], "site_dir": site,
                    "prefilter": "background", "prefilter_cache_dir": cache})
                with h.Mailsift(BIN, config) as ms:
                    def built():
                        return "prefilter: " in ms.read_stderr() and \
                            "built by a builder process" in ms.read_stderr()
                    try:
                        h.wait_until(built, 60, what="the prefilter's build")
                    except TimeoutError:
                        pass
                    log = ms.read_stderr()
                    line = next((l for l in log.splitlines() if "prefilter: " in l), "")
                    check("built by a builder process" in line,
                          "the generation logs the builder process's build", log[-2000:])
                    if cached:
                        files = os.listdir(cache) if os.path.isdir(cache) else []
                        check(len(files) == 1 and files[0].endswith(".hsdb"),
                              "one cache file in the created prefilter_cache_dir", files)
                        check_eq(oct(os.stat(cache).st_mode & 0o777), "0o755",
                                 "the cache directory's mode")
                        check("cached in " + cache in line, "the log line names the file", line)
                    else:
                        check("not cached: cannot create" in line and "warn" in line.lower(),
                              "a cache directory that cannot be created is a warning", line)
                    with h.SmtpClient(ms.port) as c:
                        c.greeting()
                        replies = c.send_message("sender@example.com", ["rcpt@example.net"],
                                                 h.dot_stuff([b"Subject: t", b"",
                                                              b"a Tiny  One and two"]))
                        c.cmd("QUIT")
                    check(replies[-1].code == 250, "the message is relayed", replies[-1].text)
                    lines = ms.wait_log_lines(1, "Passed")
                    check(len(lines) == 1 and hits_of(lines[0]) == 3.5,
                          "scored with the prefilter ready (Hits: 3.5)", "\n".join(lines))
    finally:
        for d in (rules, site, work):
            shutil.rmtree(d, ignore_errors=True)


def test_scan_threads_keep_the_file_order_and_the_verdicts():
    # 24 corpus messages and, in the middle, a file that cannot be read: with 3 scan threads the
    # records come out in the files' order, the same as with one, and the exit status still
    # says that a file was missing.
    names = sorted(os.listdir(h.corpus_dir()))
    files = [corpus_file(n) for n in names[:12]] + ["/nonexistent/message.eml"] + \
        [corpus_file(n) for n in names[-12:]]
    runs = {}
    for threads in ("1", "3"):
        p = subprocess.run([BIN, "scan", "--json", "--timing", "--threads", threads] + files,
                           capture_output=True, timeout=300)
        runs[threads] = p
        check_eq(p.returncode, 66, "exit status with one unreadable file (threads %s)" % threads)
        check("cannot read /nonexistent/message.eml" in p.stderr.decode(),
              "the unreadable file is named", p.stderr.decode()[-500:])
        timed = [l for l in p.stderr.decode().splitlines() if l.startswith("cpu_us ")]
        check_eq(len(timed), 24, "one cpu_us line per scanned message (threads %s)" % threads)
    records = [json.loads(l) for l in runs["3"].stdout.decode().splitlines()]
    check_eq([r["file"] for r in records], [f for f in files if not f.startswith("/nonexistent")],
             "records in the order of the files")
    check_eq(runs["3"].stdout, runs["1"].stdout, "the same records with 3 threads as with 1")


TESTS = [
    test_scan_threads_keep_the_file_order_and_the_verdicts,
    test_spam_and_ham_are_scored_and_relayed,
    test_scan_past_the_deadline_tempfails,
    test_broken_rules_are_refused_and_the_running_generation_serves,
    test_reload_picks_up_changed_rules,
    test_spam_is_tagged_with_amavisd_headers,
    test_spam_actions_reject_and_discard,
    test_sa_update_hook_reloads,
    test_watched_rule_dirs_reload_once_sa_update_has_finished,
    test_prefilter_is_built_by_a_builder_process_and_cached,
]

if __name__ == "__main__":
    BIN = h.mailsift_path()
    if not os.path.isfile(os.path.join(RULES, "50_scores.cf")):
        print("SpamAssassin's rules are not installed: skipped")
        sys.exit(77)
    sys.exit(h.TestRunner("scan").run(TESTS, only=h.only_args()))
