#!/usr/bin/python3
"""Fault handling and protocol edge cases: client -> mailsift -> next hop.

Usage: python3 tests/integration/test_faults.py --mailsift PATH [-k NAME]

The next hop is Postfix's smtp-sink (with reject / delay / disconnect flags) except where raw
bytes or attributes smtp-sink cannot show must be seen: there the harness's RecordingServer, a
Python test double, stands in. The client is the harness's raw-socket SmtpClient.

Covered: next hop down (tempfail, nothing acknowledged); next hop slower than message_deadline
at DATA (-w) and at the dot (-W .:8) -> 451; next hop 5xx at the dot passed back; 4xx at the dot
-> 451; next hop dropping the connection or sending 421 at the dot -> 451; next hop rejecting
RCPT (5xx and 4xx) passed back at the RCPT; client disconnecting mid-DATA -> nothing relayed;
malformed, out-of-sequence, over-long, NUL and binary commands -> 502/503/501/500 with the
enhanced codes, then the same session still delivers; SIZE= over the limit -> 552 5.3.4 at MAIL;
undeclared oversize -> 552 5.3.4 at end of data, nothing relayed; client outside
client_networks -> 554 and closed; max_sessions -> 421 4.3.2; DSN parameters and XFORWARD
attributes arrive unchanged; BDAT arrives as a normal message; LMTP one reply per recipient
(also with mixed per-recipient results); after-queue and before-queue reply texts;
max_recipients -> 452 4.5.3; command timeout -> 421; SIGTERM drains a message in progress and
sends 421 4.3.2 to idle sessions (RFC 5321 §3.8).
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import check, check_eq  # noqa: E402

BIN = None

MSG_LINES = [b"From: Alice <alice@src.test>", b"To: Bob <bob@dest.test>",
             b"Subject: fault test", b"Message-ID: <fault-test@src.test>", b"",
             b"Hello Bob,", b".a line starting with a dot", b"bye"]
MSG = h.dot_stuff(MSG_LINES)                         # what the client sends after 354
MSG_DUMP = b"".join(l + b"\n" for l in MSG_LINES)    # what smtp-sink's dump shows after relay


def enhanced(reply):
    m = re.match(r"^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b", reply.lines[-1])
    return m.group(1) if m else None


def check_reply(reply, code, enh, what):
    ok = reply is not None and reply.code == code and (enh is None or
                                                        enhanced(reply) == enh)
    got = reply.lines[-1] if reply is not None and reply.lines else None
    check(ok, "%s -> %d%s%s" % (what, code, (" " + enh) if enh else "",
                                ("  [%s]" % got[:100]) if ok and code >= 400 else ""),
          "got %r" % (reply.text if reply is not None else None))


def dead_port():
    """A loopback port where nothing listens."""
    return h.free_port()


def ehlo(c, name="client.test"):
    r = c.cmd("EHLO " + name)
    check_reply(r, 250, None, "EHLO")
    return r


def transaction(c, sender="alice@src.test", rcpts=("bob@dest.test",), data=MSG,
                mail_params="", rcpt_params=""):
    """MAIL, RCPT..., DATA, data; returns (mail, [rcpt replies], data reply or None, final)."""
    r_mail = c.cmd("MAIL FROM:<%s>%s" % (sender, " " + mail_params if mail_params else ""))
    r_rcpts = [c.cmd("RCPT TO:<%s>%s" % (r, " " + rcpt_params if rcpt_params else ""))
               for r in rcpts]
    r_data = c.cmd("DATA")
    if r_data.code != 354:
        return r_mail, r_rcpts, r_data, None
    c.send(data)
    return r_mail, r_rcpts, r_data, c.read_reply(timeout=30)


def check_delivered(sink, n, what):
    """The sink holds exactly n transactions; each is MSG with mailsift's Received header."""
    time.sleep(0.3)
    tx = sink.wait_transactions(n, timeout=10)
    check_eq(len(tx), n, what + ": the next hop received %d message(s)" % n)
    for t in tx:
        header, rest = t.split_mailsift_received()
        check(header is not None, "the relayed message starts with mailsift's Received header",
              repr(t.text[:200]))
        check_eq(rest, MSG_DUMP, "the relayed message is the one sent")
    return tx


def no_relay(sink, what, wait=1.0):
    time.sleep(wait)
    check_eq(len(sink.transactions()), 0, what + ": nothing reached the next hop")


def finish(ms, client=None):
    """Ends the client's session (QUIT), checks mailsift is alive and stops it."""
    if client is not None:
        try:
            client.cmd("QUIT", timeout=5)
        except Exception:
            pass
        client.close()
    check(ms.alive(), "mailsift is still running")
    rc = ms.stop()
    check_eq(rc, 0, "mailsift exits 0 on SIGTERM")


# ------------------------------------------------------------------------------------------

def test_next_hop_down():
    """Nothing listens at next_hop: a temporary failure, nothing acknowledged. The reference
    (amavisd after-queue) answers 451 at the end of data; a proxy that contacts the next hop
    while the client sends RCPT may answer 4xx there instead (Postfix then defers the
    recipient): both are accepted, a 5xx or a 250 at the end of data is not."""
    cfg = h.base_config("127.0.0.1:%d" % dead_port(), timeouts={"relay_connect": 3})
    with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port) as c:
        check_reply(c.greeting(), 220, None, "greeting")
        ehlo(c)
        m, rs, d, final = transaction(c)
        rcpt_tempfail = all(r.code // 100 == 4 and (enhanced(r) or "").startswith("4.")
                            for r in rs)
        if final is None and rcpt_tempfail:
            check(True, "next hop down -> 4xx 4.x.x at RCPT (%s); DATA then refused (%s)" % (
                rs[0].text, d.text))
            check(d.code // 100 == 5 or d.code // 100 == 4, "DATA is not accepted", d.text)
        else:
            check(final is not None, "mail transaction reached the end of data",
                  "MAIL %r RCPT %r DATA %r" % (m.text, [r.text for r in rs], d.text))
            check(final.code == 451 and (enhanced(final) or "").startswith("4."),
                  "next hop down -> 451 4.x.x at end of data  [%s]" % final.text, final.text)
        time.sleep(0.3)
        check_eq(ms.log_lines("Passed"), [], "no Passed log line (nothing acknowledged)")
        finish(ms, c)


def _slow_next_hop(flags, what):
    with h.SmtpSink(flags=flags) as sink:
        cfg = h.base_config(sink.address, timeouts={"message_deadline": 2})
        with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port, timeout=20) as c:
            c.greeting()
            ehlo(c)
            t0 = time.monotonic()
            m, rs, d, final = transaction(c)
            took = time.monotonic() - t0
            check(final is not None, "mail transaction reached the end of data",
                  "MAIL %r RCPT %r DATA %r" % (m.text, [r.text for r in rs], d.text))
            check(final.code == 451 and (enhanced(final) or "").startswith("4."),
                  "%s, message_deadline 2s -> 451 4.x.x  [%s]" % (what, final.text), final.text)
            check(took < 5.5, "the 451 came within the deadline (%.1fs < 5.5s; the next hop "
                  "would have needed 8s)" % took)
            time.sleep(0.3)
            check_eq(ms.log_lines("Passed"), [], "no Passed log line")
            finish(ms, c)


def test_next_hop_slow_data():
    _slow_next_hop(["-w", "8"], "next hop waits 8s before answering DATA (-w 8)")


def test_next_hop_slow_dot():
    _slow_next_hop(["-W", ".:8"], "next hop waits 8s before answering the final dot (-W .:8)")


def test_next_hop_5xx_at_dot():
    with h.SmtpSink(flags=["-f", ".", "-B", "554 5.7.1 Rejected by the next hop test"]) as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            ehlo(c)
            m, rs, d, final = transaction(c)
            check(final is not None and final.code == 554 and enhanced(final) == "5.7.1"
                  and "Rejected by the next hop test" in final.text,
                  "next hop's 554 5.7.1 at the final dot is passed back  [%s]" % (
                      final.text if final else ""),
                  final.text if final else d.text)
            time.sleep(0.3)
            check_eq(ms.log_lines("Passed"), [], "no Passed log line")
            check_reply(c.cmd("NOOP"), 250, "2.0.0", "the session goes on (NOOP)")
            finish(ms, c)


def test_next_hop_4xx_at_dot():
    with h.SmtpSink(flags=["-r", ".", "-b", "452 4.3.1 Insufficient system storage"]) as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            ehlo(c)
            m, rs, d, final = transaction(c)
            check(final is not None and final.code == 451 and
                  (enhanced(final) or "").startswith("4."),
                  "next hop's 452 at the final dot -> 451 4.x.x  [%s]" % (final.text if final else ""),
                  final.text if final else d.text)
            finish(ms, c)


def test_next_hop_disconnects_at_dot():
    for flags, what in ((["-q", "."], "next hop drops the connection at the final dot (-q .)"),
                        (["-Q", "."], "next hop answers 421 and closes at the final dot (-Q .)")):
        with h.SmtpSink(flags=flags) as sink:
            with h.Mailsift(BIN, h.base_config(sink.address)) as ms, h.SmtpClient(ms.port) as c:
                c.greeting()
                ehlo(c)
                m, rs, d, final = transaction(c)
                check(final is not None and final.code == 451 and
                      (enhanced(final) or "").startswith("4."),
                      "%s -> 451 4.x.x  [%s]" % (what, final.text if final else ""),
                      final.text if final else d.text)
                time.sleep(0.3)
                check_eq(ms.log_lines("Passed"), [], "no Passed log line")
                m, rs, d, final = transaction(c)
                check(final is not None and final.code == 451,
                      "the same session can try again (and gets 451 again)",
                      final.text if final else d.text)
                finish(ms, c)


def test_next_hop_rejects_rcpt():
    with h.SmtpSink(flags=["-f", "RCPT", "-B", "550 5.1.1 No such user here"]) as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            ehlo(c)
            check_reply(c.cmd("MAIL FROM:<alice@src.test>"), 250, None, "MAIL")
            r = c.cmd("RCPT TO:<nobody@dest.test>")
            check(r.code == 550 and enhanced(r) == "5.1.1" and "No such user here" in r.text,
                  "next hop's RCPT reply 550 5.1.1 is passed back at the RCPT", r.text)
            r = c.cmd("DATA")
            check(r.code in (503, 554) and r.code // 100 == 5,
                  "DATA without an accepted recipient -> 503/554", r.text)
            no_relay(sink, "rejected recipient", wait=0.3)
            finish(ms, c)
    with h.SmtpSink(flags=["-r", "RCPT", "-b", "450 4.2.0 Mailbox busy"]) as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            ehlo(c)
            check_reply(c.cmd("MAIL FROM:<alice@src.test>"), 250, None, "MAIL")
            r = c.cmd("RCPT TO:<busy@dest.test>")
            check(r.code == 450 and enhanced(r) == "4.2.0" and "Mailbox busy" in r.text,
                  "next hop's RCPT reply 450 4.2.0 is passed back at the RCPT", r.text)
            finish(ms, c)


def test_client_disconnects_mid_data():
    with h.SmtpSink() as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms:
            with h.SmtpClient(ms.port) as c:
                c.greeting()
                ehlo(c)
                c.cmd("MAIL FROM:<alice@src.test>")
                c.cmd("RCPT TO:<bob@dest.test>")
                check_reply(c.cmd("DATA"), 354, None, "DATA")
                c.send(MSG[:len(MSG) // 2])
                time.sleep(0.2)
            no_relay(sink, "client closed the connection mid-DATA")
            check_eq(ms.log_lines("Passed"), [], "no Passed log line")
            with h.SmtpClient(ms.port) as c:
                c.greeting()
                ehlo(c)
                m, rs, d, final = transaction(c)
                check_reply(final, 250, "2.0.0", "a following session still delivers")
            check_delivered(sink, 1, "after the aborted session")
            finish(ms)


def test_malformed_commands():
    with h.SmtpSink() as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            ehlo(c)
            steps = [
                (b"FOOBAR", 502, "5.5.1", "unknown verb"),
                (b"XYZZY plugh", 502, "5.5.1", "unknown verb with argument"),
                (b"RCPT TO:<bob@dest.test>", 503, "5.5.1", "RCPT before MAIL"),
                (b"DATA", 503, "5.5.1", "DATA before MAIL"),
                (b"MAIL", 501, "5.5.4", "MAIL without FROM:"),
                (b"MAIL FRM:<alice@src.test>", 501, "5.5.4", "MAIL FRM:"),
                (b"MAIL FROM:<alice@src.test>", 250, None, "a good MAIL"),
                (b"MAIL FROM:<alice@src.test>", 503, "5.5.1", "nested MAIL"),
                (b"DATA", 503, "5.5.1", "DATA before RCPT"),
                (b"RCPT", 501, "5.5.4", "RCPT without TO:"),
                (b"RCPT TO bob@dest.test", 501, "5.5.4", "RCPT without colon"),
                (b"RSET", 250, None, "RSET"),
                (b"NOOP " + b"x" * 5000, 500, "5.5.2", "a 5,005-byte command line"),
                (b"NO\x00OP", 500, "5.5.2", "NUL byte in a command"),
                (b"MAIL FROM:<alice\x00@src.test>", 500, "5.5.2", "NUL byte in MAIL"),
            ]
            for line, code, enh, what in steps:
                check_reply(c.cmd(line), code, enh, what)
            # Binary junk: some 5xx with a 5.5.x enhanced code, one reply per line.
            for junk in (b"\xff\xfe\x80\x81junk\x01\x02\x03", b"\x1b[31m\x7f\x00\xc3\x28",
                         b"\x80" * 300):
                r = c.cmd(junk)
                check(r.code in (500, 501, 502) and (enhanced(r) or "").startswith("5.5."),
                      "binary junk %r -> 500/501/502 5.5.x" % junk[:12], r.text)
            # Several bad lines in one write: one reply each, in order.
            c.send(b"BOGUS1\r\nBOGUS2\r\nNOOP\r\n")
            rs = [c.read_reply() for _ in range(3)]
            check_eq([r.code for r in rs], [502, 502, 250],
                     "three pipelined lines -> three replies in order")
            r = c.cmd(b"NOOP")
            check_reply(r, 250, "2.0.0", "no stray reply left (NOOP)")
            check(c.buf == b"", "nothing unread after the replies", repr(c.buf))
            m, rs, d, final = transaction(c)
            check_reply(final, 250, "2.0.0", "afterwards the same session delivers a message")
            check_delivered(sink, 1, "after the malformed commands")
            check_reply(c.cmd("QUIT"), 221, None, "QUIT")
            finish(ms, c)


def test_size_declared_too_big():
    with h.SmtpSink() as sink:
        cfg = h.base_config(sink.address, limits={"max_message_size": 10000})
        with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            r = ehlo(c)
            check(any(re.match(r"^250[ -]SIZE 10000$", l) for l in r.lines),
                  "EHLO announces SIZE 10000", r.text)
            check_reply(c.cmd("MAIL FROM:<alice@src.test> SIZE=20000"), 552, "5.3.4",
                        "MAIL with SIZE=20000 over the 10000 limit")
            m, rs, d, final = transaction(c, mail_params="SIZE=%d" % len(MSG))
            check_reply(final, 250, "2.0.0", "a message within SIZE= is still accepted")
            check_delivered(sink, 1, "SIZE=")
            finish(ms, c)


def test_undeclared_oversize():
    with h.SmtpSink() as sink:
        cfg = h.base_config(sink.address, limits={"max_message_size": 10000})
        with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            ehlo(c)
            big = h.dot_stuff(MSG_LINES[:5] + [b"x" * 76] * 300)
            m, rs, d, final = transaction(c, data=big)
            check_reply(final, 552, "5.3.4", "a %d-byte message without SIZE= over the 10000 "
                        "limit, at end of data" % len(big))
            no_relay(sink, "oversize message")
            check_eq(ms.log_lines("Passed"), [], "no Passed log line")
            m, rs, d, final = transaction(c)
            check_reply(final, 250, "2.0.0", "the session then still delivers a small message")
            check_delivered(sink, 1, "after the oversize message")
            finish(ms, c)


def generation_rss_kb(supervisor_pid, key="VmHWM"):
    """The memory figure of the supervisor's (first) generation child."""
    kids = open(f"/proc/{supervisor_pid}/task/{supervisor_pid}/children").read().split()
    for line in open(f"/proc/{kids[0]}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def test_large_message_spools_with_bounded_memory():
    """A 24 MB message: the first spool.memory_limit bytes stay in memory, the rest goes to an
    unnamed temp file; the generation's peak memory grows far less than the message, the spool
    directory stays empty, and the message arrives whole."""
    with h.SmtpSink() as sink:
        cfg = h.base_config(sink.address, spool={"memory_limit": 65536})
        with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port, timeout=120) as c:
            c.greeting()
            ehlo(c)
            before = generation_rss_kb(ms.proc.pid)
            line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"   # 74 bytes
            body = b"Subject: large\r\n\r\n" + line * (24 * 1024 * 1024 // len(line))
            m, rs, d, final = transaction(c, data=body + b".\r\n")
            check_reply(final, 250, "2.0.0", "a %d-byte message" % len(body))
            after = generation_rss_kb(ms.proc.pid)
            growth = after - before
            print("  info: generation VmHWM %d kB -> %d kB (+%d kB) for %d kB of message" % (
                before, after, growth, len(body) // 1024))
            check(growth < 8 * 1024, "peak memory grew by less than 8 MB for a 24 MB message",
                  "grew %d kB" % growth)
            check_eq(os.listdir(cfg["spool"]["directory"] if "directory" in cfg["spool"]
                                else ms.config["spool"]["directory"]), [],
                     "the spool directory holds no named file")
            tx = sink.wait_transactions(1, timeout=60)
            check_eq(len(tx), 1, "one transaction at the sink")
            _, rest = tx[0].split_mailsift_received()
            expected = body.replace(b"\r\n", b"\n")
            check(rest == expected, "the message arrived whole",
                  "got %d bytes, expected %d" % (len(rest), len(expected)))
            finish(ms, c)


def test_client_not_in_client_networks():
    with h.SmtpSink() as sink:
        cfg = h.base_config(sink.address, access={"client_networks": ["10.0.0.0/8"]})
        with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port) as c:
            r = c.read_reply()
            check(r.code == 554, "a client outside client_networks gets 554", r.text)
            check(c.wait_closed(5), "and the connection is closed")
            no_relay(sink, "refused client", wait=0.2)
            finish(ms, c)


def test_max_sessions():
    with h.SmtpSink() as sink:
        cfg = h.base_config(sink.address, limits={"max_sessions": 2})
        with h.Mailsift(BIN, cfg) as ms:
            c1, c2 = h.SmtpClient(ms.port), h.SmtpClient(ms.port)
            try:
                check_reply(c1.greeting(), 220, None, "session 1 greeting")
                check_reply(c2.greeting(), 220, None, "session 2 greeting")
                with h.SmtpClient(ms.port) as c3:
                    check_reply(c3.read_reply(), 421, "4.3.2", "session 3 of max 2")
                    check(c3.wait_closed(5), "session 3 is closed")
                c1.cmd("QUIT")
                c1.wait_closed(5)
            finally:
                c1.close()
            time.sleep(0.3)
            with h.SmtpClient(ms.port) as c4:
                check_reply(c4.greeting(), 220, None, "after one session ends, a new one is "
                            "served")
                ehlo(c4)
                m, rs, d, final = transaction(c4)
                check_reply(final, 250, "2.0.0", "and delivers")
            c2.close()
            check_delivered(sink, 1, "max_sessions")
            finish(ms)


def test_dsn_parameters_pass_through():
    with h.SmtpSink() as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            r = ehlo(c)
            check(any(re.match(r"^250[ -]DSN$", l) for l in r.lines), "EHLO announces DSN",
                  r.text)
            check_reply(c.cmd("MAIL FROM:<alice@src.test> RET=HDRS ENVID=QQ314159+2Bx"), 250,
                        None, "MAIL with RET and ENVID")
            check_reply(c.cmd("RCPT TO:<bob@dest.test> NOTIFY=SUCCESS,FAILURE "
                              "ORCPT=rfc822;bob+2Borig@dest.test"), 250, None,
                        "RCPT with NOTIFY and ORCPT")
            check_reply(c.cmd("RCPT TO:<carol@dest.test> NOTIFY=NEVER"), 250, None,
                        "RCPT with NOTIFY=NEVER")
            check_reply(c.cmd("RCPT TO:<dave@dest.test> NOTIFY=DELAY ORCPT=rfc822;dave@dest.test"),
                        250, None, "RCPT with NOTIFY=DELAY and ORCPT")
            check_reply(c.cmd("DATA"), 354, None, "DATA")
            c.send(MSG)
            check_reply(c.read_reply(), 250, "2.0.0", "end of data")
            tx = check_delivered(sink, 1, "DSN")
            t = tx[0]
            mail = t.mail_args.split()
            check_eq(mail[0], "<alice@src.test>", "sender unchanged")
            check("RET=HDRS" in mail[1:], "RET=HDRS arrives unchanged", t.mail_args)
            check("ENVID=QQ314159+2Bx" in mail[1:], "ENVID=QQ314159+2Bx arrives unchanged",
                  t.mail_args)
            got = [(a.split()[0], sorted(a.split()[1:])) for a in t.rcpt_args]
            exp = [("<bob@dest.test>", sorted(["NOTIFY=SUCCESS,FAILURE",
                                               "ORCPT=rfc822;bob+2Borig@dest.test"])),
                   ("<carol@dest.test>", ["NOTIFY=NEVER"]),
                   ("<dave@dest.test>", sorted(["NOTIFY=DELAY", "ORCPT=rfc822;dave@dest.test"]))]
            check_eq(got, exp, "recipients with NOTIFY and ORCPT arrive unchanged, in order")
            finish(ms, c)


def _xforward_attrs_for(sessions, sender):
    """From smtp-sink -v command logs: the XFORWARD attributes sent before the MAIL FROM of
    sender (within the same transaction)."""
    for cmds in sessions:
        pending = []
        for cmd in cmds:
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "XFORWARD":
                pending.append(cmd)
            elif verb == "MAIL":
                if "<%s>" % sender in cmd:
                    return h.parse_xforward(pending), pending
                pending = []
            elif verb in (".", "RSET"):
                pending = []
    return None, None


def test_xforward_pass_through():
    attrs = {"NAME": "client.example.com", "ADDR": "192.0.2.7", "PROTO": "ESMTP",
             "HELO": "helo.example.com"}
    with h.SmtpSink(verbose=True) as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            r = ehlo(c)
            check(any(l[4:].upper().startswith("XFORWARD") for l in r.lines),
                  "EHLO announces XFORWARD", r.text)
            check_reply(c.cmd("XFORWARD NAME=client.example.com ADDR=192.0.2.7"), 250, None,
                        "XFORWARD NAME ADDR")
            check_reply(c.cmd("XFORWARD PROTO=ESMTP HELO=helo.example.com"), 250, None,
                        "XFORWARD PROTO HELO")
            m, rs, d, final = transaction(c, sender="xf@src.test")
            check_reply(final, 250, "2.0.0", "message after XFORWARD")
            check_delivered(sink, 1, "XFORWARD")
            got, lines = _xforward_attrs_for(sink.commands(), "xf@src.test")
            check(got is not None, "smtp-sink saw the relayed MAIL FROM",
                  repr(sink.commands()))
            check_eq(got, attrs, "XFORWARD attributes smtp-sink announces (NAME ADDR PROTO "
                     "HELO) arrive unchanged (sent as %r)" % lines)
            finish(ms, c)
    # All seven attributes, to a next hop announcing all of them (test double).
    full = {"NAME": "client.example.com", "ADDR": "192.0.2.7", "PORT": "4567",
            "PROTO": "ESMTP", "HELO": "helo.example.com", "IDENT": "4XyzAB1234",
            "SOURCE": "REMOTE"}
    with h.RecordingServer() as rec:
        with h.Mailsift(BIN, h.base_config(rec.address)) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            ehlo(c)
            check_reply(c.cmd("XFORWARD NAME=client.example.com ADDR=192.0.2.7 PORT=4567"),
                        250, None, "XFORWARD NAME ADDR PORT")
            check_reply(c.cmd("XFORWARD PROTO=ESMTP HELO=helo.example.com IDENT=4XyzAB1234 "
                              "SOURCE=REMOTE"), 250, None, "XFORWARD PROTO HELO IDENT SOURCE")
            m, rs, d, final = transaction(c, sender="xf7@src.test")
            check_reply(final, 250, "2.0.0", "message after XFORWARD")
            txs = rec.wait_transactions(1)
            check_eq(len(txs), 1, "the recording next hop got one message")
            check_eq(h.parse_xforward(txs[0].xforward), full,
                     "all seven XFORWARD attributes arrive unchanged at a next hop that "
                     "announces them")
            finish(ms, c)


def test_bdat_chunking():
    with h.SmtpSink() as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            r = ehlo(c)
            check(any(re.match(r"^250[ -]CHUNKING$", l) for l in r.lines),
                  "EHLO announces CHUNKING", r.text)
            content = b"".join(l + b"\r\n" for l in MSG_LINES)   # BDAT: no dot-stuffing
            a, b = content[:37], content[37:]
            check_reply(c.cmd("MAIL FROM:<alice@src.test>"), 250, None, "MAIL")
            check_reply(c.cmd("RCPT TO:<bob@dest.test>"), 250, None, "RCPT")
            c.send(b"BDAT %d\r\n" % len(a) + a)
            check_reply(c.read_reply(), 250, None, "BDAT %d (first chunk)" % len(a))
            c.send(b"BDAT %d LAST\r\n" % len(b) + b)
            check_reply(c.read_reply(timeout=30), 250, "2.0.0",
                        "BDAT %d LAST (relayed)" % len(b))
            check_delivered(sink, 1, "BDAT")
            check_reply(c.cmd("NOOP"), 250, None, "the session goes on")
            finish(ms, c)


def test_lmtp_one_reply_per_recipient():
    with h.SmtpSink(lmtp=True) as sink:
        cfg = h.base_config(sink.address, protocol="lmtp", relay_protocol="lmtp")
        with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port) as c:
            check_reply(c.greeting(), 220, None, "LMTP greeting")
            check_reply(c.cmd("LHLO client.test"), 250, None, "LHLO")
            rcpts = ["r1@dest.test", "r2@dest.test", "r3@dest.test"]
            check_reply(c.cmd("MAIL FROM:<alice@src.test>"), 250, None, "MAIL")
            for r in rcpts:
                check_reply(c.cmd("RCPT TO:<%s>" % r), 250, None, "RCPT " + r)
            check_reply(c.cmd("DATA"), 354, None, "DATA")
            c.send(MSG)
            replies = [c.read_reply(timeout=30) for _ in rcpts]
            check_eq([r.code for r in replies], [250, 250, 250],
                     "three recipients -> three 250 replies after the final dot")
            check_reply(c.cmd("NOOP"), 250, None, "no fourth reply (the next one is NOOP's)")
            tx = check_delivered(sink, 1, "LMTP")
            check_eq(tx[0].rcpt_to, rcpts, "the next hop got the three recipients")
            check_eq(tx[0].client_proto, "LMTP", "relayed over LMTP")
            finish(ms, c)
    with h.SmtpSink(lmtp=True, flags=["-f", ".", "-B", "550 5.2.2 Mailbox full"]) as sink:
        cfg = h.base_config(sink.address, protocol="lmtp", relay_protocol="lmtp")
        with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            c.cmd("LHLO client.test")
            c.cmd("MAIL FROM:<alice@src.test>")
            c.cmd("RCPT TO:<r1@dest.test>")
            c.cmd("RCPT TO:<r2@dest.test>")
            check_reply(c.cmd("DATA"), 354, None, "DATA")
            c.send(MSG)
            replies = [c.read_reply(timeout=30) for _ in range(2)]
            check(all(r.code == 550 and enhanced(r) == "5.2.2" for r in replies),
                  "next hop's per-recipient 550 5.2.2 -> two 550 5.2.2 replies",
                  repr([r.text for r in replies]))
            check_reply(c.cmd("NOOP"), 250, None, "no third reply")
            finish(ms, c)
    # Mixed per-recipient results from an LMTP next hop (the recording test double).
    replies = {"r2@dest.test": b"550 5.2.2 Mailbox full", "r3@dest.test": b"452 4.2.2 Over quota"}
    with h.RecordingServer(lmtp=True, rcpt_data_replies=replies) as rec:
        cfg = h.base_config(rec.address, protocol="lmtp", relay_protocol="lmtp")
        with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            c.cmd("LHLO client.test")
            c.cmd("MAIL FROM:<alice@src.test>")
            for r in ("r1@dest.test", "r2@dest.test", "r3@dest.test"):
                check_reply(c.cmd("RCPT TO:<%s>" % r), 250, None, "RCPT " + r)
            check_reply(c.cmd("DATA"), 354, None, "DATA")
            c.send(MSG)
            rs = [c.read_reply(timeout=30) for _ in range(3)]
            texts = [r.text for r in rs]
            check(rs[0].code == 250, "r1: next hop 250 -> 250  [%s]" % texts[0], texts[0])
            check(rs[1].code == 550 and enhanced(rs[1]) == "5.2.2",
                  "r2: next hop 550 5.2.2 -> 550 5.2.2  [%s]" % texts[1], texts[1])
            check(rs[2].code // 100 == 4 and (enhanced(rs[2]) or "").startswith("4."),
                  "r3: next hop 452 4.2.2 -> 4xx 4.x.x  [%s]" % texts[2], texts[2])
            check_reply(c.cmd("NOOP"), 250, None, "no fourth reply")
            finish(ms, c)


def test_reply_texts_after_and_before_queue():
    with h.SmtpSink() as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            ehlo(c)
            m, rs, d, final = transaction(c)
            want = "from MTA(smtp:[127.0.0.1]:%d): 250 2.0.0 Ok" % sink.port
            check(final.code == 250 and enhanced(final) == "2.0.0" and want in final.text,
                  "after-queue: end-of-data reply carries the next hop's  [%s]" % final.text,
                  final.text)
            finish(ms, c)
        check_delivered(sink, 1, "after-queue")
    with h.SmtpSink(reject=["."], reject_reply="554 5.7.9 Word for word test") as sink:
        with h.Mailsift(BIN, h.base_config(sink.address, relay={
                "next_hop": sink.address, "protocol": "smtp", "mode": "before-queue"})) as ms, \
                h.SmtpClient(ms.port) as c:
            c.greeting()
            ehlo(c)
            m, rs, d, final = transaction(c)
            check_eq(final.text if final else None, "554 5.7.9 Word for word test",
                     "before-queue: the next hop's 5xx end-of-data reply word for word")
            finish(ms, c)
    with h.SmtpSink() as sink:
        with h.Mailsift(BIN, h.base_config(sink.address, relay={
                "next_hop": sink.address, "protocol": "smtp", "mode": "before-queue"})) as ms, \
                h.SmtpClient(ms.port) as c:
            c.greeting()
            ehlo(c)
            m, rs, d, final = transaction(c)
            check_eq(final.text if final else None, "250 2.0.0 Ok",
                     "before-queue: the next hop's 250 end-of-data reply word for word")
            finish(ms, c)
        check_delivered(sink, 1, "before-queue")


def test_max_recipients():
    with h.SmtpSink() as sink:
        cfg = h.base_config(sink.address, limits={"max_recipients": 3})
        with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            ehlo(c)
            check_reply(c.cmd("MAIL FROM:<alice@src.test>"), 250, None, "MAIL")
            for i in range(3):
                check_reply(c.cmd("RCPT TO:<r%d@dest.test>" % i), 250, None, "RCPT %d" % i)
            check_reply(c.cmd("RCPT TO:<r3@dest.test>"), 452, "4.5.3",
                        "RCPT 4 with max_recipients = 3")
            check_reply(c.cmd("DATA"), 354, None, "DATA")
            c.send(MSG)
            check_reply(c.read_reply(timeout=30), 250, "2.0.0", "end of data")
            tx = check_delivered(sink, 1, "max_recipients")
            check_eq(tx[0].rcpt_to, ["r0@dest.test", "r1@dest.test", "r2@dest.test"],
                     "the three accepted recipients were relayed")
            finish(ms, c)


def test_command_timeout():
    with h.SmtpSink() as sink:
        cfg = h.base_config(sink.address, timeouts={"command": 2})
        with h.Mailsift(BIN, cfg) as ms, h.SmtpClient(ms.port) as c:
            c.greeting()
            ehlo(c)
            t0 = time.monotonic()
            r = c.read_reply(timeout=8)
            took = time.monotonic() - t0
            check(r.code == 421 and (enhanced(r) or "").startswith("4."),
                  "an idle client gets 421 4.x.x after the 2s command timeout  [%s]" % r.text,
                  r.text)
            check(1.5 < took < 5, "after about 2s (%.1fs)" % took)
            check(c.wait_closed(5), "and the connection is closed")
            finish(ms)


def test_sigterm_drains_sessions():
    """SIGTERM: a message in progress may still complete (drain); an idle session is told
    421 4.3.2 (reference: amavisd's "421 4.3.2 Service shutting down") before it is closed;
    mailsift then exits 0."""
    with h.SmtpSink() as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms:
            busy, idle = h.SmtpClient(ms.port, timeout=20), h.SmtpClient(ms.port, timeout=20)
            try:
                busy.greeting()
                ehlo(busy)
                idle.greeting()
                ehlo(idle)
                busy.cmd("MAIL FROM:<alice@src.test>")
                busy.cmd("RCPT TO:<bob@dest.test>")
                check_reply(busy.cmd("DATA"), 354, None, "DATA")
                busy.send(MSG[:40])
                time.sleep(0.2)
                t0 = time.monotonic()
                ms.proc.send_signal(15)
                time.sleep(0.5)
                busy.send(MSG[40:])
                final = busy.read_reply()
                check(final.code == 250,
                      "a message in progress at SIGTERM completes with 250", final.text)
                r = None
                try:
                    r = idle.read_reply(timeout=20)
                except (h.ConnectionClosed, OSError):
                    pass
                check(r is not None and r.code == 421 and enhanced(r) == "4.3.2",
                      "the idle session gets 421 4.3.2 before it is closed%s" % (
                          "  [%s]" % r.text if r else ""),
                      "got %s after %.1fs" % (r.text if r else "the connection closed with "
                                               "no reply", time.monotonic() - t0))
            finally:
                busy.close()
                idle.close()
            rc = ms.stop()
            check_eq(rc, 0, "mailsift exits 0")
        check_delivered(sink, 1, "drain")


TESTS = [
    test_large_message_spools_with_bounded_memory,
    test_next_hop_down,
    test_next_hop_slow_data,
    test_next_hop_slow_dot,
    test_next_hop_5xx_at_dot,
    test_next_hop_4xx_at_dot,
    test_next_hop_disconnects_at_dot,
    test_next_hop_rejects_rcpt,
    test_client_disconnects_mid_data,
    test_malformed_commands,
    test_size_declared_too_big,
    test_undeclared_oversize,
    test_client_not_in_client_networks,
    test_max_sessions,
    test_dsn_parameters_pass_through,
    test_xforward_pass_through,
    test_bdat_chunking,
    test_lmtp_one_reply_per_recipient,
    test_reply_texts_after_and_before_queue,
    test_max_recipients,
    test_command_timeout,
    test_sigterm_drains_sessions,
]

if __name__ == "__main__":
    BIN = h.mailsift_path()
    sys.exit(h.TestRunner("faults").run(TESTS, only=h.only_args()))
