#!/usr/bin/python3
"""`mailsift upgrade` in every way the supervisor runs, and the config paths of every verb.

Usage: python3 tests/integration/test_upgrade.py --mailsift PATH [-k NAME]

- test_upgrade_in_every_mode: for `foreground`, `start` (daemonized, pid file), systemd's
  Type=notify (NOTIFY_SOCKET) and Type=notify with a socket unit (systemd-socket-activate),
  each with an absolute and a relative --config: `mailsift upgrade` exits 0 within 10 s; the
  supervisor keeps its pid (the pid file and systemd's MAINPID say the same); the generation
  that served before still serves (adopted, not restarted) and `status` lists only it; no
  second supervisor appears; `status` names the absolute config and its digest (never the
  built-in defaults'); mail flows before and after, and a reload after the upgrade works.
- test_upgrade_refused: the supervisor runs from a copy of the program; the copy is replaced
  by a missing file, a program that crashes at start, one that exits with an error, one that
  is not executable, and one that answers but is not a mailsift: each `upgrade` exits 1 with
  the reason, and the supervisor (same pid) and its generation keep serving. Then the real
  program again: exit 0.
- test_upgrade_adopts_exited_generation: a generation that exits while the supervisor is
  being replaced (SIGSTOPped and killed around the upgrade) is never reported as serving; a
  new one takes over.
- test_config_paths: an explicit --config that cannot be read is an error (78, naming the
  file) for start, foreground, check-config, reload, status, stop and upgrade; relative paths
  inside the config are refused naming the key.

Prints every check; ends with "N passed, N failed".
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

UPGRADE_BOUND = 10.0


def control(ms, verb, timeout=40):
    """Runs `mailsift VERB` as the user would for this instance; (exit code, output, seconds)."""
    config = "mailsift.toml" if ms.relative_config else ms.config_path
    t = time.monotonic()
    try:
        p = subprocess.run([h.mailsift_path(), verb, "--config", config], cwd=ms.dir,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout + p.stderr, time.monotonic() - t
    except subprocess.TimeoutExpired:
        return "timeout", "(no exit within %d s)" % timeout, time.monotonic() - t


def generations(ms):
    """[(number, pid, state)] from `mailsift status`, and the status text."""
    rc, out, _ = control(ms, "status")
    gens = []
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("generation ") and len(parts) > 4:
            gens.append((int(parts[1]), int(parts[3]), parts[4]))
    return gens, out


def deliver(port, tag):
    with h.SmtpClient(port) as c:
        c.greeting()
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<b@example.net>")
        c.cmd("DATA")
        c.send(b"Subject: " + tag.encode() + b"\r\n\r\nbody\r\n.\r\n")
        reply = c.read_reply()
        c.cmd("QUIT")
        return reply.code


def mailsift_processes(binary):
    """Pids of processes running `binary` (by /proc/PID/exe)."""
    real = os.path.realpath(binary)
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % entry)
        except OSError:
            continue
        if exe.replace(" (deleted)", "") == real and h.pid_alive(int(entry)):
            pids.append(int(entry))
    return pids


def parent_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    return int(data[data.rindex(")") + 2:].split()[1])


def serving_one(ms, what):
    gens, out = generations(ms)
    serving = [g for g in gens if g[2] == "serving"]
    h.check(len(gens) == 1 and len(serving) == 1, "%s: `status` lists one generation, serving"
            % what, out)
    return serving[0][1] if serving else None


def test_upgrade_in_every_mode():
    with h.SmtpSink() as sink:
        for mode in h.Mailsift.MODES:
            for relative in (False, True):
                what = "%s, %s --config" % (mode, "relative" if relative else "absolute")
                cfg = h.base_config(sink.address)
                with h.Mailsift(h.mailsift_path(), cfg, mode=mode,
                                relative_config=relative) as ms:
                    sup = ms.supervisor_pid
                    h.check_eq(deliver(ms.port, "before"), 250, what + ": mail flows")
                    before = serving_one(ms, what + ", before")
                    others_before = set(mailsift_processes(ms.binary))
                    rc, out, secs = control(ms, "upgrade")
                    h.check(rc == 0 and secs < UPGRADE_BOUND, "%s: upgrade exits 0 within %.0f s "
                            "(exit %s in %.2f s)" % (what, UPGRADE_BOUND, rc, secs), out)
                    h.check("upgraded in place" in out and str(sup) in out,
                            "%s: it says the supervisor pid %d upgraded in place" % (what, sup),
                            out)
                    h.check(ms.alive() and ms.supervisor_pid == sup,
                            "%s: the supervisor is the same process" % what)
                    h.check_eq(ms.pid_file_pid(), sup, what + ": the pid file names it still")
                    after = serving_one(ms, what + ", after")
                    h.check_eq(after, before, what + ": the generation that served before the "
                               "upgrade was adopted and still serves")
                    if after:
                        h.check_eq(parent_of(after), sup,
                                   what + ": and it is the supervisor's child")
                    # No second supervisor: every mailsift process is the supervisor, its
                    # generation, or was there before.
                    strays = [p for p in mailsift_processes(ms.binary)
                              if p not in others_before and p not in (sup, after)]
                    h.check(not strays, what + ": no other supervisor appeared", repr(strays))
                    _, status_text = generations(ms)
                    h.check("config " + ms.config_path + " (" in status_text,
                            what + ": status names the absolute config path", status_text)
                    h.check("cbf29ce484222325" not in status_text,
                            what + ": and not the digest of an empty config", status_text)
                    h.check_eq(deliver(ms.port, "after"), 250, what + ": mail flows after it")
                    if mode in ("notify", "socket"):
                        h.wait_until(lambda: any("upgraded" in n for n in ms.notify_messages()),
                                     5, what="notify after upgrade")
                        notes = [n for n in ms.notify_messages() if "MAINPID=" in n]
                        h.check(len(notes) >= 2 and all(("MAINPID=%d" % sup) in n for n in notes)
                                and "READY=1" in notes[-1],
                                what + ": systemd is told READY=1 with MAINPID=%d again" % sup,
                                repr(notes))
                    rc, out, _ = control(ms, "reload")
                    h.check_eq(rc, 0, what + ": a reload after the upgrade works (" +
                               out.strip()[:200] + ")")
                    h.check_eq(deliver(ms.port, "reloaded"), 250, what + ": mail flows")
                    h.check_eq(ms.stop(), 0, what + ": stops cleanly")
        h.wait_until(lambda: len(sink.transactions()) >= 24, 10, what="sink")
        h.check_eq(len(sink.transactions()), 24, "every message arrived once (3 per run)")


def test_upgrade_refused():
    work = tempfile.mkdtemp(prefix="mailsift-upgrade-")
    copy = os.path.join(work, "mailsift")
    real = os.path.realpath(h.mailsift_path())
    shutil.copy2(real, copy)
    try:
        with h.SmtpSink() as sink:
            for mode in ("foreground", "start"):
                shutil.copy2(real, copy + ".new")
                os.replace(copy + ".new", copy)
                with h.Mailsift(copy, h.base_config(sink.address), mode=mode) as ms:
                    sup = ms.supervisor_pid
                    gen = serving_one(ms, mode)
                    cases = [
                        ("is missing", None, r"cannot execute|No such file"),
                        ("crashes at start", "#!/bin/sh\nkill -SEGV $$\n", r"signal"),
                        ("exits with an error", "#!/bin/sh\necho 'broken build' >&2\nexit 3\n",
                         r"status 3: broken build"),
                        ("is not executable", "", r"cannot execute|Permission denied"),
                        ("is not a mailsift", "#!/bin/sh\necho hello\n", r"not a program"),
                    ]
                    for name, script, reason in cases:
                        if os.path.exists(copy):
                            os.unlink(copy)
                        if script is not None:
                            with open(copy, "w") as f:
                                f.write(script)
                            os.chmod(copy, 0o755 if name != "is not executable" else 0o644)
                        rc, out, secs = control(ms, "upgrade")
                        what = "%s: an upgrade to a program that %s" % (mode, name)
                        h.check(rc == 1 and secs < UPGRADE_BOUND,
                                "%s exits 1 within %.0f s (exit %s in %.2f s)"
                                % (what, UPGRADE_BOUND, rc, secs), out)
                        h.check(re.search(reason, out) is not None and "keeps running" in out,
                                what + ": says why, and that the supervisor keeps running",
                                out)
                        h.check(ms.alive() and ms.pid_file_pid() == sup,
                                what + ": the supervisor pid %d runs on" % sup)
                        h.check_eq(serving_one(ms, what), gen, what + ": its generation serves")
                        h.check_eq(deliver(ms.port, name), 250, what + ": mail flows")
                    shutil.copy2(real, copy + ".new")
                    os.replace(copy + ".new", copy)
                    rc, out, _ = control(ms, "upgrade")
                    h.check_eq(rc, 0, mode + ": then the real program upgrades (" +
                               out.strip()[:200] + ")")
                    h.check_eq(ms.pid_file_pid(), sup, mode + ": same pid")
                    h.check_eq(deliver(ms.port, "upgraded"), 250, mode + ": mail flows")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_upgrade_adopts_exited_generation():
    with h.SmtpSink() as sink:
        with h.Mailsift(h.mailsift_path(), h.base_config(sink.address), mode="start") as ms:
            sup = ms.supervisor_pid
            gen = serving_one(ms, "start")
            # While the supervisor is frozen its generation dies and an upgrade is asked by
            # SIGUSR2: on SIGCONT it reads SIGUSR2 (12) before SIGCHLD (17) and execs with the
            # dead generation unreaped and its SIGCHLD pending.
            offset = len(ms.read_stderr())
            os.kill(sup, signal.SIGSTOP)
            os.kill(gen, signal.SIGKILL)
            h.wait_until(lambda: not h.pid_alive(gen), 5, what="generation death")
            os.kill(sup, signal.SIGUSR2)
            os.kill(sup, signal.SIGCONT)
            h.wait_until(lambda: "upgraded in place" in ms.read_stderr()[offset:], 10,
                         what="'upgraded in place' in the log")
            deadline = time.monotonic() + 10
            listed_dead = []
            while time.monotonic() < deadline:
                gens, text = generations(ms)
                listed_dead += [g for g in gens if g[1] == gen]
                if any(g[2] == "serving" and g[1] != gen for g in gens):
                    break
                time.sleep(0.05)
            h.check(not listed_dead, "the dead generation (pid %d) is never listed by `status`"
                    % gen, repr(listed_dead))
            h.check(any(g[2] == "serving" and g[1] != gen for g in gens),
                    "a replacement generation serves", text)
            h.check_eq(ms.pid_file_pid(), sup, "the supervisor kept its pid")
            log = ms.read_stderr()[offset:]
            h.check("crashed" in log, "the log says the generation crashed", log[-1500:])
            h.check_eq(deliver(ms.port, "replacement"), 250, "mail flows")


def test_config_paths():
    work = tempfile.mkdtemp(prefix="mailsift-paths-")
    try:
        binary = h.mailsift_path()
        for verb in ("start", "foreground", "check-config", "reload", "status", "stop",
                     "upgrade"):
            p = subprocess.run([binary, verb, "--config", "no-such.toml"], cwd=work,
                               capture_output=True, text=True, timeout=30)
            h.check(p.returncode == 78 and "no-such.toml" in p.stderr and
                    "cannot read" in p.stderr,
                    "`%s --config no-such.toml` exits 78 naming the file (exit %s)"
                    % (verb, p.returncode), p.stderr[-400:])
        for key, section, value in (("pid_file", "control", "run/mailsift.pid"),
                                    ("directory", "spool", "spool"),
                                    ("site_dir", "spam", "etc/spamassassin"),
                                    ("file", "log", "mailsift.log")):
            config = os.path.join(work, "relative.toml")
            with open(config, "w") as f:
                f.write('[%s]\n%s = "%s"\n' % (section, key, value))
            p = subprocess.run([binary, "check-config", "--config", config],
                               capture_output=True, text=True, timeout=30)
            h.check(p.returncode == 78 and ("%s.%s" % (section, key)) in p.stderr and
                    "absolute" in p.stderr,
                    "a relative %s.%s is refused naming the key" % (section, key),
                    p.stderr[-400:])
    finally:
        shutil.rmtree(work, ignore_errors=True)


TESTS = [test_config_paths, test_upgrade_in_every_mode, test_upgrade_refused,
         test_upgrade_adopts_exited_generation]

if __name__ == "__main__":
    sys.exit(h.TestRunner("upgrade").run(TESTS, only=h.only_args()))
