#!/usr/bin/python3
"""Hostile and faulty peers over SMTP: client -> mailsift -> next hop.

Usage: python3 tests/integration/test_hostile_smtp.py --mailsift PATH [-k NAME]

Covered, each as mailsift answers it on the wire:
  * bare CR/LF: the default bare_newline = "normalize" (Postfix 3.9's) relays the corpus file
    spam-2/00541 (one bare CR) sent by smtp-source -F after the queue through smtp-sink with
    250, and the exact bytes at the next hop (RecordingServer) are CRLF-only lines with the CR
    made a space; "reject" still refuses it with 550 5.5.2; LF.LF never ends the data.
  * a next hop that closes (FIN) or resets (RST) the connection after our final dot: 451 4.4.2
    "next hop closed the connection" at once (not at message_deadline), counted in `mailsift
    status` (relay_closed_at_end); nothing was acknowledged, and a retry delivers exactly one
    copy. With a real Postfix (root only): a fault proxy in front of the re-injection smtpd
    drops the final dot and both connections; Postfix's smtpd discards the unfinished
    message, mailsift answers 451, the public Postfix defers and, flushed, delivers once.
  * a 20 MB header line: 552 5.3.4 at the end of data, nothing relayed, the generation's peak
    memory grows by a few MB only (the message is never buffered whole nor scanned); a header
    field at the limit passes; a folded one past it is refused; the session goes on.
  * BDAT 0 LAST with nothing before it: 554 5.6.0, nothing relayed. A BDAT chunk that takes the
    message past SIZE: 552 5.3.4 right after that chunk (its bytes read and discarded, RFC 3030
    §2), a pipelined BDAT behind it gets 503, the session stays in sync.
  * a client trickling a command line: 421 4.4.2 once timeouts.command_line has passed since its
    first byte (the idle wait for a command keeps its own timeout); trickling message data
    below limits.min_data_rate: 421 4.4.2, nothing relayed; a normal client is unaffected.
Timeouts are configured short so that the whole file runs in well under a minute.
"""

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import check, check_eq  # noqa: E402

BIN = None
BARE_CR_FILE = "spam-2.00541.b3145925dccfa163547afa1299e61807.eml"
MSG = h.dot_stuff([b"From: a@src.test", b"To: b@dest.test", b"Subject: hostile", b"",
                   b"hello", b".dot line"])


def enhanced(reply):
    m = re.match(r"^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b", reply.lines[-1])
    return m.group(1) if m else None


def check_reply(reply, code, enh, what, text=None):
    ok = (reply is not None and reply.code == code and (enh is None or enhanced(reply) == enh)
          and (text is None or text in reply.text))
    check(ok, "%s -> %d%s  [%s]" % (what, code, " " + enh if enh else "",
                                    reply.lines[-1][:110] if reply is not None else None),
          "got %r" % (reply.text if reply is not None else None))


def envelope(c, sender="a@src.test", rcpt="b@dest.test"):
    check_reply(c.cmd("MAIL FROM:<%s>" % sender), 250, "2.1.0", "MAIL")
    check_reply(c.cmd("RCPT TO:<%s>" % rcpt), 250, "2.1.5", "RCPT")


def status_fields(ms):
    """`mailsift status` of the running instance, as a dict of its key=value fields."""
    p = subprocess.run([BIN, "status", "--config", ms.config_path], capture_output=True,
                       text=True, timeout=10)
    return dict(re.findall(r"(\S+?)=(\S+)", p.stdout))


def generation_hwm_kb(supervisor_pid):
    kids = open("/proc/%d/task/%d/children" % (supervisor_pid, supervisor_pid)).read().split()
    for line in open("/proc/%s/status" % kids[0]):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def has_bare_newline(b):
    return re.search(rb"\r(?!\n)|(?<!\r)\n", b) is not None


# ------------------------------------------------------------------------------------------
# Bare CR/LF: the default normalizes

def test_bare_cr_default_normalizes_after_queue():
    d = h.corpus_dir()
    path = os.path.join(d, BARE_CR_FILE)
    raw = open(path, "rb").read()
    check(b"\r" in raw.replace(b"\r\n", b""), "the corpus file holds a bare CR")
    # smtp-source -F -> mailsift (default config, no [smtp] section) -> smtp-sink.
    with h.SmtpSink() as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms:
            p = h.run_smtp_source(["-s", "1", "-m", "1", "-F", path, "-f", "a@src.test",
                                   "-t", "b@dest.test", "-M", "client.test",
                                   "127.0.0.1:%d" % ms.port], timeout=60)
            check(p.returncode == 0 and "rejected" not in p.stderr,
                  "smtp-source gets 250 at the end of data under the default",
                  "rc=%s %s" % (p.returncode, p.stderr.strip()[:300]))
            tx = sink.wait_transactions(1)
            check_eq(len(tx), 1, "the message reached smtp-sink once")
            _, rest = tx[0].split_mailsift_received()
            # smtp-source puts every CR of the file on the wire as it is: each one is stray.
            expected = h.expected_dump_text(raw.replace(b"\r", b" "))
            check(rest == expected, "it arrived as sent, each bare CR made a space",
                  "differs: %r" % rest[:200])
            check(ms.wait_log_lines(1, "Passed"), "a Passed log line")
    # The exact bytes at the next hop: the RecordingServer test double.
    with h.RecordingServer() as rec:
        with h.Mailsift(BIN, h.base_config(rec.address)) as ms:
            p = h.run_smtp_source(["-s", "1", "-m", "1", "-F", path, "-f", "a@src.test",
                                   "-t", "b@dest.test", "-M", "client.test",
                                   "127.0.0.1:%d" % ms.port], timeout=60)
            check_eq(p.returncode, 0, "smtp-source exits 0 (RecordingServer next hop)")
            txs = rec.wait_transactions(1)
            check_eq(len(txs), 1, "one transaction at the next hop")
            data = txs[0].data
            check(not has_bare_newline(data) and data.endswith(b"\r\n"),
                  "every line at the next hop ends in CRLF, no bare CR or LF",
                  repr(data[-200:]))
            check(b"ratios vary by state)" in data, "the bare CR became a space")
    # "reject" is still there, and LF.LF never ends the data under the default.
    with h.RecordingServer() as rec:
        cfg = h.base_config(rec.address, smtp={"bare_newline": "reject"})
        with h.Mailsift(BIN, cfg) as ms:
            p = h.run_smtp_source(["-s", "1", "-m", "1", "-A", "-F", path, "-f", "a@src.test",
                                   "-t", "b@dest.test", "-M", "client.test",
                                   "127.0.0.1:%d" % ms.port], timeout=60)
            check("end of data rejected: 550 5.5.2" in p.stderr,
                  "bare_newline = \"reject\" refuses it with 550 5.5.2", p.stderr[:300])
            time.sleep(0.3)
            check_eq(len(rec.wait_transactions(0, 0)), 0, "nothing relayed under reject")
    with h.RecordingServer() as rec:
        with h.Mailsift(BIN, h.base_config(rec.address)) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            c.cmd("EHLO client.test")
            envelope(c)
            check_reply(c.cmd("DATA"), 354, None, "DATA")
            c.send(b"Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@smuggle.test>\r\n.\r\n")
            check_reply(c.read_reply(), 250, "2.0.0", "LF.LF is content; CRLF.CRLF ends")
            check_reply(c.cmd("NOOP"), 250, "2.0.0", "exactly one reply for the message")
            txs = rec.wait_transactions(1)
            check(len(txs) == 1 and b"MAIL FROM:<evil@smuggle.test>\r\n" in txs[0].data,
                  "one transaction, the smuggled MAIL FROM is content")


# ------------------------------------------------------------------------------------------
# A next hop that closes or resets the connection at the end of data

class ClosingHop:
    """TEST DOUBLE next hop: an SMTP server that records each message it received and, at the
    final dot of the first `faults` messages, closes (mode "fin") or resets ("rst") the
    connection instead of answering; later messages get 250."""

    def __init__(self, mode, faults=1):
        self.mode, self.faults = mode, faults
        self.received, self.acknowledged = [], []
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def close(self):
        self.stopped = True
        self.lsock.close()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        f = c.makefile("rb")
        try:
            c.sendall(b"220 hop.test ESMTP\r\n")
            data = None
            while True:
                line = f.readline()
                if not line:
                    return
                if data is not None:
                    if line != b".\r\n":
                        data.append(line)
                        continue
                    self.received.append(b"".join(data))
                    data = None
                    if len(self.received) <= self.faults:
                        if self.mode == "rst":
                            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                         struct.pack("ii", 1, 0))
                        c.close()
                        return
                    self.acknowledged.append(self.received[-1])
                    c.sendall(b"250 2.0.0 Ok: queued\r\n")
                    continue
                verb = line[:4].upper()
                if verb == b"EHLO":
                    c.sendall(b"250-hop.test\r\n250 PIPELINING\r\n")
                elif verb == b"DATA":
                    c.sendall(b"354 go ahead\r\n")
                    data = []
                elif verb == b"QUIT":
                    c.sendall(b"221 2.0.0 Bye\r\n")
                    return
                else:
                    c.sendall(b"250 2.0.0 Ok\r\n")
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass


def test_next_hop_closes_at_end_of_data():
    for mode in ("fin", "rst"):
        hop = ClosingHop(mode)
        try:
            # message_deadline far above what the test waits: a deadline-based 451 would fail.
            cfg = h.base_config(hop.address, timeouts={"message_deadline": 60})
            with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port, timeout=30) as c:
                c.greeting()
                c.cmd("EHLO client.test")
                envelope(c)
                check_reply(c.cmd("DATA"), 354, None, "DATA")
                t0 = time.monotonic()
                c.send(MSG)
                r = c.read_reply(timeout=30)
                took = time.monotonic() - t0
                check_reply(r, 451, "4.4.2", "next hop %s after the final dot" % mode.upper(),
                            "next hop closed the connection")
                check(took < 2.0, "answered at once (%.2fs), not at message_deadline" % took)
                check_eq(len(hop.received), 1, "the next hop got the message once")
                check_eq(hop.acknowledged, [], "and never acknowledged it")
                fields = status_fields(ms)
                check_eq(fields.get("relay_closed_at_end"), "1",
                         "counted: status relay_closed_at_end=1")
                check_eq(fields.get("relay_errors"), "1", "and in relay_errors")
                check_eq(fields.get("relayed"), "0", "no message counted as relayed")
                # The client (an MTA) retries: exactly one copy is acknowledged downstream.
                envelope(c)
                check_reply(c.cmd("DATA"), 354, None, "DATA (retry)")
                c.send(MSG)
                check_reply(c.read_reply(timeout=30), 250, "2.0.0",
                            "the retry on a new next-hop connection")
                check_eq(len(hop.acknowledged), 1, "exactly one copy acknowledged by the hop")
                check(any("closed the connection after the end of data" in l
                          for l in ms.read_stderr().splitlines()), "a warning was logged")
        finally:
            hop.close()


class DotDroppingProxy:
    """A TCP proxy in front of a real next hop that, at the first message's final dot, drops
    the dot and closes both connections (the next hop sees its client leave mid-DATA)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.faulted = 0
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.lsock.close()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        u = socket.create_connection(("127.0.0.1", self.target_port))
        done = threading.Event()

        def down():
            try:
                while not done.is_set():
                    d = u.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass
            done.set()
        threading.Thread(target=down, daemon=True).start()
        buf = b""
        try:
            while not done.is_set():
                d = c.recv(65536)
                if not d:
                    break
                buf = (buf + d)[-8:]
                if self.faulted == 0 and b"\r\n.\r\n" in buf:
                    self.faulted += 1
                    u.sendall(d[:d.rfind(b".\r\n")] if b".\r\n" in d else d)
                    u.close()
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    c.close()
                    return
                u.sendall(d)
        except OSError:
            pass
        finally:
            done.set()
            for s in (c, u):
                try:
                    s.close()
                except OSError:
                    pass


def test_next_hop_closes_real_postfix():
    """After-queue with a real Postfix: its re-injection smtpd loses the connection before the
    final dot, so it discards the message; mailsift answers 451, Postfix defers the message
    and, flushed, delivers exactly one copy."""
    if os.geteuid() != 0 or shutil.which("postfix") is None and \
            not os.path.exists("/usr/sbin/postfix"):
        print("  skip: needs root and Postfix")
        return
    from postfix_instance import PostfixInstance
    with PostfixInstance("after-queue") as pf:
        proxy = DotDroppingProxy(pf.ports["reinject"])
        try:
            cfg = h.base_config("127.0.0.1:%d" % proxy.port,
                                timeouts={"message_deadline": 60})
            cfg["listen"] = [{"address": "127.0.0.1:%d" % pf.ports["filter"]}]
            with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(pf.ports["public"], timeout=30) as c:
                c.greeting()
                c.cmd("EHLO client.test")
                check_reply(c.cmd("MAIL FROM:<alice@example.com>"), 250, None, "MAIL")
                check_reply(c.cmd("RCPT TO:<bob@example.net>"), 250, None, "RCPT")
                check_reply(c.cmd("DATA"), 354, None, "DATA")
                c.send(h.dot_stuff([b"From: alice@example.com", b"To: bob@example.net",
                                    b"Subject: reset at the dot", b"Message-ID: <once@x>",
                                    b"", b"exactly once"]))
                check_reply(c.read_reply(), 250, None, "the public smtpd queued it")
                line = pf.wait_log(r"status=deferred.*next hop closed the connection",
                                   timeout=30)
                check(line is not None, "Postfix deferred it with mailsift's 451 text",
                      pf.log_tail(30))
                check_eq(proxy.faulted, 1, "the fault was injected once")
                pf.flush()
                check(pf.wait_log(r"status=sent", timeout=30) is not None,
                      "the retry was delivered", pf.log_tail(30))
                time.sleep(1)
                tx = pf.sink_transactions()
                check_eq(len(tx), 1, "exactly one copy was delivered")
                # The re-injection transaction that lost its client before the final dot was
                # never queued (no cleanup/qmgr line for its queue id): no duplicate.
                log = pf.log_text()
                reinjected = re.findall(r"smtpd\[\d+\]: ([0-9A-F]+): client=.*orig_queue_id=",
                                        log)
                check_eq(len(reinjected), 2, "two re-injection transactions (faulted, retry)")
                queued = set(re.findall(r"qmgr\[\d+\]: ([0-9A-F]+): from=", log))
                check(reinjected[0] not in queued and reinjected[1] in queued,
                      "the faulted one (%s) was discarded by Postfix, the retry (%s) queued" % (
                          reinjected[0], reinjected[1]), log[-2000:])
        finally:
            proxy.close()


# ------------------------------------------------------------------------------------------
# Header size

def test_huge_header_line():
    with h.SmtpSink() as sink:
        cfg = h.base_config(sink.address, limits={"max_header_size": 102400},
                            spool={"memory_limit": 262144})
        # The checks on, as in production: before, the 20 MB line reached the scan.
        cfg.update({"spam": {"enabled": True, "prefilter": "off"}, "banned": {"enabled": True},
                    "bad_header": {"enabled": True}})
        with h.Mailsift(BIN, cfg, timeout=120) as ms, h.SmtpClient(ms.port, timeout=120) as c:
            c.greeting()
            c.cmd("EHLO client.test")
            time.sleep(0.5)
            before = generation_hwm_kb(ms.proc.pid)
            envelope(c)
            check_reply(c.cmd("DATA"), 354, None, "DATA")
            c.send(b"Subject: big\r\nX-Big: " + b"a" * (20 * 1024 * 1024) + b"\r\n\r\nbody\r\n.\r\n")
            check_reply(c.read_reply(timeout=120), 552, "5.3.4", "a 20 MB header line",
                        "header size exceeds limit")
            after = generation_hwm_kb(ms.proc.pid)
            print("  info: generation VmHWM %d kB -> %d kB (+%d kB)" % (before, after,
                                                                       after - before))
            check(after - before < 16 * 1024, "peak memory grew by less than 16 MB",
                  "grew %d kB" % (after - before))
            # At the limit passes; a folded field past it is refused; the session goes on.
            envelope(c)
            check_reply(c.cmd("DATA"), 354, None, "DATA")
            field = b"X-At: " + b"b" * (102400 - 6)
            c.send(b"Subject: at\r\n" + field + b"\r\n\r\nbody\r\n.\r\n")
            check_reply(c.read_reply(timeout=60), 250, "2.0.0", "a field of exactly 102400 bytes")
            envelope(c)
            check_reply(c.cmd("DATA"), 354, None, "DATA")
            folded = b"X-Folded: x" + b"".join(b"\r\n " + b"c" * 998 for _ in range(103))
            c.send(b"Subject: folded\r\n" + folded + b"\r\n\r\nbody\r\n.\r\n")
            check_reply(c.read_reply(timeout=60), 552, "5.3.4", "a folded field of 103 kB")
            check_reply(c.cmd("NOOP"), 250, "2.0.0", "the session goes on")
        tx = sink.wait_transactions(1)
        time.sleep(0.3)
        tx = sink.transactions()
        check_eq(len(tx), 1, "only the message at the limit was relayed")
        check(b"Subject: at" in tx[0].text, "and it is that one")


# ------------------------------------------------------------------------------------------
# BDAT

def test_bdat_empty_and_over_size():
    with h.RecordingServer() as rec:
        cfg = h.base_config(rec.address, limits={"max_message_size": 4096})
        with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            c.cmd("EHLO client.test")
            envelope(c)
            check_reply(c.cmd("BDAT 0 LAST"), 554, "5.6.0", "BDAT 0 LAST with no data",
                        "empty message")
            # An empty message after chunks of nothing is no message either.
            envelope(c)
            check_reply(c.cmd("BDAT 0"), 250, "2.0.0", "BDAT 0")
            check_reply(c.cmd("BDAT 0 LAST"), 554, "5.6.0", "BDAT 0, BDAT 0 LAST")
            # Past SIZE: 552 right after that chunk, before any LAST; the bytes are skipped.
            envelope(c)
            c.send(b"BDAT 3000\r\n" + b"Subject: s\r\n\r\n" + b"x" * (3000 - 14))
            check_reply(c.read_reply(), 250, "2.0.0", "a 3000-byte chunk")
            t0 = time.monotonic()
            c.send(b"BDAT 2000\r\n" + b"y" * 2000 + b"BDAT 5 LAST\r\nhello")
            check_reply(c.read_reply(), 552, "5.3.4", "a chunk that takes it past SIZE 4096")
            check(time.monotonic() - t0 < 2, "answered at that chunk")
            check_reply(c.read_reply(), 503, "5.5.1",
                        "the BDAT pipelined behind it (its bytes discarded)")
            check_reply(c.cmd("RSET"), 250, "2.0.0", "RSET: the session is in sync")
            envelope(c)
            c.send(b"BDAT 17 LAST\r\nSubject: ok\r\n\r\nhi")
            check_reply(c.read_reply(), 250, "2.0.0", "then a message within SIZE")
        time.sleep(0.3)
        txs = rec.wait_transactions(0, 0)
        check_eq(len(txs), 1, "only that one was relayed")
        check(txs[0].data.endswith(b"Subject: ok\r\n\r\nhi\r\n"), "and it is that one",
              repr(txs[0].data[-200:]))


# ------------------------------------------------------------------------------------------
# Slow clients

def trickle(c, data, interval):
    for i in range(len(data)):
        try:
            c.send(data[i:i + 1])
        except OSError:
            return False
        time.sleep(interval)
    return True


def read_until_closed(c, timeout):
    replies = []
    try:
        while True:
            replies.append(c.read_reply(timeout=timeout))
    except (h.ConnectionClosed, OSError):
        pass
    return replies


def test_trickled_command_line():
    with h.SmtpSink() as sink:
        cfg = h.base_config(sink.address, timeouts={"command": 6, "command_line": 1.5})
        with h.Mailsift(BIN, cfg) as ms:
            with h.SmtpClient(ms.port) as c:
                c.greeting()
                # Idle longer than command_line: the wait for a command keeps `command`.
                time.sleep(2.5)
                check_reply(c.cmd("EHLO client.test"), 250, None,
                            "a command after 2.5 s idle (command_line is 1.5 s)")
                t0 = time.monotonic()
                result = []
                t = threading.Thread(target=lambda: result.append(
                    trickle(c, b"NOOP with a long argument\r\n", 0.2)), daemon=True)
                t.start()
                replies = read_until_closed(c, 8)
                took = time.monotonic() - t0
                check(replies and replies[-1].code == 421 and enhanced(replies[-1]) == "4.4.2",
                      "a command line trickled a byte per 0.2 s -> 421 4.4.2  [%s]" % (
                          replies[-1].text if replies else None), repr(replies))
                check(1.2 < took < 3.5, "after about command_line (%.1fs)" % took)
                check(c.closed, "and the connection is closed")
            fields = status_fields(ms)
            check_eq(fields.get("slow_clients"), "1", "counted: status slow_clients=1")


def test_trickled_data():
    with h.SmtpSink() as sink:
        cfg = h.base_config(sink.address, timeouts={"data": 2},
                            limits={"min_data_rate": 500})
        with h.Mailsift(BIN, cfg) as ms:
            # A normal client with a pause longer than nothing but within what it earned.
            with h.SmtpClient(ms.port) as c:
                c.greeting()
                c.cmd("EHLO client.test")
                envelope(c)
                check_reply(c.cmd("DATA"), 354, None, "DATA")
                c.send(MSG[:20] + b"x" * 60000 + b"\r\n")
                time.sleep(1.5)
                c.send(MSG[20:])
                check_reply(c.read_reply(), 250, "2.0.0", "a normal client with a 1.5 s pause")
            # A trickler: 10 bytes every 0.25 s = 40 bytes/s, far below 500.
            with h.SmtpClient(ms.port) as c:
                c.greeting()
                c.cmd("EHLO client.test")
                envelope(c)
                check_reply(c.cmd("DATA"), 354, None, "DATA")
                t0 = time.monotonic()
                stop = threading.Event()

                def slow():
                    while not stop.is_set():
                        try:
                            c.send(b"0123456789")
                        except OSError:
                            return
                        time.sleep(0.25)
                threading.Thread(target=slow, daemon=True).start()
                replies = read_until_closed(c, 10)
                stop.set()
                took = time.monotonic() - t0
                check(replies and replies[-1].code == 421 and enhanced(replies[-1]) == "4.4.2"
                      and "too slowly" in replies[-1].text,
                      "DATA at 40 bytes/s under min_data_rate 500 -> 421 4.4.2  [%s]" % (
                          replies[-1].text if replies else None), repr(replies))
                check(1.5 < took < 4.5, "after about timeouts.data (%.1fs)" % took)
            # BDAT chunk data too.
            with h.SmtpClient(ms.port) as c:
                c.greeting()
                c.cmd("EHLO client.test")
                envelope(c)
                c.send(b"BDAT 100000 LAST\r\n")
                t = threading.Thread(target=trickle, args=(c, b"z" * 200, 0.05), daemon=True)
                t.start()
                replies = read_until_closed(c, 10)
                check(replies and replies[-1].code == 421 and "too slowly" in replies[-1].text,
                      "a BDAT chunk at 20 bytes/s -> 421 4.4.2", repr(replies))
            fields = status_fields(ms)
            check_eq(fields.get("slow_clients"), "2", "counted: status slow_clients=2")
        time.sleep(0.3)
        check_eq(len(sink.transactions()), 1, "only the normal client's message was relayed")


TESTS = [
    test_bare_cr_default_normalizes_after_queue,
    test_next_hop_closes_at_end_of_data,
    test_next_hop_closes_real_postfix,
    test_huge_header_line,
    test_bdat_empty_and_over_size,
    test_trickled_command_line,
    test_trickled_data,
]

if __name__ == "__main__":
    BIN = h.mailsift_path()
    sys.exit(h.TestRunner("hostile smtp").run(TESTS, only=h.only_args()))
