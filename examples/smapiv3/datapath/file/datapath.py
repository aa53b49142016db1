#!/usr/bin/env python3
"""file: an example SMAPIv3 datapath plugin for volumes that are plain files.

Serves URIs ``file:///<absolute path>``. Datapath.attach hands the file itself to the caller
as a ``File`` implementation; a raw file needs no set-up, so the other calls only check that the
file is there. Every script here is a symlink to this file; the method is the link name.

Every attach/activate/activate_readonly/deactivate/detach is recorded in a "datapath ledger"
next to the volume (``<volume dir>/.datapath-ledger.json``, keyed by the volume's path): whether
the volume is attached and by which domain, whether it is activated and how (rw/ro), and how many
times each call ran. Tests compare it with the daemon's persisted state. Attach by the domain that
holds the volume and detach of a detached volume change nothing but the counter; an attach by
another domain while the volume is attached is refused (and counted as ``attach_refused``), and a
deactivate or detach by another domain changes nothing but its counter (it does not hold the volume).

Python 3 standard library only.
"""

import fcntl
import json
import os
import sys
import traceback
from urllib.parse import urlparse, unquote


class PluginError(Exception):
    def __init__(self, code, params):
        super().__init__(code, params)
        self.code = code
        self.params = [str(p) for p in params]


def log_request(method, raw):
    path = os.environ.get("SMAPIV3_REQUEST_LOG")
    if not path:
        return
    line = json.dumps({"script": "datapath/file/" + method, "argv": sys.argv[1:], "stdin": raw}) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(line)


def file_of(uri):
    u = urlparse(uri)
    path = os.path.normpath(unquote(u.path)) if u.scheme == "file" else ""
    if not path or not os.path.isabs(path):
        raise PluginError("SR_BACKEND_FAILURE", ["InvalidUri", uri])
    if not os.path.isfile(path):
        raise PluginError("SR_BACKEND_FAILURE", ["Volume_does_not_exist", uri])
    return path


LEDGER = ".datapath-ledger.json"
LEDGER_LOCK = ".datapath-ledger.lock"


def ledger_update(path, change):
    """Read-modify-write of the ledger entry of volume ``path`` under an exclusive flock on the
    lock file, the new ledger replacing the old one atomically (temp file, fsync, rename, dir fsync),
    so a process killed at any point leaves either the old or the new ledger."""
    d = os.path.dirname(path)
    ledger = os.path.join(d, LEDGER)
    fd = os.open(os.path.join(d, LEDGER_LOCK), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with open(ledger, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            data = {}
        entry = data.setdefault(path, {"attached": False, "domain": "", "activated": False, "mode": "",
                                       "attach": 0, "attach_refused": 0, "activate": 0, "deactivate": 0,
                                       "detach": 0})
        result = change(entry)
        tmp = ledger + ".tmp"  # one name: the flock makes one writer; a killed writer's file is overwritten
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, ledger)
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return result
    finally:
        os.close(fd)  # closing releases the flock


def plugin_query(args):
    return {
        "plugin": "file",
        "name": "Raw file datapath",
        "description": "Hands a raw volume file to its user as a File implementation",
        "vendor": "xenstorage example",
        "copyright": "(C) the xenstorage authors",
        "version": "1.0",
        "required_api_version": "5.0",
        "features": [],
        "configuration": {},
        "required_cluster_stack": [],
    }


def plugin_diagnostics(args):
    return "file datapath: no set-up per volume; attach/activate recorded in " + LEDGER + " beside each volume"


def attach(args):
    path, domain = file_of(args["uri"]), args["domain"]

    def change(e):
        e["attach"] += 1
        if e["attached"] and e["domain"] != domain:
            e["attach_refused"] += 1
            return e["domain"]
        e["attached"], e["domain"] = True, domain
        return None
    holder = ledger_update(path, change)
    if holder is not None:
        raise PluginError("SR_BACKEND_FAILURE", ["Volume_in_use", args["uri"], "attached by " + holder])
    return {"implementations": [["File", {"path": path}]]}


def activate(mode):
    def run(args):
        path = file_of(args["uri"])

        def change(e):
            e["activate"] += 1
            if not e["attached"]:
                return False
            e["activated"], e["mode"] = True, mode
            return True
        if not ledger_update(path, change):
            raise PluginError("SR_BACKEND_FAILURE", ["Volume_not_attached", args["uri"]])
        return None
    return run


def held_by_another(e, domain):
    # a teardown by a domain that does not hold the volume must not undo the holder's attachment
    return e["attached"] and e["domain"] != domain


def deactivate(args):
    domain = args["domain"]

    def change(e):
        e["deactivate"] += 1
        if not held_by_another(e, domain):
            e["activated"], e["mode"] = False, ""
    ledger_update(file_of(args["uri"]), change)
    return None


def detach(args):
    domain = args["domain"]

    def change(e):
        e["detach"] += 1
        if not held_by_another(e, domain):
            e["attached"], e["domain"], e["activated"], e["mode"] = False, "", False, ""
    ledger_update(file_of(args["uri"]), change)
    return None


def check(args):
    file_of(args["uri"])
    return None


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
}


def main():
    method = os.path.basename(sys.argv[0])
    raw = sys.stdin.read()
    log_request(method, raw)
    try:
        if "--json" not in sys.argv[1:]:
            raise PluginError("SR_BACKEND_FAILURE", ["UsageError", "run as: " + method + " --json"])
        handler = METHODS.get(method)
        if handler is None:
            raise PluginError("SR_BACKEND_FAILURE", ["Unimplemented", method])
        args = json.loads(raw)
        result = handler(args)
    except Exception as exc:  # every failure becomes the error object the daemon expects
        tb = traceback.extract_tb(exc.__traceback__)
        code, params = (exc.code, exc.params) if isinstance(exc, PluginError) else \
            ("SR_BACKEND_FAILURE", [type(exc).__name__, str(exc)])
        print(json.dumps({"code": code, "params": params,
                          "backtrace": {"error": str(exc), "files": [f.filename for f in tb],
                                        "lines": [f.lineno for f in tb]}}))
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
