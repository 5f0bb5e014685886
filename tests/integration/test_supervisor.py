#!/usr/bin/python3
"""The supervisor's own contract (issue 3), apart from the reload storm (test_reload.py).

Usage: python3 tests/integration/test_supervisor.py --mailsift PATH [-k NAME]

- systemd notify: with NOTIFY_SOCKET pointing at a datagram socket of ours, the supervisor
  sends READY=1 with MAINPID once the first generation serves, RELOADING=1 then READY=1 around
  a reload; libsystemd's real sd_notify is what sends them.
- socket activation: a listening socket passed with LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID (as
  systemd does) is used instead of binding, and mail flows through it.
- privileges: with supervisor.user = "nobody", generations run as nobody while the supervisor
  stays root (so it can bind a new listener on reload).
- `start` daemonizes, writes the pid file and returns once serving; `stop` drains and removes
  the pid file; a config error at start exits 78 naming the key.
- a reload that adds a Unix-socket listener and a later one that removes it: the new listener
  serves at once; the removed one is closed (and its path unlinked) once the old generation
  has gone.
- a new generation that cannot start (spool directory unwritable for its user) is refused and
  the old one keeps serving.
- reload requests that arrive during a handoff are queued, not dropped.
"""

import os
import pwd
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BIN = None


def run(*args, timeout=60):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=timeout)


def deliver(port_or_path, tag):
    """One message through mailsift; returns the end-of-data reply."""
    if isinstance(port_or_path, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(15)
        s.connect(port_or_path)
        c = h.SmtpClient.__new__(h.SmtpClient)
        c.sock, c.buf, c.timeout, c.closed = s, b"", 15, False
    else:
        c = h.SmtpClient(port_or_path)
    with c:
        c.greeting()
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<b@example.net>")
        c.cmd("DATA")
        c.send(b"Subject: " + tag.encode() + b"\r\n\r\nbody\r\n.\r\n")
        reply = c.read_reply()
        c.cmd("QUIT")
        return reply


def generation_pids(config_path):
    out = run("status", "--config", config_path).stdout
    return {int(line.split()[3]): line.split()[4] for line in out.splitlines()
            if line.startswith("generation ")}


def test_systemd_notify_and_socket_activation():
    with h.SmtpSink() as sink:
        work = tempfile.mkdtemp(prefix="mailsift-sd-")
        notify_path = os.path.join(work, "notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        notify.settimeout(20)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        config = os.path.join(work, "mailsift.toml")
        spool = os.path.join(work, "spool")
        os.makedirs(spool)
        with open(config, "w") as f:
            f.write(f'[server]\nhostname = "mailsift.test"\n'
                    f'[[listen]]\naddress = "127.0.0.1:{port}"\nname = "smtp-in"\n'
                    f'[relay]\nnext_hop = "127.0.0.1:{sink.port}"\n'
                    f'[spool]\ndirectory = "{spool}"\n'
                    f'[quarantine]\ndirectory = "{work}/quarantine"\n'
                    f'[control]\nsocket = "{work}/control.sock"\npid_file = "{work}/pid"\n')
        stderr = open(os.path.join(work, "stderr"), "wb")
        pid = os.fork()
        if pid == 0:
            os.dup2(listener.fileno(), 3)
            env = dict(os.environ, LISTEN_FDS="1", LISTEN_FDNAMES="smtp-in",
                       LISTEN_PID=str(os.getpid()), NOTIFY_SOCKET=notify_path)
            os.dup2(stderr.fileno(), 2)
            os.execve(BIN, [BIN, "foreground", "--config", config], env)
        listener.close()  # systemd keeps its copy; here the supervisor holds the only one
        try:
            messages = []

            def wait_for(text):
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    if any(text in m for m in messages):
                        return True
                    try:
                        messages.append(notify.recv(4096).decode())
                    except socket.timeout:
                        break
                return False

            h.check(wait_for("READY=1"), "READY=1 once the first generation serves")
            h.check(any(f"MAINPID={pid}" in m for m in messages), "MAINPID is the supervisor")
            r = deliver(port, "socket-activated")
            h.check_eq(r.code, 250, "mail flows through the socket systemd passed")
            with open(os.path.join(work, "stderr")) as f:
                log = f.read()
            h.check("listener smtp-in from systemd" in log, "the passed socket was adopted",
                    log[-2000:])
            h.check("bound listener" not in log, "nothing was bound in its place")
            messages.clear()
            r = run("reload", "--config", config)
            h.check_eq(r.returncode, 0, "reload exit status")
            h.check(wait_for("RELOADING=1"), "RELOADING=1 at the start of a reload")
            h.check(wait_for("READY=1"), "READY=1 when the new generation serves")
            h.check_eq(deliver(port, "after-reload").code, 250, "mail flows after the reload")
        finally:
            os.kill(pid, 15)
            os.waitpid(pid, 0)
            notify.close()


def test_generations_drop_privileges():
    nobody = pwd.getpwnam("nobody").pw_uid
    with h.SmtpSink() as sink:
        spool = tempfile.mkdtemp(prefix="mailsift-spool-")
        os.chmod(spool, 0o1777)
        cfg = h.base_config(sink.address, supervisor={"user": "nobody"},
                            spool={"directory": spool})
        with h.Mailsift(BIN, cfg) as ms:
            pids = generation_pids(ms.config_path)
            h.check(len(pids) == 1, "one generation", str(pids))
            gen = next(iter(pids))
            uid = int(open(f"/proc/{gen}/status").read().split("Uid:")[1].split()[0])
            h.check_eq(uid, nobody, "the generation runs as nobody")
            h.check_eq(os.stat(f"/proc/{ms.proc.pid}").st_uid, 0, "the supervisor stays root")
            h.check_eq(deliver(ms.port, "as-nobody").code, 250, "mail flows")
            # A spool directory that nobody cannot write: the new generation refuses to start,
            # the old one keeps serving.
            private = tempfile.mkdtemp(prefix="mailsift-private-")
            os.chmod(private, 0o700)
            text = open(ms.config_path).read().replace(spool, private)
            open(ms.config_path, "w").write(text)
            r = run("reload", "--config", ms.config_path)
            h.check(r.returncode != 0, "reload refused", r.stdout + r.stderr)
            h.check("spool.directory" in r.stderr, "the reason names the key", r.stderr)
            h.check_eq(set(generation_pids(ms.config_path)), set(pids), "the old one serves on")
            h.check_eq(deliver(ms.port, "still-serving").code, 250, "mail still flows")


def test_generations_chroot():
    """supervisor.chroot: the generation runs inside it (its root is the chroot directory) and
    still serves; the spool directory is a path inside the chroot."""
    with h.SmtpSink() as sink:
        root = tempfile.mkdtemp(prefix="mailsift-chroot-")
        os.chmod(root, 0o755)
        os.makedirs(os.path.join(root, "spool"))
        os.chmod(os.path.join(root, "spool"), 0o1777)
        cfg = h.base_config(sink.address, supervisor={"chroot": root, "user": "nobody"},
                            spool={"directory": "/spool", "memory_limit": 4096})
        with h.Mailsift(BIN, cfg) as ms:
            gen = next(iter(generation_pids(ms.config_path)))
            h.check_eq(os.readlink(f"/proc/{gen}/root"), root, "the generation's root directory")
            r = deliver(ms.port, "chrooted " + "x" * 8000)  # larger than memory_limit: spooled
            h.check_eq(r.code, 250, "mail flows, spooling inside the chroot")


def test_start_stop_and_config_errors():
    with h.SmtpSink() as sink:
        work = tempfile.mkdtemp(prefix="mailsift-start-")
        port = h.free_port()
        config = os.path.join(work, "mailsift.toml")
        pid_file = os.path.join(work, "mailsift.pid")
        with open(config, "w") as f:
            f.write(f'[[listen]]\naddress = "127.0.0.1:{port}"\n'
                    f'[relay]\nnext_hop = "127.0.0.1:{sink.port}"\n'
                    f'[spool]\ndirectory = "{work}"\n'
                    f'[quarantine]\ndirectory = "{work}/quarantine"\n'
                    f'[control]\nsocket = "{work}/control.sock"\npid_file = "{pid_file}"\n')
        r = run("start", "--config", config)
        h.check_eq(r.returncode, 0, "start exit status (" + r.stdout + r.stderr + ")")
        h.check("serving" in r.stdout, "start says what serves", r.stdout)
        pid = int(open(pid_file).read())
        h.check(os.path.exists(f"/proc/{pid}"), "the pid file names the running supervisor")
        h.check_eq(deliver(port, "daemon").code, 250, "mail flows through the daemon")
        r = run("start", "--config", config)
        h.check(r.returncode != 0 and "already running" in r.stderr,
                "a second start is refused", r.stderr)
        r = run("stop", "--config", config)
        h.check_eq(r.returncode, 0, "stop exit status")
        h.wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                     open(f"/proc/{pid}/stat").read().split()[2] == "Z", 30, what="exit")
        h.check(not os.path.exists(pid_file), "stop removed the pid file")
        h.check(not h.port_is_listening(port), "nothing listens after stop")
        with open(config, "a") as f:
            f.write('[limits]\nmax_sessions = "many"\n')
        r = run("foreground", "--config", config)
        h.check_eq(r.returncode, 78, "a config error at start exits 78")
        h.check("limits.max_sessions" in r.stderr, "and names the key", r.stderr)
        r = run("frobnicate")
        h.check_eq(r.returncode, 64, "a bad command line exits 64")
        h.check("Usage" in r.stderr, "with usage help", r.stderr[:200])


def test_reload_adds_and_removes_listeners():
    with h.SmtpSink() as sink:
        cfg = h.base_config(sink.address)
        with h.Mailsift(BIN, cfg) as ms:
            path = os.path.join(ms.dir, "lmtp.sock")
            text = open(ms.config_path).read()
            added = text + f'\n[[listen]]\naddress = "unix:{path}"\nprotocol = "smtp"\n'
            # [[listen]] must come before other tables' keys: rewrite the file in order.
            added = text.replace("[relay]", f'[[listen]]\naddress = "unix:{path}"\n\n[relay]', 1)
            open(ms.config_path, "w").write(added)
            r = run("reload", "--config", ms.config_path)
            h.check_eq(r.returncode, 0, "reload with a new Unix listener (" + r.stderr + ")")
            h.check_eq(deliver(path, "over-unix").code, 250, "the new listener serves")
            h.check_eq(deliver(ms.port, "over-tcp").code, 250, "the old one still does")
            open(ms.config_path, "w").write(text)
            r = run("reload", "--config", ms.config_path)
            h.check_eq(r.returncode, 0, "reload without it")
            h.wait_until(lambda: not os.path.exists(path), 30, what="the removed socket's path")
            h.check(not os.path.exists(path), "the removed listener's path is gone")
            h.check_eq(deliver(ms.port, "tcp-after").code, 250, "the TCP listener serves on")


def test_concurrent_reloads_are_queued():
    """Reload requests that arrive during a handoff are queued, not dropped: each waits for its
    own outcome and succeeds."""
    with h.SmtpSink() as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms:
            procs = [subprocess.Popen([BIN, "reload", "--config", ms.config_path],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(5)]
            results = [(p.wait(timeout=60), p.stdout.read(), p.stderr.read()) for p in procs]
            h.check(all(rc == 0 for rc, _, _ in results), "5 concurrent reloads all exit 0",
                    str(results))
            served = {out.split()[1] for _, out, _ in results}
            h.check_eq(len(served), 5, "each got its own new generation")
            h.check_eq(deliver(ms.port, "after-queue-of-reloads").code, 250, "mail flows")


def test_stop_fast_cuts_open_sessions():
    """`stop --fast`: the service ends at once, even with a transaction open."""
    with h.SmtpSink() as sink:
        with h.Mailsift(BIN, h.base_config(sink.address)) as ms:
            c = h.SmtpClient(ms.port)
            c.greeting()
            c.cmd("EHLO client.example")
            h.check_eq(c.cmd("MAIL FROM:<a@example.org>").code, 250, "a transaction is open")
            start = time.monotonic()
            r = run("stop", "--fast", "--config", ms.config_path)
            h.check_eq(r.returncode, 0, "stop --fast exit status")
            h.wait_until(lambda: ms.proc.poll() is not None, 10, what="the supervisor to exit")
            h.check(time.monotonic() - start < 5, "the supervisor exited at once")
            h.check(c.wait_closed(timeout=5), "the open session was cut")


TESTS = [test_stop_fast_cuts_open_sessions, test_generations_chroot, test_concurrent_reloads_are_queued, test_systemd_notify_and_socket_activation, test_generations_drop_privileges,
         test_start_stop_and_config_errors, test_reload_adds_and_removes_listeners]

if __name__ == "__main__":
    if os.geteuid() != 0:
        print("needs root (privilege drop, smtp-sink -u nobody)")
        sys.exit(77)
    BIN = h.mailsift_path()
    sys.exit(h.TestRunner("supervisor").run(TESTS, only=h.only_args()))
