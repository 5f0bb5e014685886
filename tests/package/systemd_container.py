"""This machine booted as a throwaway container with systemd as PID 1, for the package test.

The machine itself has no systemd as PID 1, so the unit's sandbox (ProtectSystem=, ProtectHome=,
PrivateTmp=, the system call filter, …) is applied by nobody. Here the machine's own root
filesystem, with the package installed, becomes the lower layer of an overlay whose upper layer
is a tmpfs; systemd-nspawn boots systemd on it, sharing the machine's network (loopback ports
are reachable from both sides) and nothing else. Whatever the container writes is gone when it
stops. Commands run inside with nsenter into the container's PID 1.

Needs root, systemd-nspawn (systemd-container), overlayfs and mount rights; available() says
whether this machine has them.
"""

import os
import shutil
import subprocess
import tempfile
import time


def available():
    return os.geteuid() == 0 and shutil.which("systemd-nspawn") is not None and \
        shutil.which("nsenter") is not None


class SystemdContainer:
    def __init__(self, name="mailsift-pkgtest"):
        self.name = name
        self.root = tempfile.mkdtemp(prefix="mailsift-nspawn-")
        self.layers = os.path.join(self.root, "layers")
        self.merged = os.path.join(self.root, "merged")
        self.nspawn = None
        self.leader = None
        self.console = None

    def path(self, inside):
        """The container's file `inside`, seen from the machine (write it before start)."""
        return os.path.join(self.merged, inside.lstrip("/"))

    def prepare(self):
        os.makedirs(self.layers)
        os.makedirs(self.merged)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", self.layers],
                       check=True)
        os.makedirs(os.path.join(self.layers, "upper"))
        os.makedirs(os.path.join(self.layers, "work"))
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        "lowerdir=/,upperdir=%s/upper,workdir=%s/work" % (self.layers,
                                                                          self.layers),
                        self.merged], check=True)
        # systemd-nspawn mounts its own /dev and refuses a populated one; the machine's root
        # filesystem may carry device nodes under /dev (whiteouts in the upper layer hide them).
        dev = self.path("/dev")
        for entry in os.listdir(dev):
            p = os.path.join(dev, entry)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
        # Its own machine id, so its journal is its own.
        with open(self.path("/etc/machine-id"), "w") as f:
            f.write(os.urandom(16).hex() + "\n")
        return self

    def start(self, timeout=90):
        self.console = tempfile.TemporaryFile()
        # basic.target: the machine's enabled services (postfix, clamd, …) stay down; the test
        # starts the units it wants.
        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "-D", self.merged, "-M", self.name, "--register=no", "--keep-unit",
             "--console=pipe", "-b", "--", "--unit=basic.target"],
            stdin=subprocess.DEVNULL, stdout=self.console, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise RuntimeError("systemd-nspawn exited %d: %s" % (self.nspawn.returncode,
                                                                    self.console_text()))
            self.leader = self._find_leader()
            if self.leader is not None:
                state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    return self
            time.sleep(0.3)
        raise RuntimeError("the container's systemd did not finish booting in %d s: %s" %
                           (timeout, self.console_text()))

    def _find_leader(self):
        """The container's PID 1: the systemd below systemd-nspawn."""
        todo = [self.nspawn.pid]
        while todo:
            parent = todo.pop()
            try:
                children = open("/proc/%d/task/%d/children" % (parent, parent)).read().split()
            except OSError:
                continue
            for child in map(int, children):
                try:
                    comm = open("/proc/%d/comm" % child).read().strip()
                except OSError:
                    continue
                if comm == "systemd":
                    return child
                todo.append(child)
        return None

    def run(self, *command, check=True, timeout=120):
        """`command` inside the container (its namespaces and root), as root."""
        result = subprocess.run(["nsenter", "-t", str(self.leader), "-a", "--", *command],
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError("in the container, %s: exit %d\n%s%s" % (
                " ".join(command), result.returncode, result.stdout, result.stderr))
        return result

    def in_service(self, pid, *command):
        """`command` in the mount namespace of the container's process `pid` (a unit's
        sandbox), as root, without its other restrictions."""
        return self.run("nsenter", "-t", str(pid), "-m", "--", *command, check=False)

    def console_text(self):
        if self.console is None:
            return ""
        self.console.seek(0)
        return self.console.read().decode(errors="replace")[-3000:]

    def stop(self):
        if self.nspawn is not None and self.nspawn.poll() is None:
            if self.leader is not None:
                self.run("systemctl", "poweroff", check=False, timeout=30)
            try:
                self.nspawn.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()
        subprocess.run(["umount", self.merged], check=False)
        subprocess.run(["umount", self.layers], check=False)
        shutil.rmtree(self.root, ignore_errors=True)
