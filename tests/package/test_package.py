#!/usr/bin/env python3
"""The Debian package, end to end on this machine: build it (scripts/build-deb.sh, from the
tested build tree's program), lintian, install it with apt, check what it installed (files,
conffiles, the system user, the directories' owners, the unit enabled but not started), score
the unit with `systemd-analyze security --offline`, then run the unit's commands as systemd
would run them, send mail through, reload, upgrade, crash a generation, stop, purge, and check
the purge was clean.

Then the unit itself under systemd, with its whole sandbox (ProtectSystem=, ProtectHome=,
PrivateTmp=, the system call filter, the capability bounding set): this machine is booted as a
throwaway container with systemd as PID 1 (systemd_container.py: systemd-nspawn on an overlay
of the machine's root), the unit is started with systemctl, mail goes through, the sandbox is
checked from /proc and from inside the service's mount namespace, then systemctl reload,
mailsift upgrade, the supervisor killed and restarted by systemd, systemctl stop.

For the first part there is no systemd as PID 1 here: its ExecStartPre=,
ExecStart= and ExecReload= run as its User=/Group= with its capability sets
(AmbientCapabilities=, CapabilityBoundingSet=), NoNewPrivileges=, LimitNOFILE= and UMask=
(setpriv), with NOTIFY_SOCKET (Type=notify: READY=1 is awaited), and with the directories
StateDirectory=/CacheDirectory= name owned by User=. The filesystem sandbox (ProtectSystem= …)
and the system call filter are applied only in the second part. The test config is the installed one with its
listener on a free port below 1024 (so that only CAP_NET_BIND_SERVICE lets the supervisor bind
it), the next hop on smtp-sink, and its control socket and pid file in a private runtime
directory (a developer's supervisor may be using /run/mailsift).

Exit 77 (skipped) when not root, without dpkg/apt/setpriv/smtp-sink, or when a mailsift
package is installed already (it is never touched). The package is always purged at the end.

Usage: test_package.py --mailsift build/release/mailsift   (the program to package)
       test_package.py --deb mailsift_0.1.0_amd64.deb
"""

import argparse
import os
import pwd
import re
import resource
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness as h  # noqa: E402
import systemd_container  # noqa: E402

UNIT = "/lib/systemd/system/mailsift.service"
CONFIG = "/etc/mailsift/mailsift.toml"
CAP_NET_BIND_SERVICE = 1 << 10


def sh(*args, check=True, timeout=300, **kw):
    run = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    if check and run.returncode != 0:
        raise h.TestFailure("%s: exit %d: %s" % (" ".join(args), run.returncode,
                                                 (run.stdout + run.stderr)[-2000:]))
    return run


def installed():
    run = sh("dpkg-query", "-W", "-f=${Status}", "mailsift", check=False)
    return run.returncode == 0 and "installed" in run.stdout and "not-installed" not in run.stdout


def unit_settings(path):
    """The unit's [Service] settings: name -> list of values, in order."""
    settings = {}
    section = ""
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def free_low_port(taken=()):
    for port in range(1023, 900, -1):
        if port in taken:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise h.TestFailure("no free port below 1024")


class Unit:
    """The unit's commands, run as systemd would run them (see the module comment)."""

    def __init__(self, settings, config_path):
        self.s = settings
        self.config_path = config_path
        self.user = settings["User"][0]
        self.group = settings["Group"][0]
        self.pw = pwd.getpwnam(self.user)
        caps = " ".join(settings["AmbientCapabilities"]).lower().replace("cap_", "")
        bounding = " ".join(settings["CapabilityBoundingSet"]).lower().replace("cap_", "")
        self.setpriv = ["setpriv", "--reuid=" + self.user, "--regid=" + self.group,
                        "--init-groups",
                        "--inh-caps=-all," + ",".join("+" + c for c in caps.split()),
                        "--ambient-caps=-all," + ",".join("+" + c for c in caps.split()),
                        "--bounding-set=-all," + ",".join("+" + c for c in bounding.split())]
        if settings.get("NoNewPrivileges", ["no"])[0] == "yes":
            self.setpriv.append("--no-new-privs")
        self.nofile = int(settings["LimitNOFILE"][0])
        self.umask = int(settings["UMask"][0], 8)
        self.env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOME": self.pw.pw_dir, "USER": self.user, "LOGNAME": self.user,
                    "SHELL": self.pw.pw_shell, "LANG": "C.UTF-8"}
        for key, base in (("StateDirectory", "/var/lib"), ("CacheDirectory", "/var/cache")):
            path = os.path.join(base, settings[key][0])
            os.makedirs(path, exist_ok=True)
            os.chown(path, self.pw.pw_uid, self.pw.pw_gid)
            self.env[key.upper().replace("DIRECTORY", "_DIRECTORY")] = path

    def _preexec(self):
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        os.umask(self.umask)
        os.setsid()

    def command(self, key):
        line = self.s[key][0].lstrip("-+!@")
        return [part if part != CONFIG else self.config_path for part in line.split()]

    def run(self, key, timeout=120):
        return subprocess.run(self.setpriv + ["--"] + self.command(key), env=self.env,
                              preexec_fn=self._preexec, capture_output=True, text=True,
                              timeout=timeout, cwd="/")

    def start(self, key, log, notify_path):
        env = dict(self.env, NOTIFY_SOCKET=notify_path)
        return subprocess.Popen(self.setpriv + ["--"] + self.command(key), env=env,
                                preexec_fn=self._preexec, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, cwd="/")


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return fields


def generations(config_path):
    out = sh("/usr/sbin/mailsift", "status", "--config", config_path).stdout
    return [int(line.split()[3]) for line in out.splitlines() if line.startswith("generation ")]


def send(port, sink, count_before, what):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail("sender@example.org", ["rcpt@example.com"],
                        "From: sender@example.org\r\nTo: rcpt@example.com\r\n"
                        "Subject: package test %s\r\nMessage-ID: <%s@example.org>\r\n\r\n"
                        "A message through the installed package (%s).\r\n"
                        % (what, time.monotonic_ns(), what))
    got = sink.wait_transactions(count_before + 1, timeout=30)
    h.check(len(got) == count_before + 1, "the message sent %s arrived at the next hop" % what,
            "%d transactions" % len(got))
    h.check(b"Subject: package test " + what.encode() in got[-1].text,
            "it is the message sent %s" % what)
    return len(got)


def under_systemd(config_text, port, sink, count, pw):
    """The installed unit started by systemd (PID 1 of a throwaway container of this machine,
    systemd_container.py) with its whole sandbox: started, mail through, reload, upgrade, the
    supervisor killed and restarted by systemd (Restart=on-failure), stopped."""
    print("  under systemd: booting this machine as a container (systemd-nspawn, overlay)")
    box = systemd_container.SystemdContainer().prepare()
    text = config_text.replace('address = "127.0.0.1:10024"', 'address = "127.0.0.1:%d"' % port)
    text = text.replace('next_hop = "127.0.0.1:10025"', 'next_hop = "%s"' % sink.address)
    with open(box.path(CONFIG), "w") as f:
        f.write(text)

    def main_pid():
        return int(box.run("systemctl", "show", "-p", "MainPID", "--value",
                           "mailsift.service").stdout.strip())

    def status(pid):
        fields = {}
        for line in box.run("cat", "/proc/%d/status" % pid).stdout.splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.split()
        return fields

    def gens():
        out = box.run("/usr/sbin/mailsift", "status", "--config", CONFIG).stdout
        return [int(line.split()[3]) for line in out.splitlines()
                if line.startswith("generation ")]

    try:
        box.start()
        h.check(True, "systemd %s booted as PID 1 of the container" %
                box.run("systemctl", "--version").stdout.split()[1])
        started = box.run("systemctl", "start", "mailsift.service", check=False, timeout=180)
        active = box.run("systemctl", "is-active", "mailsift.service", check=False).stdout
        h.check(started.returncode == 0 and active.strip() == "active",
                "systemctl start mailsift: active (Type=notify: READY=1 reached systemd)",
                started.stderr + box.run("journalctl", "-u", "mailsift", "--no-pager",
                                         check=False).stdout[-3000:])
        sup = main_pid()
        st = status(sup)
        h.check(st["Uid"] == [str(pw.pw_uid)] * 4, "under systemd, the supervisor runs as mailsift")
        h.check(st["NoNewPrivs"] == ["1"] and st["Seccomp"] == ["2"],
                "NoNewPrivileges= and SystemCallFilter= (seccomp mode 2) are applied",
                "NoNewPrivs %s Seccomp %s" % (st["NoNewPrivs"], st["Seccomp"]))
        h.check(int(st["CapEff"][0], 16) == CAP_NET_BIND_SERVICE and
                int(st["CapBnd"][0], 16) == CAP_NET_BIND_SERVICE,
                "CapabilityBoundingSet=: CAP_NET_BIND_SERVICE only", str(st["CapBnd"]))
        ro = box.in_service(sup, "touch", "/usr/mailsift-sandbox-test")
        h.check(ro.returncode != 0 and "Read-only file system" in ro.stderr,
                "ProtectSystem=strict: /usr is read-only for the service", ro.stderr)
        ro = box.in_service(sup, "touch", "/etc/mailsift/sandbox-test")
        h.check(ro.returncode != 0, "and /etc too", ro.stderr)
        rw = box.in_service(sup, "touch", "/var/lib/mailsift/quarantine/.sandbox-test")
        h.check(rw.returncode == 0, "StateDirectory= (the quarantine) stays writable", rw.stderr)
        home = box.in_service(sup, "ls", "-A", "/root")
        h.check(home.stdout.strip() == "", "ProtectHome=: /root is empty for the service",
                home.stdout[:200])
        box.run("touch", "/tmp/outside-the-service")
        tmp = box.in_service(sup, "ls", "/tmp")
        h.check("outside-the-service" not in tmp.stdout, "PrivateTmp=: the service's own /tmp")
        count = send(port, sink, count, "under systemd")

        before = gens()
        reload = box.run("systemctl", "reload", "mailsift.service", check=False, timeout=180)
        h.check(reload.returncode == 0, "systemctl reload mailsift", reload.stderr)
        h.wait_until(lambda: len(gens()) == 1 and gens()[0] not in before, 90, interval=0.3,
                     what="the new generation alone")
        h.check(main_pid() == sup, "under systemd, a reload keeps the supervisor (MainPID)")
        count = send(port, sink, count, "after systemctl reload")

        upgrade = box.run("/usr/sbin/mailsift", "upgrade", "--config", CONFIG, check=False,
                          timeout=60)
        h.check(upgrade.returncode == 0 and main_pid() == sup and
                box.run("systemctl", "is-active", "mailsift.service", check=False)
                .stdout.strip() == "active",
                "under systemd, mailsift upgrade keeps MainPID and the unit active",
                upgrade.stdout + upgrade.stderr)
        count = send(port, sink, count, "after the upgrade under systemd")

        box.run("kill", "-KILL", str(sup))
        h.wait_until(lambda: main_pid() not in (0, sup) and box.run(
            "systemctl", "is-active", "mailsift.service", check=False).stdout.strip() == "active",
            60, interval=0.3, what="systemd to restart the killed supervisor")
        h.check(True, "the supervisor killed (SIGKILL): systemd restarted it (Restart=on-failure)")
        count = send(port, sink, count, "after systemd restarted the supervisor")

        stopped = box.run("systemctl", "stop", "mailsift.service", check=False, timeout=120)
        result = box.run("systemctl", "show", "-p", "Result", "--value", "mailsift.service",
                         check=False).stdout.strip()
        h.check(stopped.returncode == 0 and result == "success",
                "systemctl stop: stopped cleanly (Result=success)", stopped.stderr + result)
    except Exception:
        if box.leader is not None:
            print("--- the container's journal for mailsift\n" + box.run(
                "journalctl", "-u", "mailsift", "--no-pager", check=False).stdout[-4000:])
        print("--- the container's console\n" + box.console_text())
        raise
    finally:
        box.stop()
    return count


def wait_ready(notify, what):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            data = notify.recv(4096).decode()
        except socket.timeout:
            continue
        if "READY=1" in data.split("\n"):
            return
    raise h.TestFailure("no READY=1 on NOTIFY_SOCKET " + what)


def test_package(args):
    work = tempfile.mkdtemp(prefix="mailsift-pkg-")
    os.chmod(work, 0o755)
    deb = args.deb
    if not deb:
        env = dict(os.environ, MAILSIFT_PREBUILT=os.path.dirname(os.path.abspath(args.mailsift)))
        started = time.monotonic()
        built = sh(os.path.join(ROOT, "scripts", "build-deb.sh"), work, env=env, timeout=1800)
        print(built.stdout.strip().splitlines()[0], "in %.0f s" % (time.monotonic() - started))
        deb = [os.path.join(work, f) for f in os.listdir(work) if f.endswith(".deb")][0]
    size_kb = os.path.getsize(deb) // 1024
    print("  package: %s, %d KB" % (os.path.basename(deb), size_kb))

    lint = sh("lintian", "--no-tag-display-limit", deb, check=False, timeout=300)
    tags = [line for line in lint.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    print("  lintian:", lint.stdout.strip() or "(no tags)")
    h.check(not tags, "lintian: no errors or warnings", "\n".join(tags))

    sup = None
    sink = h.SmtpSink().start()
    try:
        sh("apt-get", "install", "-y", "--no-install-recommends", os.path.abspath(deb),
           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        h.check(installed(), "apt installed the package")
        for path in ["/usr/sbin/mailsift", CONFIG, UNIT, "/lib/systemd/system/mailsift.socket",
                     "/etc/spamassassin/sa-update-hooks.d/mailsift",
                     "/usr/share/man/man8/mailsift.8.gz", "/usr/share/man/man5/mailsift.toml.5.gz",
                     "/usr/share/doc/mailsift/README.md", "/usr/share/doc/mailsift/copyright",
                     "/usr/share/doc/mailsift/examples/postfix/after-queue.master.cf"]:
            h.check(os.path.exists(path), "installed: " + path)
        conffiles = sh("dpkg-query", "-W", "-f=${Conffiles}", "mailsift").stdout
        h.check(CONFIG in conffiles, "the config is a conffile")
        h.check(os.access("/etc/spamassassin/sa-update-hooks.d/mailsift", os.X_OK),
                "the sa-update hook is executable")
        h.check(sh("man", "-w", "8", "mailsift").stdout.strip().endswith("mailsift.8.gz") and
                sh("man", "-w", "5", "mailsift.toml").returncode == 0, "man finds both pages")
        pw = pwd.getpwnam("mailsift")
        h.check(pw.pw_uid < 1000 and pw.pw_shell in ("/usr/sbin/nologin", "/bin/false"),
                "mailsift is a system user without a login shell", str(pw))
        for path in ["/var/lib/mailsift", "/var/lib/mailsift/quarantine", "/var/cache/mailsift",
                     "/var/spool/mailsift"]:
            st = os.stat(path)
            h.check(st.st_uid == pw.pw_uid and st.st_gid == pw.pw_gid,
                    "%s is owned by mailsift" % path, "uid %d gid %d" % (st.st_uid, st.st_gid))
        config_text = open(CONFIG).read()
        h.check(re.search(r'^user = "mailsift"', config_text, re.M) is not None,
                'the installed config runs the generations as mailsift')
        h.check(os.path.islink("/etc/systemd/system/multi-user.target.wants/mailsift.service"),
                "the service is enabled")
        h.check(sh("pgrep", "-x", "-u", "mailsift", "mailsift", check=False).returncode != 0,
                "and not started")

        score_out = sh("systemd-analyze", "security", "--offline=true", UNIT, check=False,
                       cwd="/tmp").stdout
        m = re.search(r"Overall exposure level for mailsift\.service: ([0-9.]+) (\w+)", score_out)
        h.check(m is not None and float(m.group(1)) <= 3.0,
                "systemd-analyze security: %s (at most 3.0)" % (m.group(0) if m else "?"),
                score_out[-1500:])

        # The installed config, with the test's ports and runtime directory.
        settings = unit_settings(UNIT)
        runtime = "/run/mailsift-pkgtest-%d" % os.getpid()
        os.makedirs(runtime)
        os.chown(runtime, pw.pw_uid, pw.pw_gid)
        port = free_low_port()
        text = config_text.replace('address = "127.0.0.1:10024"', 'address = "127.0.0.1:%d"' % port)
        text = text.replace('next_hop = "127.0.0.1:10025"', 'next_hop = "%s"' % sink.address)
        text = text.replace('"/run/mailsift/', '"%s/' % runtime)
        h.check(text.count(str(port)) == 1 and sink.address in text and runtime in text,
                "test config: listener on 127.0.0.1:%d, next hop %s" % (port, sink.address))
        config_path = os.path.join(work, "mailsift.toml")
        with open(config_path, "w") as f:
            f.write(text)
        os.chmod(config_path, 0o644)
        unit = Unit(settings, config_path)

        pre = unit.run("ExecStartPre")
        h.check(pre.returncode == 0, "ExecStartPre (check-config) as mailsift",
                pre.stdout + pre.stderr)
        notify_path = os.path.join(work, "notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        os.chmod(notify_path, 0o777)
        notify.settimeout(1)
        log = open(os.path.join(work, "mailsift.log"), "w+")
        sup = unit.start("ExecStart", log, notify_path)
        wait_ready(notify, "at start")
        h.check(sup.poll() is None, "ExecStart runs and reported READY=1 (Type=notify)")
        status = proc_status(sup.pid)
        h.check(status["Uid"] == [str(pw.pw_uid)] * 4, "the supervisor runs as mailsift")
        h.check(int(status["CapEff"][0], 16) == CAP_NET_BIND_SERVICE and
                int(status["CapBnd"][0], 16) == CAP_NET_BIND_SERVICE,
                "with CAP_NET_BIND_SERVICE only", str(status["CapEff"] + status["CapBnd"]))
        gens = generations(config_path)
        h.check(len(gens) == 1, "one generation")
        gen_status = proc_status(gens[0])
        h.check(gen_status["Uid"] == [str(pw.pw_uid)] * 4 and
                gen_status["Gid"] == [str(pw.pw_gid)] * 4,
                "the generation runs as mailsift (/proc/PID/status Uid, Gid)",
                str(gen_status["Uid"]))
        count = send(port, sink, 0, "at start")

        # The prefilter is built once and cached where CacheDirectory= is.
        cache = "/var/cache/mailsift/prefilter"
        h.wait_until(lambda: os.path.isdir(cache) and any(
            not f.startswith(".") for f in os.listdir(cache)), 180, interval=0.5,
            what="the prefilter's cache file")
        h.check(os.stat(cache).st_uid == pw.pw_uid,
                "the prefilter's databases are cached in %s, owned by mailsift" % cache)

        reload = unit.run("ExecReload")
        h.check(reload.returncode == 0, "ExecReload (mailsift reload) as mailsift",
                reload.stdout + reload.stderr)
        new_gens = generations(config_path)
        h.wait_until(lambda: len(generations(config_path)) == 1, 90, interval=0.2,
                     what="the old generation to drain")
        new_gens = generations(config_path)
        h.check(new_gens and new_gens[0] not in gens, "a new generation serves")
        count = send(port, sink, count, "after the reload")

        upgrade = sh("/usr/sbin/mailsift", "upgrade", "--config", config_path, check=False,
                     timeout=60)
        h.check(upgrade.returncode == 0, "mailsift upgrade (as the postinst runs it)",
                upgrade.stdout + upgrade.stderr)
        h.check(sup.poll() is None and proc_status(sup.pid)["Uid"] == [str(pw.pw_uid)] * 4,
                "the supervisor's PID is kept, still as mailsift")
        count = send(port, sink, count, "after the upgrade")

        # A new listener below 1024 on a reload after the upgrade: the capability survived.
        port2 = free_low_port(taken=(port,))
        with open(config_path, "a") as f:
            f.write('\n[[listen]]\naddress = "127.0.0.1:%d"\n' % port2)
        reload = unit.run("ExecReload")
        h.check(reload.returncode == 0, "a reload binds a new listener on port %d" % port2,
                reload.stdout + reload.stderr)
        count = send(port2, sink, count, "to the new listener")

        # The victim is the serving generation: the one the reload replaced may still be
        # draining, and gone by the time it would be killed.
        h.wait_until(lambda: len(generations(config_path)) == 1, 90, interval=0.2,
                     what="the old generation to drain")
        victim = generations(config_path)[0]
        os.kill(victim, signal.SIGKILL)
        h.wait_until(lambda: any(g != victim for g in generations(config_path)), 60,
                     interval=0.2, what="a new generation after the crash")
        count = send(port, sink, count, "after a crash of the generation")
        h.check(proc_status(generations(config_path)[0])["Uid"] == [str(pw.pw_uid)] * 4,
                "the replacement generation runs as mailsift")

        sup.send_signal(signal.SIGTERM)
        sup.wait(timeout=int(settings["TimeoutStopSec"][0]))
        h.check(sup.returncode == 0, "SIGTERM stops the service (exit 0)",
                "exit %s" % sup.returncode)
        sup = None

        if systemd_container.available():
            count = under_systemd(config_text, port, sink, count, pw)
        else:
            print("  not run: the unit under systemd (no systemd-nspawn or not root)")
    finally:
        if sup is not None:
            try:
                os.killpg(sup.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            log.seek(0)
            print("--- mailsift's log\n" + log.read()[-4000:])
        sink.cleanup()
        if installed():
            sh("apt-get", "purge", "-y", "mailsift", check=False,
               env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        shutil.rmtree("/run/mailsift-pkgtest-%d" % os.getpid(), ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    h.check(not installed() and sh("dpkg-query", "-W", "-f=${Status}", "mailsift",
                                   check=False).stdout.strip() in ("", "unknown ok not-installed"),
            "purged: dpkg has no trace of the package")
    for path in ["/usr/sbin/mailsift", "/etc/mailsift", "/var/lib/mailsift", "/var/cache/mailsift",
                 "/var/spool/mailsift", "/lib/systemd/system/mailsift.service",
                 "/etc/systemd/system/multi-user.target.wants/mailsift.service",
                 "/etc/spamassassin/sa-update-hooks.d/mailsift"]:
        h.check(not os.path.lexists(path), "purged: %s is gone" % path)
    h.check(pwd.getpwnam("mailsift") is not None, "the system user mailsift is kept (Debian's way)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailsift", help="the program to package (its build tree's)")
    parser.add_argument("--deb", help="a package already built")
    args, _ = parser.parse_known_args()
    if os.geteuid() != 0:
        print("skipped: needs root (installs a package)")
        sys.exit(77)
    for tool in ("dpkg-buildpackage", "apt-get", "setpriv", "lintian", "systemd-analyze"):
        if shutil.which(tool) is None:
            print("skipped: no %s (scripts/install-deps.sh)" % tool)
            sys.exit(77)
    if installed() or os.path.exists("/usr/sbin/mailsift"):
        print("skipped: a mailsift package is installed on this machine; not touching it")
        sys.exit(77)
    if not args.deb and not args.mailsift:
        parser.error("--mailsift or --deb")
    def package_builds_installs_runs_and_purges():
        # Directories left by running mailsift as root from a checkout with the default config
        # (a root-owned quarantine index: under systemd, StateDirectory= would hand it to the
        # service user, but this test runs the unit's commands without systemd) are set aside
        # for the test and put back after it.
        set_aside = {}
        for path in ["/var/lib/mailsift", "/var/cache/mailsift", "/var/spool/mailsift"]:
            if os.path.lexists(path):
                set_aside[path] = tempfile.mkdtemp(prefix="mailsift-aside-", dir="/var/tmp")
                shutil.move(path, os.path.join(set_aside[path], "dir"))
                print("  set aside for the test: " + path)
        try:
            test_package(args)
        finally:
            for path, aside in set_aside.items():
                shutil.rmtree(path, ignore_errors=True)
                shutil.move(os.path.join(aside, "dir"), path)
                os.rmdir(aside)

    sys.exit(h.TestRunner("package").run([package_builds_installs_runs_and_purges]))


if __name__ == "__main__":
    main()
