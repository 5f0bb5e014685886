#!/usr/bin/env python3
"""mailsift behind a real Postfix, in the documented setups.

    test_postfix.py --mailsift PATH [--mode all|before-queue|after-queue|after-queue-lmtp]
                    [--keep] [-v]
    test_postfix.py --postfix-only          # the Postfix side alone, without mailsift

For each mode, a private Postfix instance (tests/integration/postfix_instance.py) is built
from the snippets users paste (packaging/postfix/), with high free loopback ports in place
of 25, 10024 and 10025, and relays everything it queues to an smtp-sink.

  before-queue:     client -> public smtpd (smtpd_proxy_filter) -> mailsift (before-queue)
                    -> re-injection smtpd -> queue -> smtp-sink
  after-queue:      client -> public smtpd -> queue -> smtp-amavis (smtp client, XFORWARD)
                    -> mailsift (after-queue) -> re-injection smtpd -> queue -> smtp-sink
  after-queue-lmtp: the same with the snippet's LMTP variant of smtp-amavis, and mailsift
                    listening with protocol = "lmtp"

The client connects from 127.0.0.2, so that the original client address can be told
apart from mailsift's (127.0.0.1) when the re-injection smtpd logs
"orig_client=...[127.0.0.2]" (what arrived by XFORWARD).

Checks per message: the end-of-DATA reply, exactly one delivery at the sink with every
recipient, mailsift's Received header, the content after it unchanged, XFORWARD.
before-queue also: the client sees the re-injection smtpd's "250 2.0.0 Ok: queued as ID",
and a 4xx (never a 250) when mailsift cannot reach its next hop.
after-queue also: with the next hop down Postfix defers (mail stays queued) and delivers
exactly once when mailsift can re-inject again.

--postfix-only points the snippets' 10024 at the re-injection smtpd (Postfix's smtpd
can be its own proxy / content filter), to check the Postfix side without mailsift.

Needs root, Postfix (postfix, postqueue, smtp-sink) and Python 3. Takes about 25 s.
Prints every check, ends with "N passed, N failed"; exit 0 when all passed, 1 otherwise,
77 when it cannot run here (not root, no Postfix).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from email.utils import formatdate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import postfix_instance as pfi  # noqa: E402

CLIENT_ADDR = "127.0.0.2"  # the "Internet" client; mailsift and Postfix use 127.0.0.1
SKIP = 77
# after-queue-lmtp: after-queue with the snippet's LMTP variant of the smtp-amavis feed
# and mailsift listening with protocol = "lmtp".
TEST_MODES = ("before-queue", "after-queue", "after-queue-lmtp")


# ---- reporting --------------------------------------------------------------------------

class Checks:
    def __init__(self, verbose: bool):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose
        self.failures: list[str] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"  PASS  {name}" + (f"  ({detail})" if detail and self.verbose else ""))
        else:
            self.failed += 1
            self.failures.append(name)
            print(f"  FAIL  {name}")
            for line in (detail or "").splitlines():
                print(f"          {line}")
        sys.stdout.flush()
        return ok

    def info(self, text: str) -> None:
        print(f"  info  {text}")
        sys.stdout.flush()


# ---- a raw-socket SMTP client -------------------------------------------------------------

class SmtpError(Exception):
    pass


class SmtpClient:
    """Speaks SMTP from CLIENT_ADDR (the "Internet" client), without pipelining."""

    def __init__(self, port: int, timeout: float = 45):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((CLIENT_ADDR, 0))
        self.sock.connect(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> tuple[int, str]:
        """(code, text) of one reply; multi-line text joined with newlines."""
        lines = []
        while True:
            raw = self.file.readline(4096)
            if not raw:
                raise SmtpError("connection closed" + (f" after {lines}" if lines else ""))
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
        try:
            code = int(lines[-1][:3])
        except ValueError:
            raise SmtpError(f"bad reply {lines!r}")
        return code, "\n".join(lines)

    def cmd(self, line: str) -> tuple[int, str]:
        self.sock.sendall(line.encode("utf-8") + b"\r\n")
        return self.reply()

    def send(self, mail_from: str, rcpts: list[str], message: bytes,
             mail_params: str = "") -> dict:
        """One transaction. Returns the replies; stops at the first failed stage."""
        r: dict = {"rcpt": []}
        r["mail"] = self.cmd(f"MAIL FROM:<{mail_from}>" + (f" {mail_params}" if mail_params
                                                            else ""))
        if r["mail"][0] != 250:
            self.cmd("RSET")
            return r
        for rc in rcpts:
            r["rcpt"].append(self.cmd(f"RCPT TO:<{rc}>"))
        if not any(code == 250 for code, _ in r["rcpt"]):
            self.cmd("RSET")
            return r
        r["data"] = self.cmd("DATA")
        if r["data"][0] != 354:
            return r
        self.sock.sendall(dot_stuff(message) + b".\r\n")
        r["eod"] = self.reply()
        return r

    def close(self) -> None:
        try:
            self.cmd("QUIT")
        except (OSError, SmtpError):
            pass
        self.sock.close()


def dot_stuff(message: bytes) -> bytes:
    """The message (CRLF lines, ending in CRLF) with a dot doubled at each line start."""
    assert message.endswith(b"\r\n")
    lines = message[:-2].split(b"\r\n")
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)


def make_message(mode: str, n: int, rcpts: list[str], extra_body: str = "") -> tuple[str, bytes]:
    token = f"{mode}-{n}-{uuid.uuid4().hex[:12]}"
    body = (
        f"Test message {n} for mailsift in {mode} mode.\r\n"
        "\r\n"
        + extra_body +
        "Last line.\r\n")
    head = (
        f"Date: {formatdate(localtime=False)}\r\n"
        "From: Test Sender <sender@client.mailsift.invalid>\r\n"
        f"To: {', '.join(rcpts)}\r\n"
        f"Subject: mailsift postfix test {token}\r\n"
        f"Message-ID: <{token}@client.mailsift.invalid>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n")
    return token, (head + body).encode("utf-8")


TRICKY_BODY = (
    ".a line that starts with one dot\r\n"
    "..two dots\r\n"
    ".\tdot and tab\r\n"
    "8-bit text: Grüße, 日本語, naïve café\r\n"
    + "x" * 990 + "\r\n"
    "From the start of a line (no mbox escaping expected)\r\n"
    "\r\n")


# ---- mailsift -----------------------------------------------------------------------------

class Mailsift:
    def __init__(self, binary: str, workdir: Path, name: str, protocol: str = "smtp"):
        self.binary = binary
        self.protocol = protocol  # of the listener: smtp | lmtp
        self.workdir = workdir
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.stderr_path = workdir / f"{name}.stderr"
        self.config_path = workdir / f"{name}.toml"

    def start(self, mode: str, listen_port: int, next_hop_port: int,
              timeout: float = 15) -> None:
        spool = self.workdir / "spool"
        spool.mkdir(exist_ok=True)
        self.config_path.write_text(
            "# written by tests/integration/test_postfix.py\n"
            "[server]\n"
            'hostname = "mailsift-test.mailsift.invalid"\n'
            "[[listen]]\n"
            f'address = "127.0.0.1:{listen_port}"\n'
            f'protocol = "{self.protocol}"\n'
            "[relay]\n"
            f'next_hop = "127.0.0.1:{next_hop_port}"\n'
            'protocol = "smtp"\n'
            f'mode = "{mode}"\n'
            "[timeouts]\n"
            "relay_connect = 10\n"
            "[spool]\n"
            f'directory = "{spool}"\n'
            "[quarantine]\n"
            f'directory = "{self.workdir / "quarantine"}"\n'
            "[control]\n"
            f'socket = "{self.workdir / (self.name + ".control.sock")}"\n'
            f'pid_file = "{self.workdir / (self.name + ".pid")}"\n')
        with open(self.stderr_path, "ab") as err:
            err.write(f"---- start: mode={mode} listen={listen_port}/{self.protocol} "
                      f"next_hop={next_hop_port}\n".encode())
            err.flush()
            self._offset = err.tell()
            self.proc = subprocess.Popen(
                [self.binary, "foreground", "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "listening on" in self.log_text()[self._offset:]:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"mailsift exited with {self.proc.returncode}:\n"
                                   + self.log_text()[-3000:])
            time.sleep(0.05)
        raise RuntimeError("mailsift never wrote 'listening on':\n" + self.log_text()[-3000:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            print(f"  info  mailsift (pid {self.proc.pid}) ignored SIGTERM for 10 s; killing")
            self.proc.kill()
            self.proc.wait(timeout=5)

    def log_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""


# ---- helpers ------------------------------------------------------------------------------

def safe_print(text: str) -> None:
    try:
        print(text, flush=True)
    except OSError:
        pass


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


QUEUED_AS = re.compile(r"queued as ([0-9A-Za-z]+)")


def received_headers(message: str) -> list[str]:
    """Every Received header of the message's header section (folded lines kept)."""
    head = message.split("\n\n", 1)[0]
    headers, cur = [], None
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and cur is not None:
            cur += "\n" + line
            continue
        if cur is not None:
            headers.append(cur)
        cur = line
    if cur is not None:
        headers.append(cur)
    return [h for h in headers if h.lower().startswith("received:")]


def sink_matches(pf: pfi.PostfixInstance, token: str) -> list[dict]:
    return [t for t in pf.sink_transactions() if f"<{token}@" in t["message"]]


def log_lines(pf: pfi.PostfixInstance, needle: str) -> str:
    return "\n".join(l for l in pf.log_text().splitlines() if needle in l)


# ---- one mode -----------------------------------------------------------------------------

def run_mode(mode: str, args, checks: Checks, workroot: Path) -> None:
    postfix_only = args.postfix_only
    print(f"== {mode}" + (" (Postfix only: 10024 -> re-injection smtpd)" if postfix_only
                          else "") + " ==")
    t0 = time.monotonic()
    failed_before = checks.failed
    pf_mode = "before-queue" if mode == "before-queue" else "after-queue"
    feed = "lmtp" if mode.endswith("-lmtp") else "smtp"
    pf = pfi.PostfixInstance(pf_mode, feed=feed, bypass_filter=postfix_only, keep=args.keep,
                             parent_dir=str(workroot),
                             log=safe_print)
    ms = None if postfix_only else Mailsift(args.mailsift, pf.dir, "mailsift", feed)
    try:
        pf.start()
        P = pf.ports
        print(f"  ports: public={P['public']} filter(10024)={pf.filter_target} "
              f"reinject(10025)={P['reinject']} sink={P['sink']}; dir {pf.dir}")
        warnings = pf.config_warnings()
        checks.check(f"{mode}: postconf finds nothing wrong in the configuration built from "
                     "the snippets", not warnings, "\n".join(warnings))
        if ms:
            ms.start(pf_mode, P["filter"], P["reinject"])
        hop_port = pf.filter_target

        msgs = []
        rc1 = ["rcpt1@dest.mailsift.invalid"]
        msgs.append((rc1, *make_message(mode, 1, rc1), ""))
        rc2 = ["rcpt2a@dest.mailsift.invalid", "rcpt2b@dest.mailsift.invalid"]
        msgs.append((rc2, *make_message(mode, 2, rc2, TRICKY_BODY), "BODY=8BITMIME"))
        rc3 = ["rcpt3@dest.mailsift.invalid"]
        msgs.append((rc3, *make_message(mode, 3, rc3), ""))

        # Message 1 in its own session; 2 and 3 in one session. After a message that
        # did not get a 250, send no more (each would only wait for the same timeout).
        results: dict = {}
        try:
            for group in (msgs[:1], msgs[1:]):
                c = SmtpClient(P["public"])
                c.cmd("EHLO client.mailsift.invalid")
                for rcpts, token, data, params in group:
                    results[token] = r = c.send("sender@client.mailsift.invalid", rcpts,
                                                data, params)
                    if r.get("eod", (0,))[0] != 250:
                        break
                c.close()
                if any(r.get("eod", (0,))[0] != 250 for r in results.values()):
                    break
        except (OSError, SmtpError) as e:
            checks.check(f"{mode}: SMTP session with the public smtpd", False, repr(e))

        check_reinjection_bare_lf(mode, pf, checks)

        failed_sending = checks.failed
        deadline = time.monotonic() + 20  # normally all is delivered within 1-2 s
        for i, (rcpts, token, data, params) in enumerate(msgs, 1):
            if token not in results:
                checks.check(f"{mode} msg{i}: not sent (an earlier message failed)", False)
                continue
            check_message(mode, i, pf, ms, hop_port, rcpts, token, data,
                          results[token], checks, deadline)

        chain_failed = checks.failed > failed_sending
        if ms and chain_failed:
            checks.info(f"{mode}: the basic chain failed; fault checks not run")
        elif mode == "before-queue" and ms:
            check_before_queue_tempfail(pf, ms, checks)
        elif pf_mode == "after-queue" and ms:
            check_after_queue_defer(mode, pf, ms, checks)

        checks.check(f"{mode}: Postfix queue empty at the end",
                     pf.wait_queue_empty(2 if chain_failed else 10),
                     str(pf.queue_entries()))
        time.sleep(0.5)
        counts = {token: len(sink_matches(pf, token)) for _, token, _, _ in msgs
                  if token in results}
        checks.check(f"{mode}: at the end, no message was delivered twice",
                     all(n <= 1 for n in counts.values()), str(counts))
        bad = [l for l in pf.log_text().splitlines()
               if re.search(r"(fatal|panic|error):", l)]
        checks.check(f"{mode}: no fatal/panic/error lines in Postfix's log", not bad,
                     "\n".join(bad[:10]))
    except (pfi.PostfixError, RuntimeError, OSError) as e:
        checks.check(f"{mode}: setup", False, str(e))
    finally:
        try:
            if ms:
                ms.stop()
        finally:
            try:
                if args.verbose or checks.failed > failed_before:
                    print(f"  ---- Postfix log tail ({pf.maillog}) ----")
                    print("  " + pf.log_tail(40).replace("\n", "\n  "))
                    if ms:
                        print(f"  ---- mailsift stderr tail ({ms.stderr_path}) ----")
                        tail = "\n".join(ms.log_text().splitlines()[-25:])
                        print("  " + tail.replace("\n", "\n  "))
            except Exception:  # never let reporting (e.g. a closed stdout) skip the stop
                pass
            finally:
                pf.stop()
        print(f"  ({mode}: {time.monotonic() - t0:.1f} s)")


def check_message(mode, n, pf, ms, hop_port, rcpts, token, data, r, checks: Checks,
                  deadline: float) -> None:
    """deadline: shared by all messages of a mode, so a broken chain fails fast."""
    tag = f"{mode} msg{n}"

    def wl(pattern: str, timeout: float):
        return pf.wait_log(pattern, timeout=min(timeout, max(0.5, deadline - time.monotonic())))
    P = pf.ports
    eod = r.get("eod")
    ok = checks.check(f"{tag}: end-of-DATA reply is 250",
                      eod is not None and eod[0] == 250, f"replies: {r}")
    if not ok:
        return
    eod_text = eod[1]
    m = QUEUED_AS.search(eod_text)
    first_qid = m.group(1) if m else None

    if mode == "before-queue":
        # The client sees the re-injection smtpd's reply, passed on word for word.
        checks.check(f"{tag}: client got the re-injection smtpd's reply "
                     f"'250 2.0.0 Ok: queued as ID'",
                     re.fullmatch(r"250 2\.0\.0 Ok: queued as [0-9A-Za-z]+", eod_text) is not None,
                     f"got {eod_text!r}")
        final_qid = first_qid
        if not final_qid:
            return
        pl = wl(r"proxy-accept: END-OF-MESSAGE: 250 2\.0\.0 Ok: queued as "
                + re.escape(final_qid) + ";", timeout=5)
        checks.check(f"{tag}: public smtpd logged proxy-accept with that reply",
                     pl is not None, log_lines(pf, "proxy-") or "no proxy-accept line")
    else:
        checks.check(f"{tag}: public smtpd queued the message (queued as ID)",
                     first_qid is not None, eod_text)
        if not first_qid:
            return
        # The content filter hop: Postfix's smtp client -> 10024.
        hop = wl(rf"^.* {first_qid}: to=<[^>]*>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                 rf"{hop_port},.* status=(\w+) \((.*)\)$", timeout=20)
        ok = checks.check(f"{tag}: smtp-amavis delivered {first_qid} to port {hop_port} "
                          "(status=sent)", hop is not None and hop.group(1) == "sent",
                          hop.group(0) if hop else log_lines(pf, first_qid))
        if not ok:
            return
        reply = hop.group(2)
        qm = QUEUED_AS.findall(reply)
        final_qid = qm[-1] if qm else None
        if ms:
            checks.check(f"{tag}: mailsift's reply names the next hop and its queue ID "
                         "(amavisd format)",
                         re.search(r"250 2\.\d\.\d from MTA\(smtp:\[127\.0\.0\.1\]:"
                                   rf"{P['reinject']}\): 250 2\.0\.0 Ok: queued as \w+",
                                   reply) is not None, f"status=sent ({reply})")
        checks.check(f"{tag}: re-injection queue ID found in the filter's reply",
                     final_qid is not None and final_qid != first_qid, reply)
        if not final_qid:
            return

    # XFORWARD: the re-injection smtpd knows the original client.
    cl = wl(rf"^.* {final_qid}: client=.*$", timeout=10)
    line = cl.group(0) if cl else ""
    checks.check(f"{tag}: re-injection smtpd logged orig_client=...[{CLIENT_ADDR}] (XFORWARD)",
                 re.search(rf"orig_client=[^,\s]*\[{re.escape(CLIENT_ADDR)}\]", line) is not None,
                 line or log_lines(pf, final_qid) or f"no '{final_qid}: client=' line")
    if mode != "before-queue" and cl:
        oq = re.search(r"orig_queue_id=(\w+)", line)
        checks.info(f"{tag}: orig_queue_id={oq.group(1) if oq else '(not forwarded)'} "
                    f"(public queue ID {first_qid})")

    # Delivery to the sink, exactly once, all recipients.
    sent = {}
    for rc in rcpts:
        sent[rc] = wl(rf"^.* {final_qid}: to=<{re.escape(rc)}>, relay=127\.0\.0\.1"
                      rf"\[127\.0\.0\.1\]:{P['sink']},.* status=sent", timeout=20)
    checks.check(f"{tag}: Postfix delivered {final_qid} to the sink for every recipient",
                 all(sent.values()), log_lines(pf, final_qid))
    time.sleep(0.2)
    txs = sink_matches(pf, token)
    ok = checks.check(f"{tag}: arrived at the sink exactly once", len(txs) == 1,
                      f"{len(txs)} transactions with Message-ID <{token}@...>")
    if not txs:
        return
    tx = txs[0]
    got_rcpts = sorted(re.sub(r"^<([^>]*)>.*$", r"\1", a) for t in txs for a in t["rcpts"])
    checks.check(f"{tag}: sink got every recipient once", got_rcpts == sorted(rcpts),
                 f"got {got_rcpts}, sent {rcpts}")
    checks.check(f"{tag}: envelope sender kept",
                 (tx["mail"] or "").startswith("<sender@client.mailsift.invalid>"),
                 f"MAIL args {tx['mail']!r}")
    msg = tx["message"]
    recv = received_headers(msg)
    ours = [h for h in recv if "(mailsift, port" in h]
    if ms:
        ok = checks.check(f"{tag}: exactly one mailsift Received header",
                          len(ours) == 1, "\n".join(recv))
        if ours:
            h = ours[0]
            checks.check(f"{tag}: mailsift's header is 'Received: from ...' and names "
                         f"port {P['filter']}",
                         h.startswith("Received: from ") and
                         f"(mailsift, port {P['filter']})" in h, h)
    else:
        checks.check(f"{tag}: no mailsift header (Postfix only)", not ours, "\n".join(ours))
    # Everything the client sent, unchanged (de-stuffed), ends the delivered message.
    original = data.decode("utf-8").replace("\r\n", "\n")
    ok = checks.check(f"{tag}: header and body as sent arrive unchanged",
                      msg.endswith(original),
                      "delivered:\n" + msg[-1500:] + "\n---- sent:\n" + original[-800:])
    if ms:
        mid = f"<{token}@client.mailsift.invalid>"
        logged = [l for l in ms.log_text().splitlines() if mid in l]
        checks.check(f"{tag}: mailsift logged 'Passed' for the message",
                     any(re.search(r"\bPassed\b", l) for l in logged),
                     "\n".join(logged) or f"no mailsift log line with {mid}")


def check_reinjection_bare_lf(mode, pf, checks: Checks) -> None:
    """The snippets' smtpd_forbid_bare_newline lines: the re-injection smtpd, talked to
    from 127.0.0.1 (in its mynetworks), must not take <LF>.<LF> as the end of DATA."""
    tag = f"{mode} re-injection smtpd"
    rcpts = ["rcpt-lf@dest.mailsift.invalid"]
    token, data = make_message(mode, 0, rcpts)
    smuggled = f"smuggled-{token}"
    payload = (data.replace(b"Last line.\r\n", b"")
               + b"bare LF line\n.\nMAIL FROM:<evil@client.mailsift.invalid>\n"
               + f"RCPT TO:<{smuggled}@dest.mailsift.invalid>\nDATA\n".encode()
               + b"Subject: smuggled\n\nsmuggled body\n.\n" + b"Last line.\r\n.\r\n")
    try:
        with socket.create_connection(("127.0.0.1", pf.ports["reinject"]), timeout=15) as s:
            f = s.makefile("rb")

            def reply() -> str:
                while True:
                    line = f.readline().decode("latin-1")
                    if len(line) < 4 or line[3] != "-":
                        return line.strip()

            reply()
            for c in ("EHLO mailsift-test.mailsift.invalid",
                      "MAIL FROM:<sender@client.mailsift.invalid>", f"RCPT TO:<{rcpts[0]}>",
                      "DATA"):
                s.sendall(c.encode() + b"\r\n")
                r = reply()
            s.sendall(payload)
            eod = reply()
            s.sendall(b"QUIT\r\n")
            extra = [reply() for _ in range(2)]
    except (OSError, SmtpError) as e:
        checks.check(f"{tag}: bare-LF session", False, repr(e))
        return
    m = QUEUED_AS.search(eod)
    if not checks.check(f"{tag}: accepted the message with a bare-LF '.' inside as one message",
                        eod.startswith("250") and m is not None,
                        f"DATA reply {r!r}, end-of-DATA reply {eod!r}, then {extra}"):
        return
    pf.wait_log(rf" {m.group(1)}: to=<[^>]*>, relay=[^\n]*status=sent", timeout=10)
    time.sleep(0.2)
    txs = sink_matches(pf, token)
    bad = [t for t in pf.sink_transactions() if any(smuggled in a for a in t["rcpts"])]
    checks.check(f"{tag}: <LF>.<LF> did not end DATA (no smuggled message delivered)",
                 len(txs) == 1 and not bad and "smuggled body" in txs[0]["message"],
                 f"{len(txs)} deliveries of the message, {len(bad)} smuggled; "
                 f"replies after DATA: {extra}")


def check_before_queue_tempfail(pf, ms, checks: Checks) -> None:
    """mailsift cannot reach the re-injection smtpd: the client must get a 4xx."""
    tag = "before-queue tempfail"
    P = pf.ports
    dead = pfi.free_port()
    ms.stop()
    ms.start("before-queue", P["filter"], dead)
    print(f"  (mailsift restarted with next_hop 127.0.0.1:{dead}, where nothing listens)")
    rcpts = ["rcpt4@dest.mailsift.invalid"]
    token, data = make_message("before-queue", 4, rcpts)
    try:
        c = SmtpClient(P["public"])
        c.cmd("EHLO client.mailsift.invalid")
        r = c.send("sender@client.mailsift.invalid", rcpts, data)
        c.close()
    except (OSError, SmtpError) as e:
        r = {"error": repr(e)}
    eod = r.get("eod")
    first_4xx = next((x for x in [r.get("mail"), *r.get("rcpt", []), r.get("data"), eod]
                      if x and 400 <= x[0] < 500), None)
    checks.check(f"{tag}: client got a 4xx", first_4xx is not None, f"replies: {r}")
    checks.check(f"{tag}: client never got a 250 for the end of DATA",
                 not (eod and eod[0] == 250), f"end-of-DATA reply {eod}")
    if first_4xx:
        checks.info(f"{tag}: client saw {first_4xx[1]!r}")
    pl = log_lines(pf, "proxy-reject") or log_lines(pf, "proxy")
    checks.info(f"{tag}: Postfix: {pl.splitlines()[-1] if pl else '(no proxy line)'}")
    time.sleep(1.5)
    checks.check(f"{tag}: nothing reached the sink", not sink_matches(pf, token),
                 str(sink_matches(pf, token)))
    checks.check(f"{tag}: nothing was queued", not pf.queue_entries(), str(pf.queue_entries()))
    tl = [l for l in ms.log_text().splitlines() if "Tempfailed" in l]
    checks.info(f"{tag}: mailsift: {tl[-1] if tl else '(no Tempfailed line)'}")


def check_after_queue_defer(mode, pf, ms, checks: Checks) -> None:
    """Next hop down: Postfix keeps the mail queued; then delivers it exactly once."""
    tag = f"{mode} next hop down"
    P = pf.ports
    dead = pfi.free_port()
    ms.stop()
    ms.start("after-queue", P["filter"], dead)
    print(f"  (mailsift restarted with next_hop 127.0.0.1:{dead}, where nothing listens)")
    rcpts = ["rcpt5@dest.mailsift.invalid"]
    token, data = make_message(mode, 5, rcpts)
    try:
        c = SmtpClient(P["public"])
        c.cmd("EHLO client.mailsift.invalid")
        r = c.send("sender@client.mailsift.invalid", rcpts, data)
        c.close()
    except (OSError, SmtpError) as e:
        r = {"error": repr(e)}
    eod = r.get("eod")
    m = QUEUED_AS.search(eod[1]) if eod and eod[0] == 250 else None
    if not checks.check(f"{tag}: public smtpd queued the message", m is not None, str(r)):
        return
    qid = m.group(1)
    d = pf.wait_log(rf"^.* {qid}: to=<[^>]*>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                    rf"{P['filter']},.* status=(\w+) \((.*)\)$", timeout=15)
    checks.check(f"{tag}: Postfix deferred {qid} with mailsift's 4xx",
                 d is not None and d.group(1) == "deferred" and
                 re.search(r"said: 4\d\d ", d.group(2)) is not None,
                 d.group(0) if d else log_lines(pf, qid))
    checks.check(f"{tag}: the message is still in Postfix's queue",
                 any(e.get("queue_id") == qid for e in pf.queue_entries()),
                 str(pf.queue_entries()))
    checks.check(f"{tag}: nothing reached the sink yet", not sink_matches(pf, token))
    ms.stop()
    ms.start("after-queue", P["filter"], P["reinject"])
    print("  (mailsift restarted with the real next hop; postqueue -f)")
    pf.flush()
    ok = pf.wait_log(rf"^.* {qid}: to=<[^>]*>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                     rf"{P['filter']},.* status=sent", timeout=15)
    checks.check(f"{tag}: delivered to mailsift on retry", ok is not None, log_lines(pf, qid))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not sink_matches(pf, token):
        time.sleep(0.2)
    pf.wait_queue_empty(10)
    time.sleep(0.3)
    n = len(sink_matches(pf, token))
    checks.check(f"{tag}: arrived at the sink exactly once after the retry", n == 1,
                 f"{n} transactions")


# ---- main ---------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mailsift", default=os.environ.get("MAILSIFT_BIN"),
                    help="path of the mailsift binary (default: $MAILSIFT_BIN)")
    ap.add_argument("--postfix-only", action="store_true",
                    help="test the Postfix side alone (10024 -> re-injection smtpd)")
    ap.add_argument("--mode", choices=("all", *TEST_MODES), default="all")
    ap.add_argument("--keep", action="store_true", help="keep the instance directories")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    if os.geteuid() != 0:
        print("SKIP: needs root (a private Postfix master must start as root)")
        return SKIP
    missing = [p for p in (pfi.POSTFIX, pfi.POSTQUEUE, pfi.POSTCONF, pfi.SMTP_SINK)
               if not os.access(p, os.X_OK)]
    if missing:
        print(f"SKIP: Postfix tools missing: {missing} (apt-get install postfix)")
        return SKIP
    if not args.postfix_only:
        if not args.mailsift:
            ap.error("--mailsift PATH (or MAILSIFT_BIN) is required, or --postfix-only")
        args.mailsift = str(Path(args.mailsift).resolve())
        if not os.access(args.mailsift, os.X_OK):
            print(f"mailsift binary not executable: {args.mailsift}")
            print("0 passed, 1 failed")
            return 1

    signal.signal(signal.SIGTERM, _terminate)  # run the clean-ups on SIGTERM too
    checks = Checks(args.verbose)
    t0 = time.monotonic()
    workroot = Path(tempfile.mkdtemp(prefix="mailsift-test-postfix-"))
    os.chmod(workroot, 0o755)  # Postfix's daemons must reach the queue inside
    try:
        modes = TEST_MODES if args.mode == "all" else (args.mode,)
        if args.postfix_only and "after-queue-lmtp" in modes:
            # Postfix's smtpd does not speak LMTP, so it cannot stand in for mailsift there.
            print("== after-queue-lmtp: not run with --postfix-only (smtpd speaks no LMTP) ==")
            modes = tuple(m for m in modes if m != "after-queue-lmtp")
        for mode in modes:
            run_mode(mode, args, checks, workroot)
    finally:
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)
        else:
            print(f"kept {workroot}")
    print(f"total {time.monotonic() - t0:.1f} s")
    if checks.failures:
        print("failed: " + "; ".join(checks.failures))
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 and checks.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
