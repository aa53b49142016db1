#!/usr/bin/env python3
"""qdisk: an example SMAPIv3 datapath plugin serving raw volume files through qemu-storage-daemon.

Serves URIs ``qdisk:///<absolute path>`` (a raw file, or a block device). Every script here is a
symlink to this file; the method is the link name. Python 3 standard library only; the daemon comes
from the Debian package qemu-system-common.

One qemu-storage-daemon per attached volume, in a run directory of its own (mode 0700):

  $QDISK_RUN_DIR/<tag>/        <tag>: 16 hex digits of the sha256 of the volume's real path
      nbd.sock                 the NBD server; the export (named after the volume file) exists while
                               the volume is activated
      qmp.sock                 the daemon's QMP monitor
      qsd.pid, qsd.log         its pid file and its stderr (start-up errors)
      state.json               what this plugin knows: domains, activations, mirrors
  $QDISK_RUN_DIR/<tag>.lock    flock()ed by every call on that volume; removed with the run directory

QDISK_RUN_DIR defaults to /run/qdisk (root) or $XDG_RUNTIME_DIR/qdisk (others). Unix socket paths
must fit in 107 bytes, so keep it short.

The datapath calls:
  Datapath.attach      starts the daemon: the file as the block node "vol", opened read-only, the
                       NBD server and the QMP socket. Answers the Nbd implementation
                       nbd:unix:<nbd.sock>:exportname=<export> (the SMAPIv3 shape; as an NBD URI:
                       nbd+unix:///<export>?socket=<nbd.sock>). Idempotent; each domain is recorded.
  Datapath.activate    reopens "vol" read-write and adds the writable export: a guest reads and
                       writes only while the volume is activated.
  Datapath.activate_readonly
                       the same, read-only node and read-only export. A volume is never activated
                       read-only and read-write at once: the second kind is refused until every
                       activation of the first is deactivated.
  Datapath.deactivate  once no domain has it activated: removes the export (clients are
                       disconnected, so writes stop), ends mirror jobs (a ready mirror cleanly:
                       block-job-cancel without force, so the target holds what the source holds; a
                       mirror not yet ready is abandoned and reported failed), removes their target
                       nodes, and reopens "vol" read-only, which flushes it to the file.
  Datapath.detach      once no domain has it attached: deactivates, stops the daemon (QMP quit,
                       then SIGTERM, then SIGKILL) and removes its run directory and lock file.
                       Never fails for a daemon that is already gone.
  Datapath.open/close  check the file is there (no non-persistent mode: the mux clones instead).

The Data calls (live mirroring, as xapi drives qemu-dp for storage motion):
  Data.mirror          blockdev-add of an NBD client node for ``remote`` (nbd+unix:///<export>?socket=
                       <path>, nbd://host[:port]/<export> or nbd:unix:<path>:exportname=<export>), then
                       blockdev-mirror sync=full (copy-mode write-blocking: once ready, every guest
                       write reaches the target before it completes) -> ["MirrorV1", <job id>].
  Data.stat            from query-block-jobs: ready -> complete, offset/len -> progress, an error or
                       a job that vanished -> failed. A mirror ended cleanly by deactivate stays
                       complete until detach.
  Data.cancel          abandons the mirror (forced block-job-cancel), removes its target node.
  Data.destroy         forgets a mirror that is no longer running; fails on one still running.
  Data.ls              every mirror this host's volumes know.

Failures are printed as the SMAPIv3 error object, code SR_BACKEND_FAILURE and params
[<error name>, <message>, ...]: QemuStorageDaemonMissing, QemuStorageDaemonFailed, QmpError, ...
When SMAPIV3_REQUEST_LOG is set, every call is appended to that file (the tests read it).
"""

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import traceback
from urllib.parse import urlparse, unquote, parse_qs

PLUGIN = "qdisk"
SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes, NUL included
NODE = "vol"        # the volume's block node in its daemon
EXPORT_ID = "exp"   # the id of its NBD export
PACKAGE = "qemu-system-common"


class PluginError(Exception):
    """An error the daemon maps to a SMAPIv2 error: code plus string params."""

    def __init__(self, code, params):
        super().__init__(code, params)
        self.code = code
        self.params = [str(p) for p in params]


def failure(name, *details):
    return PluginError("SR_BACKEND_FAILURE", [name] + [str(d) for d in details])


class QmpError(Exception):
    def __init__(self, command, message):
        super().__init__(command + ": " + message)
        self.command = command
        self.message = message


def log_request(method, raw):
    path = os.environ.get("SMAPIV3_REQUEST_LOG")
    if not path:
        return
    line = json.dumps({"script": "datapath/qdisk/" + method, "argv": sys.argv[1:], "stdin": raw}) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(line)


def timeout():
    """How long one wait lasts (QMP reply, daemon start or stop, a mirror converging at deactivate)."""
    return float(os.environ.get("QDISK_TIMEOUT", "60"))


# ------------------------------------------------------------------ paths and names

def run_root():
    d = os.environ.get("QDISK_RUN_DIR")
    if not d:
        d = "/run/qdisk" if os.geteuid() == 0 else \
            os.path.join(os.environ.get("XDG_RUNTIME_DIR") or "/tmp", "qdisk-%d" % os.geteuid())
    d = os.path.abspath(d)
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
    except OSError as e:
        raise failure("RunDirUnusable", "cannot create QDISK_RUN_DIR " + d + ": " + e.strerror)
    return d


def volume_path(uri, must_exist=True):
    u = urlparse(uri)
    path = os.path.normpath(unquote(u.path)) if u.scheme == PLUGIN else ""
    if not path or not os.path.isabs(path) or u.netloc:
        raise failure("InvalidUri", uri, "expected qdisk:///<absolute path>")
    if not must_exist:
        return path  # a teardown finds the daemon even if the volume was removed meanwhile
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise failure("Volume_does_not_exist", uri)
    if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):
        raise failure("InvalidUri", uri, "not a regular file or a block device")
    return path


class Volume:
    """The names of one volume's daemon: run directory, sockets, pid file, state file, lock."""

    def __init__(self, path, root=None):
        self.path = path
        real = os.path.realpath(path)
        self.tag = hashlib.sha256(real.encode()).hexdigest()[:16]
        root = root or run_root()
        self.dir = os.path.join(root, self.tag)
        self.nbd = os.path.join(self.dir, "nbd.sock")
        self.qmp = os.path.join(self.dir, "qmp.sock")
        self.pidfile = os.path.join(self.dir, "qsd.pid")
        self.logfile = os.path.join(self.dir, "qsd.log")
        self.statefile = os.path.join(self.dir, "state.json")
        self.lockfile = os.path.join(root, self.tag + ".lock")
        base = os.path.basename(real)
        self.export = base if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}", base) else self.tag
        try:
            self.driver = "host_device" if stat.S_ISBLK(os.stat(path).st_mode) else "file"
        except FileNotFoundError:
            self.driver = "file"

    def nbd_implementation(self):
        return ["Nbd", {"uri": "nbd:unix:" + self.nbd + ":exportname=" + self.export}]


class Locked:
    """flock() on the volume's lock file. The file is removed (under the lock) when the volume's last
    domain detaches, so a waiter that then gets the lock checks it still holds the file the path names."""

    def __init__(self, vol):
        self.vol = vol

    def __enter__(self):
        while True:
            fd = os.open(self.vol.lockfile, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.stat(self.vol.lockfile).st_ino == os.fstat(fd).st_ino:
                    self.fd = fd
                    return self
            except FileNotFoundError:
                pass
            os.close(fd)

    def remove(self):
        try:
            os.unlink(self.vol.lockfile)
        except FileNotFoundError:
            pass

    def __exit__(self, *exc):
        os.close(self.fd)


# ------------------------------------------------------------------ state

def load_state(vol):
    try:
        with open(vol.statefile, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def save_state(vol, state):
    tmp = vol.statefile + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, vol.statefile)
    dfd = os.open(vol.dir, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


# ------------------------------------------------------------------ the daemon

def qsd_binary():
    configured = os.environ.get("QDISK_QEMU_STORAGE_DAEMON")
    found = configured if configured else shutil.which("qemu-storage-daemon",
                                                      path=os.environ.get("PATH", "") + ":/usr/bin:/bin")
    if not found or not os.access(found, os.X_OK):
        raise failure("QemuStorageDaemonMissing",
                      "qemu-storage-daemon not found (" + (configured or "on PATH") +
                      "): install the Debian package " + PACKAGE)
    return found


def pid_of(vol):
    try:
        with open(vol.pidfile) as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None


def alive(pid, vol):
    """Whether pid is a live (not zombie) qemu-storage-daemon of this volume."""
    if pid is None:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"\0" + vol.pidfile.encode() + b"\0" in f.read()  # its own argv names the pid file
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def blockdev_options(vol, read_only):
    # discard=unmap: zeroes written with may-unmap (a mirror's holes, a guest's trim) punch holes
    return {"driver": vol.driver, "node-name": NODE, "filename": vol.path, "read-only": read_only,
            "discard": "unmap"}


def keyval(s):
    return s.replace(",", ",,")


def start_daemon(vol):
    binary = qsd_binary()
    for p in (vol.nbd, vol.qmp):
        if len(p.encode()) > SUN_PATH_MAX:
            raise failure("RunDirTooLong", "socket path " + p + " is longer than " + str(SUN_PATH_MAX) +
                          " bytes: set QDISK_RUN_DIR to a shorter directory")
    stale = pid_of(vol)
    if alive(stale, vol):  # a daemon whose start was never recorded (the plugin was killed meanwhile)
        stop_daemon(vol, {"pid": stale})
    shutil.rmtree(vol.dir, ignore_errors=True)  # what a dead daemon left
    os.mkdir(vol.dir, 0o700)
    argv = [binary,
            "--blockdev", json.dumps(blockdev_options(vol, True)),
            "--nbd-server", json.dumps({"addr": {"type": "unix", "path": vol.nbd}}),
            "--chardev", "socket,id=qmp,server=on,wait=off,path=" + keyval(vol.qmp),
            "--monitor", "chardev=qmp",
            "--pidfile", vol.pidfile,
            "--daemonize"]
    with open(os.open(vol.logfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as log:
        # a session of its own, no inherited pipe: the bridge reaps the script's process group and
        # waits for its stdout to close; the daemon must survive the one and not hold the other
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                cwd="/", start_new_session=True)
    try:
        rc = proc.wait(timeout())  # --daemonize: the parent exits once the sockets exist
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = "timeout"
    pid = pid_of(vol)
    if rc != 0 or not alive(pid, vol):
        with open(vol.logfile, errors="replace") as f:
            why = f.read().strip()[-2000:]
        shutil.rmtree(vol.dir, ignore_errors=True)
        raise failure("QemuStorageDaemonFailed", "qemu-storage-daemon for " + vol.path +
                      " did not start (exit " + str(rc) + "): " + (why or "no message"))
    return pid


def stop_daemon(vol, state):
    """Ends the daemon: QMP quit, else SIGTERM, else SIGKILL; waits until it is gone."""
    pid = state.get("pid") or pid_of(vol)
    if not alive(pid, vol):
        return
    try:
        with Qmp(vol, min(timeout(), 10)) as q:
            q.execute("quit")
    except (OSError, QmpError):
        pass
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + min(timeout(), 10)
        while time.monotonic() < deadline:
            if not alive(pid, vol):
                return
            time.sleep(0.02)


# ------------------------------------------------------------------ QMP

class Qmp:
    """One QMP session on the volume's monitor (the daemon serves one client at a time; another
    waits in the listen backlog until this one closes)."""

    def __init__(self, vol, wait=None):
        self.vol = vol
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(wait or timeout())
        self.n = 0
        self.reader = self.sock.makefile("rb")
        try:
            self.sock.connect(vol.qmp)
            if "QMP" not in self._read():
                raise QmpError("connect", "no QMP greeting on " + vol.qmp)
            self.execute("qmp_capabilities")
        except (OSError, ValueError) as e:
            self.close()
            raise QmpError("connect", "QMP socket " + vol.qmp + ": " + str(e))
        except QmpError:
            self.close()
            raise

    def close(self):
        # the reader holds the socket open too: both go, or the daemon waits for this client forever
        self.reader.close()
        self.sock.close()

    def _read(self):
        line = self.reader.readline()
        if not line:
            raise QmpError("read", "qemu-storage-daemon closed its QMP socket " + self.vol.qmp)
        return json.loads(line)

    def execute(self, command, **arguments):
        self.n += 1
        msg = {"execute": command, "id": self.n}
        if arguments:
            msg["arguments"] = arguments
        try:
            self.sock.sendall(json.dumps(msg).encode() + b"\n")
            while True:
                reply = self._read()
                if "event" in reply or reply.get("id") != self.n:
                    continue
                if "error" in reply:
                    raise QmpError(command, reply["error"].get("desc", json.dumps(reply["error"])))
                return reply.get("return")
        except (OSError, ValueError) as e:
            raise QmpError(command, str(e))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def qmp_failure(e):
    return failure("QmpError", e.command + ": " + e.message)


def wait_until(what, condition):
    deadline = time.monotonic() + timeout()
    pause = 0.005
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise QmpError(what, "not done within %g s" % timeout())
        time.sleep(pause)
        pause = min(0.1, pause * 2)


def jobs(q):
    return {j["device"]: j for j in q.execute("query-block-jobs")}


def export_present(q):
    return any(e["id"] == EXPORT_ID for e in q.execute("query-block-exports"))


def reopen(q, vol, read_only):
    # a reopen flushes the node first: read-only again means every write is in the file
    q.execute("blockdev-reopen", options=[blockdev_options(vol, read_only)])


def add_export(q, vol, writable):
    q.execute("block-export-add", type="nbd", id=EXPORT_ID, **{"node-name": NODE}, name=vol.export,
              writable=writable)


def remove_export(q):
    if export_present(q):
        q.execute("block-export-del", id=EXPORT_ID, mode="hard")  # hard: connected clients are cut off
        wait_until("block-export-del", lambda: not export_present(q))


def end_mirror(q, state, job_id, gracefully):
    """Ends one mirror job and removes its target node. Gracefully, a ready mirror is cancelled without
    force: it copies what is still dirty, flushes the target and stops without pivoting, so the target
    holds what the source holds. Anything else is abandoned (forced cancel) and counts as failed."""
    m = state["mirrors"][job_id]
    job = jobs(q).get(job_id)
    if job is not None and job["status"] != "concluded":
        clean = gracefully and job["status"] == "ready"
        q.execute("block-job-cancel", device=job_id, force=not clean)
        wait_until("block-job-cancel " + job_id,
                   lambda: jobs(q).get(job_id, {"status": "concluded"})["status"] == "concluded")
        job = jobs(q).get(job_id)
        error = (job or {}).get("error", "")
        if clean:
            m["state"], m["error"] = ("failed", error) if error else ("completed", "")
        elif gracefully:
            m["state"], m["error"] = "failed", "the volume was deactivated before the mirror was ready"
        else:
            m["state"], m["error"] = "cancelled", "cancelled by Data.cancel"
    elif job is not None and m["state"] == "running":
        m["state"] = "failed" if job.get("error") else "completed"
        m["error"] = job.get("error", "")
    if job is not None:
        q.execute("job-dismiss", id=job_id)
    elif m["state"] == "running":
        m["state"], m["error"] = "failed", "the mirror job vanished"
    if m.get("node") and any(n.get("node-name") == m["node"] for n in q.execute("query-named-block-nodes")):
        q.execute("blockdev-del", **{"node-name": m["node"]})
    m["node"] = ""


def quiesce(q, vol, state):
    """No export, no mirror job, the node read-only and flushed: what deactivate leaves."""
    remove_export(q)
    for job_id, m in state["mirrors"].items():
        if m.get("node") or m["state"] == "running":
            end_mirror(q, state, job_id, gracefully=True)
    reopen(q, vol, True)
    state["activated"] = {}


# ------------------------------------------------------------------ Plugin

def plugin_query(args):
    return {
        "plugin": PLUGIN,
        "name": "qemu-storage-daemon datapath",
        "description": "Serves raw volume files over NBD through qemu-storage-daemon, one daemon per "
                       "attached volume, and mirrors them live (Data.mirror) to an NBD target",
        "vendor": "xenstorage example",
        "copyright": "(C) the xenstorage authors",
        "version": "1.0",
        "required_api_version": "5.0",
        "features": ["VDI_ACTIVATE_READONLY"],
        "configuration": {},
        "required_cluster_stack": [],
    }


def qsd_version():
    try:
        binary = qsd_binary()
    except PluginError as e:
        return e.params[1]
    try:
        out = subprocess.run([binary, "--version"], stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=timeout()).stdout
        return (out.strip().splitlines() or ["(no version printed)"])[0] + " (" + binary + ")"
    except (OSError, subprocess.TimeoutExpired) as e:
        return binary + ": " + str(e)


def plugin_diagnostics(args):
    root = run_root()
    lines = ["qdisk datapath: " + qsd_version(), "run directory: " + root]
    volumes = []
    for entry in sorted(os.listdir(root)):
        state_path = os.path.join(root, entry, "state.json")
        if os.path.isfile(state_path):
            with open(state_path, encoding="utf-8") as f:
                volumes.append(json.load(f))
    if not volumes:
        lines.append("no volume attached")
    for s in volumes:
        vol = Volume(s["path"], root)
        running = "running" if alive(s.get("pid"), vol) else "NOT RUNNING"
        activated = ", ".join(d + ":" + m for d, m in sorted(s["activated"].items())) or "none"
        lines.append("%s: qemu-storage-daemon pid %s %s; export %s on %s (%s); QMP %s; domains %s; "
                     "activated %s" % (s["path"], s.get("pid"), running, vol.export, vol.nbd,
                                       "served" if s["activated"] else "not served until activated",
                                       vol.qmp, ", ".join(s["domains"]) or "none", activated))
        for job_id, m in sorted(s["mirrors"].items()):
            lines.append("  mirror %s -> %s: %s%s" % (job_id, m["remote"], m["state"],
                                                      (" (" + m["error"] + ")") if m.get("error") else ""))
    return "\n".join(lines)


# ------------------------------------------------------------------ Datapath

def live_state(vol):
    """The state of an attached volume whose daemon runs, else None."""
    state = load_state(vol)
    if state is not None and alive(state.get("pid"), vol):
        return state
    return None


def attach(args):
    vol, domain = Volume(volume_path(args["uri"])), args["domain"]
    with Locked(vol) as lock:
        state = live_state(vol)
        if state is None:
            old = load_state(vol)
            try:
                pid = start_daemon(vol)
            except PluginError:
                if not os.path.exists(vol.dir):
                    lock.remove()  # nothing of this volume is left
                raise
            state = {"uri": args["uri"], "path": vol.path, "export": vol.export, "pid": pid,
                     "domains": (old or {}).get("domains", []), "activated": {}, "mirrors": {},
                     "next_mirror": 1}
        if domain not in state["domains"]:
            state["domains"].append(domain)
        save_state(vol, state)
    return {"implementations": [vol.nbd_implementation()]}


def activate(mode):
    def run(args):
        vol, domain = Volume(volume_path(args["uri"])), args["domain"]
        with Locked(vol):
            state = live_state(vol)
            if state is None:
                raise failure("Volume_not_attached", args["uri"])
            others = {d: m for d, m in state["activated"].items() if d != domain}
            if any(m != mode for m in others.values()):
                raise failure("Volume_activated", args["uri"],
                              "activated " + ("read-write" if mode == "ro" else "read-only") + " by " +
                              ", ".join(sorted(others)) + ": deactivate it first")
            try:
                with Qmp(vol) as q:
                    serving = export_present(q)
                    if state["activated"].get(domain, mode) != mode:
                        remove_export(q)  # this domain changes its own mode: serve the new one
                        serving = False
                    if not serving:
                        reopen(q, vol, mode == "ro")
                        add_export(q, vol, mode == "rw")
            except QmpError as e:
                raise qmp_failure(e)
            state["activated"][domain] = mode
            save_state(vol, state)
        return None
    return run


def deactivate(args):
    vol, domain = Volume(volume_path(args["uri"], must_exist=False)), args["domain"]
    with Locked(vol):
        state = live_state(vol)
        if state is None or (domain not in state["activated"] and state["activated"]):
            return None  # not activated by this domain: nothing to undo
        state["activated"].pop(domain, None)
        if not state["activated"]:
            try:
                with Qmp(vol) as q:
                    quiesce(q, vol, state)
            except QmpError as e:
                save_state(vol, state)
                raise qmp_failure(e)
        save_state(vol, state)
    return None


def detach(args):
    vol, domain = Volume(volume_path(args["uri"], must_exist=False)), args["domain"]
    with Locked(vol) as lock:
        state = load_state(vol)
        if state is None:
            if os.path.isdir(vol.dir):  # a start that was never recorded
                stop_daemon(vol, {"pid": pid_of(vol)})
                shutil.rmtree(vol.dir, ignore_errors=True)
            lock.remove()
            return None
        if domain in state["domains"]:
            state["domains"].remove(domain)
            state["activated"].pop(domain, None)
        if state["domains"]:
            save_state(vol, state)
            return None
        if alive(state.get("pid"), vol):
            try:
                with Qmp(vol, min(timeout(), 10)) as q:
                    quiesce(q, vol, state)  # a clean end for a ready mirror, and a flush
            except QmpError as e:
                sys.stderr.write("qdisk: detach of " + vol.path + ": " + str(e) + "; stopping the daemon\n")
        stop_daemon(vol, state)
        shutil.rmtree(vol.dir, ignore_errors=True)
        lock.remove()
    return None


def check(args):
    volume_path(args["uri"])
    return None


# ------------------------------------------------------------------ Data

def parse_remote(remote):
    """The NBD server and export of a remote URI, as blockdev-add's nbd driver takes them."""
    u = urlparse(remote)
    if u.scheme == "nbd+unix":
        sockets = parse_qs(u.query).get("socket")
        if u.netloc or not sockets:
            raise failure("InvalidRemote", remote, "expected nbd+unix:///<export>?socket=<path>")
        return {"type": "unix", "path": sockets[0]}, unquote(u.path[1:])
    if u.scheme == "nbd" and u.netloc:
        return {"type": "inet", "host": u.hostname, "port": str(u.port or 10809)}, unquote(u.path[1:])
    m = re.fullmatch(r"nbd:unix:([^:]+):exportname=(.*)", remote)
    if m:
        return {"type": "unix", "path": m.group(1)}, m.group(2)
    raise failure("InvalidRemote", remote,
                  "expected nbd+unix:///<export>?socket=<path>, nbd://<host>[:<port>]/<export> or "
                  "nbd:unix:<path>:exportname=<export>")


OPERATION = re.compile(r"mirror-([0-9a-f]{16})-([0-9]+)")


def mirror(args):
    vol, domain = Volume(volume_path(args["uri"])), args["domain"]
    server, export = parse_remote(args["remote"])
    with Locked(vol):
        state = live_state(vol)
        if state is None:
            raise failure("Volume_not_attached", args["uri"])
        n = state["next_mirror"]
        state["next_mirror"] = n + 1
        job_id, node = "mirror-%s-%d" % (vol.tag, n), "t%d" % n
        save_state(vol, state)
        try:
            with Qmp(vol) as q:
                q.execute("blockdev-add", driver="nbd", **{"node-name": node}, server=server, export=export)
                try:
                    # auto-dismiss off: a failed job stays listed with its error until Data.destroy
                    q.execute("blockdev-mirror", **{"job-id": job_id, "device": NODE, "target": node,
                                                     "sync": "full", "copy-mode": "write-blocking",
                                                     "auto-dismiss": False})
                except QmpError:
                    q.execute("blockdev-del", **{"node-name": node})
                    raise
        except QmpError as e:
            raise qmp_failure(e)
        state["mirrors"][job_id] = {"remote": args["remote"], "domain": domain, "node": node,
                                    "state": "running", "error": ""}
        save_state(vol, state)
    return ["MirrorV1", job_id]


def operation_of(args):
    """(volume, job id) of a MirrorV1 operation of this plugin, or (None, id) for anything else."""
    op = args["operation"]
    job_id = op[1] if isinstance(op, list) and len(op) == 2 and op[0] == "MirrorV1" else str(op)
    m = OPERATION.fullmatch(job_id)
    if not m:
        return None, job_id
    root = run_root()
    state_path = os.path.join(root, m.group(1), "state.json")
    try:
        with open(state_path, encoding="utf-8") as f:
            return Volume(json.load(f)["path"], root), job_id
    except (FileNotFoundError, KeyError, ValueError):
        return None, job_id


def data_stat(args):
    vol, job_id = operation_of(args)
    failed = {"failed": True, "complete": False}
    if vol is None:
        return failed  # unknown, or its volume was detached: nothing mirrors any more
    with Locked(vol):
        state = live_state(vol)
        m = state and state["mirrors"].get(job_id)
        if not m:
            return failed
        if m["state"] != "running":
            return {"failed": m["state"] != "completed", "complete": m["state"] == "completed",
                    "progress": 1.0 if m["state"] == "completed" else 0.0}
        try:
            with Qmp(vol) as q:
                job = jobs(q).get(job_id)
        except QmpError as e:
            raise qmp_failure(e)
        if job is None or job.get("error") or job["status"] in ("aborting", "undefined"):
            return failed
        if job["status"] == "concluded":
            return {"failed": False, "complete": True, "progress": 1.0}
        ready = job["status"] in ("ready", "standby") or job.get("ready", False)
        progress = job["offset"] / job["len"] if job.get("len") else (1.0 if ready else 0.0)
        return {"failed": False, "complete": ready, "progress": min(1.0, progress)}


def data_cancel(args):
    vol, job_id = operation_of(args)
    if vol is None:
        return None
    with Locked(vol):
        state = live_state(vol)
        if state is None or job_id not in state["mirrors"]:
            return None
        try:
            with Qmp(vol) as q:
                end_mirror(q, state, job_id, gracefully=False)
        except QmpError as e:
            raise qmp_failure(e)
        finally:
            save_state(vol, state)
    return None


def data_destroy(args):
    vol, job_id = operation_of(args)
    if vol is None:
        return None
    with Locked(vol):
        state = live_state(vol)
        if state is None or job_id not in state["mirrors"]:
            return None
        m = state["mirrors"][job_id]
        try:
            with Qmp(vol) as q:
                job = jobs(q).get(job_id)
                if job is not None and job["status"] != "concluded":
                    raise failure("OperationInProgress", job_id, "the mirror is " + job["status"] +
                                  ": cancel it (Data.cancel) or deactivate the volume first")
                if job is not None or m.get("node"):
                    end_mirror(q, state, job_id, gracefully=False)
        except QmpError as e:
            raise qmp_failure(e)
        del state["mirrors"][job_id]
        save_state(vol, state)
    return None


def data_ls(args):
    root = run_root()
    out = []
    for entry in sorted(os.listdir(root)):
        try:
            with open(os.path.join(root, entry, "state.json"), encoding="utf-8") as f:
                out.extend(["MirrorV1", job_id] for job_id in sorted(json.load(f)["mirrors"]))
        except (FileNotFoundError, NotADirectoryError, KeyError, ValueError):
            pass
    return out


METHODS = {
    "Plugin.Query": plugin_query,
    "Plugin.diagnostics": plugin_diagnostics,
    "Datapath.attach": attach,
    "Datapath.activate": activate("rw"),
    "Datapath.activate_readonly": activate("ro"),
    "Datapath.deactivate": deactivate,
    "Datapath.detach": detach,
    "Datapath.open": check,
    "Datapath.close": check,
    "Data.mirror": mirror,
    "Data.stat": data_stat,
    "Data.cancel": data_cancel,
    "Data.destroy": data_destroy,
    "Data.ls": data_ls,
}


def error_object(exc):
    tb = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, PluginError):
        code, params = exc.code, exc.params
    elif isinstance(exc, KeyError):
        code, params = "SR_BACKEND_FAILURE", ["UnmarshalException", "missing parameter " + str(exc)]
    else:
        code, params = "SR_BACKEND_FAILURE", [type(exc).__name__, str(exc)]
    return {"code": code, "params": params,
            "backtrace": {"error": str(exc), "files": [f.filename for f in tb], "lines": [f.lineno for f in tb]}}


def main():
    # matched without regard to case by the bridge, so the link name may differ in case
    method = {m.lower(): m for m in METHODS}.get(os.path.basename(sys.argv[0]).lower(),
                                                 os.path.basename(sys.argv[0]))
    raw = sys.stdin.read()
    log_request(method, raw)
    try:
        if "--json" not in sys.argv[1:]:
            raise failure("UsageError", "run as: " + method + " --json")
        handler = METHODS.get(method)
        if handler is None:
            raise failure("Unimplemented", method)
        args = json.loads(raw)
        if not isinstance(args, dict):
            raise failure("UnmarshalException", "stdin is not a JSON object")
        result = handler(args)
    except Exception as exc:  # every failure becomes the error object the daemon expects
        print(json.dumps(error_object(exc)))
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
