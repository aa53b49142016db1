#!/usr/bin/env python3
"""file: an example SMAPIv3 datapath plugin for volumes that are plain files.

Serves URIs ``file:///<absolute path>``. Datapath.attach hands the file itself to the caller
as a ``File`` implementation; the other calls only check that the file is there, because a raw
file needs no set-up. Every script here is a symlink to this file; the method is the link name.
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
    return "file datapath: stateless"


def attach(args):
    return {"implementations": [["File", {"path": file_of(args["uri"])}]]}


def check(args):
    file_of(args["uri"])
    return None


METHODS = {
    "Plugin.Query": plugin_query,
    "Plugin.diagnostics": plugin_diagnostics,
    "Datapath.attach": attach,
    "Datapath.activate": check,
    "Datapath.activate_readonly": check,
    "Datapath.deactivate": check,
    "Datapath.detach": check,
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
