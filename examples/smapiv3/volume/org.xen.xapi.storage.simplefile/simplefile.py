#!/usr/bin/env python3
"""simplefile: an example SMAPIv3 volume plugin keeping each volume as a sparse file.

Layout of an SR directory (given as device-config ``path`` or ``uri=file:///dir``):
  sr.json              the SR's uuid, name and description, and its datapath if not ``file``
  <key>.raw            the volume's data (sparse)
  <key>.json           the volume's metadata (name, description, flags, keys)
  .lock                flock()ed while metadata is changed

Volume URIs are ``file://<path>.raw``, which the ``file`` datapath plugin serves. The optional
device-config key ``datapath=<plugin>`` at SR.create (e.g. ``datapath=qdisk``) names another datapath
plugin: the SR's volumes then have URIs ``<plugin>://<path>.raw`` and are served by it. It is recorded
in sr.json; SR.attach accepts the key only with the same value.

Every script in this directory is a symlink to this file; the method is the link name.
Protocol: ``<Iface.method> --json``, one JSON object on stdin, one JSON value on stdout; on
failure an error object {code, params, backtrace} on stdout and exit status 1.
Python 3 standard library only.
"""

import fcntl
import json
import os
import re
import sys
import traceback
import uuid as uuidlib
from urllib.parse import urlparse, unquote

PLUGIN = "simplefile"
KEY_CHARS = set("0123456789abcdef-")
DEFAULT_DATAPATH = "file"
# a datapath plugin's name is its directory under datapath/ and the scheme of the volumes' URIs
DATAPATH_NAME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,63}")


class PluginError(Exception):
    """An error the daemon maps to a SMAPIv2 error: code plus string params."""

    def __init__(self, code, params):
        super().__init__(code, params)
        self.code = code
        self.params = [str(p) for p in params]


def declared(name, arg):
    # the IDL's declared errors travel as SR_BACKEND_FAILURE [<name>, <arg>]
    return PluginError("SR_BACKEND_FAILURE", [name, arg])


def log_request(method, raw):
    path = os.environ.get("SMAPIV3_REQUEST_LOG")
    if not path:
        return
    line = json.dumps({"script": method, "argv": sys.argv[1:], "stdin": raw}) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(line)


# ---------------------------------------------------------------- SR helpers

def sr_dir_of_config(configuration):
    path = configuration.get("path")
    if path is None and "uri" in configuration:
        u = urlparse(configuration["uri"])
        if u.scheme != "file":
            raise PluginError("SR_BACKEND_FAILURE", ["InvalidConfiguration", "uri must be file:///<dir>"])
        path = unquote(u.path)
    if not path or not os.path.isabs(path):
        raise PluginError("SR_BACKEND_FAILURE", ["InvalidConfiguration", "device-config needs an absolute path"])
    return os.path.normpath(path)


def datapath_of_config(configuration):
    """The datapath plugin named by device-config ``datapath``, checked to be a plain plugin name."""
    name = configuration.get("datapath", DEFAULT_DATAPATH)
    if not isinstance(name, str) or not DATAPATH_NAME.fullmatch(name):
        raise PluginError("SR_BACKEND_FAILURE", ["InvalidConfiguration",
                                                 "datapath must be a datapath plugin name (a URI scheme: a letter, "
                                                 "then letters, digits, '+', '-' or '.'), not " + repr(name)])
    return name


def sr_datapath(sr_dir):
    return read_json(os.path.join(sr_dir, "sr.json")).get("datapath", DEFAULT_DATAPATH)


def sr_dir_of_handle(sr):
    u = urlparse(sr)
    path = os.path.normpath(unquote(u.path)) if u.scheme == "file" else ""
    if not path or not os.path.isfile(os.path.join(path, "sr.json")):
        raise declared("SR_does_not_exist", sr)
    return path


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path, value):
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
        json.dump(value, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Locked:
    def __init__(self, sr_dir):
        self.path = os.path.join(sr_dir, ".lock")

    def __enter__(self):
        self.f = open(self.path, "a")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.f.close()


# ------------------------------------------------------------ volume helpers

def check_key(key):
    if not key or not set(key) <= KEY_CHARS:
        raise declared("Volume_does_not_exist", key)
    return key


def meta_path(sr_dir, key):
    return os.path.join(sr_dir, check_key(key) + ".json")


def data_path(sr_dir, key):
    return os.path.join(sr_dir, check_key(key) + ".raw")


def load_meta(sr_dir, key):
    path = meta_path(sr_dir, key)
    if not os.path.isfile(path):
        raise declared("Volume_does_not_exist", key)
    return read_json(path)


def volume_of(sr_dir, meta, datapath=None):
    data = data_path(sr_dir, meta["key"])
    st = os.stat(data)
    volume = {
        "key": meta["key"],
        "uuid": meta["uuid"],
        "name": meta["name"],
        "description": meta["description"],
        "read_write": meta["read_write"],
        "sharable": meta["sharable"],
        "virtual_size": st.st_size,
        "physical_utilisation": st.st_blocks * 512,
        "uri": ["file://" + data],
        "keys": meta["keys"],
    }
    datapath = datapath or sr_datapath(sr_dir)
    if datapath != DEFAULT_DATAPATH:
        # the SR's own datapath plugin serves the same file under its scheme
        volume["uri"] = [datapath + "://" + data]
    return volume


def new_volume(sr_dir, name, description, size, sharable, read_write, keys):
    key = str(uuidlib.uuid4())
    # 0600 whatever the umask, as LocalfileSR's volumes: a guest's disk is nobody else's to read
    fd = os.open(data_path(sr_dir, key), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)
    meta = {"key": key, "uuid": key, "name": name, "description": description,
            "read_write": read_write, "sharable": sharable, "keys": keys}
    write_json(meta_path(sr_dir, key), meta)
    return meta


def sparse_copy(src, dst):
    # copies only the non-zero 64 KiB blocks, so a thin volume stays thin
    block = 65536
    zero = bytes(block)
    with open(src, "rb") as i, open(dst, "r+b") as o:
        while True:
            chunk = i.read(block)
            if not chunk:
                break
            if chunk != zero[:len(chunk)]:
                o.seek(i.tell() - len(chunk))
                o.write(chunk)


def copy_volume(sr_dir, key, read_write, name_suffix):
    meta = load_meta(sr_dir, key)
    size = os.stat(data_path(sr_dir, key)).st_size
    copy = new_volume(sr_dir, meta["name"] + name_suffix, meta["description"], size, meta["sharable"],
                      read_write, {})
    sparse_copy(data_path(sr_dir, key), data_path(sr_dir, copy["key"]))
    return volume_of(sr_dir, copy)


def all_volumes(sr_dir):
    out = []
    datapath = sr_datapath(sr_dir)
    for entry in sorted(os.listdir(sr_dir)):
        if entry.endswith(".json") and entry != "sr.json" and set(entry[:-5]) <= KEY_CHARS:
            out.append(volume_of(sr_dir, read_json(os.path.join(sr_dir, entry)), datapath))
    return out


def update_meta(args, change):
    sr_dir = sr_dir_of_handle(args["sr"])
    with Locked(sr_dir):
        meta = load_meta(sr_dir, args["key"])
        change(meta)
        write_json(meta_path(sr_dir, args["key"]), meta)
    return None


# ------------------------------------------------------------------ methods

def plugin_query(args):
    return {
        "plugin": PLUGIN,
        "name": "Simple file-backed volumes",
        "description": "Keeps each volume as a sparse file with JSON metadata in the SR directory",
        "vendor": "xenstorage example",
        "copyright": "(C) the xenstorage authors",
        "version": "1.0",
        "required_api_version": "5.0",
        "features": ["SR_ATTACH", "SR_DETACH", "SR_CREATE", "SR_PROBE", "VDI_CREATE", "VDI_DESTROY",
                     "VDI_SNAPSHOT", "VDI_CLONE", "VDI_RESIZE", "THIN_PROVISIONING",
                     "VDI_ACTIVATE_READONLY"],
        "configuration": {"path": "absolute path of the SR directory (or uri=file:///<dir>)",
                          "datapath": "optional, at SR.create: the datapath plugin serving the volumes "
                                      "(default file; e.g. qdisk)"},
        "required_cluster_stack": [],
    }


def plugin_diagnostics(args):
    return "simplefile: no diagnostics beyond the SR directories themselves"


def plugin_ls(args):
    return []


def sr_create(args):
    configuration = args["configuration"]
    sr_dir = sr_dir_of_config(configuration)
    datapath = datapath_of_config(configuration)
    os.makedirs(sr_dir, mode=0o700, exist_ok=True)
    if os.path.exists(os.path.join(sr_dir, "sr.json")):
        raise PluginError("SR_BACKEND_FAILURE", ["SRInUse", sr_dir])
    meta = {"uuid": args["uuid"], "name": args["name"], "description": args["description"]}
    if datapath != DEFAULT_DATAPATH:
        meta["datapath"] = datapath
    write_json(os.path.join(sr_dir, "sr.json"), meta)
    if datapath != DEFAULT_DATAPATH:
        return {"path": sr_dir, "datapath": datapath}
    return {"path": sr_dir}


def sr_attach(args):
    configuration = args["configuration"]
    sr_dir = sr_dir_of_config(configuration)
    handle = "file://" + sr_dir
    sr_dir_of_handle(handle)
    if "datapath" in configuration:
        # attached volumes are found again by their URIs: an SR keeps the datapath it was created with
        wanted, recorded = datapath_of_config(configuration), sr_datapath(sr_dir)
        if wanted != recorded:
            raise PluginError("SR_BACKEND_FAILURE", ["InvalidConfiguration", "the SR at " + sr_dir +
                                                     " was created with datapath " + recorded + ", not " + wanted])
    return handle


def sr_detach(args):
    sr_dir_of_handle(args["sr"])
    return None


def sr_destroy(args):
    sr_dir = sr_dir_of_handle(args["sr"])
    with Locked(sr_dir):
        for entry in os.listdir(sr_dir):
            stem, _, ext = entry.rpartition(".")
            if ext in ("raw", "json") and set(stem) <= KEY_CHARS and stem:
                os.unlink(os.path.join(sr_dir, entry))
        os.unlink(os.path.join(sr_dir, "sr.json"))
    return None


def stat_of(sr_dir, handle):
    meta = read_json(os.path.join(sr_dir, "sr.json"))
    vfs = os.statvfs(sr_dir)
    return {
        "sr": handle,
        "name": meta["name"],
        "uuid": meta["uuid"],
        "description": meta["description"],
        "free_space": vfs.f_bavail * vfs.f_frsize,
        "total_space": vfs.f_blocks * vfs.f_frsize,
        "datasources": [],
        "clustered": False,
        "health": ["Healthy", ""],
    }


def sr_stat(args):
    return stat_of(sr_dir_of_handle(args["sr"]), args["sr"])


def sr_ls(args):
    return all_volumes(sr_dir_of_handle(args["sr"]))


def sr_probe(args):
    configuration = args["configuration"]
    sr_dir = sr_dir_of_config(configuration)
    if os.path.isfile(os.path.join(sr_dir, "sr.json")):
        stat = stat_of(sr_dir, "file://" + sr_dir)
        config = dict(configuration, sr_uuid=stat["uuid"])
        if sr_datapath(sr_dir) != DEFAULT_DATAPATH:
            config["datapath"] = sr_datapath(sr_dir)  # what SR.attach needs to be given back
        return [{"configuration": config, "complete": True, "sr": stat, "extra_info": {}}]
    return [{"configuration": configuration, "complete": False, "extra_info": {}}]


def set_sr_field(args, field, value):
    sr_dir = sr_dir_of_handle(args["sr"])
    with Locked(sr_dir):
        meta = read_json(os.path.join(sr_dir, "sr.json"))
        meta[field] = value
        write_json(os.path.join(sr_dir, "sr.json"), meta)
    return None


def sr_set_name(args):
    return set_sr_field(args, "name", args["new_name"])


def sr_set_description(args):
    return set_sr_field(args, "description", args["new_description"])


def volume_create(args):
    sr_dir = sr_dir_of_handle(args["sr"])
    size = int(args["size"])
    if size < 0:
        raise PluginError("SR_BACKEND_FAILURE", ["InvalidSize", str(size)])
    with Locked(sr_dir):
        meta = new_volume(sr_dir, args["name"], args["description"], size, bool(args["sharable"]), True, {})
    return volume_of(sr_dir, meta)


def volume_destroy(args):
    sr_dir = sr_dir_of_handle(args["sr"])
    with Locked(sr_dir):
        load_meta(sr_dir, args["key"])
        os.unlink(data_path(sr_dir, args["key"]))
        os.unlink(meta_path(sr_dir, args["key"]))
    return None


def volume_stat(args):
    sr_dir = sr_dir_of_handle(args["sr"])
    return volume_of(sr_dir, load_meta(sr_dir, args["key"]))


def volume_snapshot(args):
    sr_dir = sr_dir_of_handle(args["sr"])
    with Locked(sr_dir):
        return copy_volume(sr_dir, args["key"], False, "")


def volume_clone(args):
    sr_dir = sr_dir_of_handle(args["sr"])
    with Locked(sr_dir):
        return copy_volume(sr_dir, args["key"], True, "")


def volume_resize(args):
    sr_dir = sr_dir_of_handle(args["sr"])
    new_size = int(args["new_size"])
    with Locked(sr_dir):
        load_meta(sr_dir, args["key"])
        path = data_path(sr_dir, args["key"])
        if new_size < os.stat(path).st_size:
            raise PluginError("SR_BACKEND_FAILURE_79", ["VDI Invalid size", "shrinking not allowed"])
        os.truncate(path, new_size)
    return None


def volume_set(args):
    return update_meta(args, lambda m: m["keys"].__setitem__(args["k"], args["v"]))


def volume_unset(args):
    return update_meta(args, lambda m: m["keys"].pop(args["k"], None))


def volume_set_name(args):
    return update_meta(args, lambda m: m.__setitem__("name", args["new_name"]))


def volume_set_description(args):
    return update_meta(args, lambda m: m.__setitem__("description", args["new_description"]))


METHODS = {
    "Plugin.Query": plugin_query,
    "Plugin.diagnostics": plugin_diagnostics,
    "Plugin.ls": plugin_ls,
    "SR.create": sr_create,
    "SR.attach": sr_attach,
    "SR.detach": sr_detach,
    "SR.destroy": sr_destroy,
    "SR.stat": sr_stat,
    "SR.ls": sr_ls,
    "SR.probe": sr_probe,
    "SR.set_name": sr_set_name,
    "SR.set_description": sr_set_description,
    "Volume.create": volume_create,
    "Volume.destroy": volume_destroy,
    "Volume.stat": volume_stat,
    "Volume.snapshot": volume_snapshot,
    "Volume.clone": volume_clone,
    "Volume.resize": volume_resize,
    "Volume.set": volume_set,
    "Volume.unset": volume_unset,
    "Volume.set_name": volume_set_name,
    "Volume.set_description": volume_set_description,
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


def main(method, handlers):
    raw = sys.stdin.read()
    log_request(method, raw)
    try:
        if "--json" not in sys.argv[1:]:
            raise PluginError("SR_BACKEND_FAILURE", ["UsageError", "run as: " + method + " --json"])
        handler = handlers.get(method)
        if handler is None:
            raise PluginError("SR_BACKEND_FAILURE", ["Unimplemented", method])
        args = json.loads(raw)
        if not isinstance(args, dict):
            raise PluginError("SR_BACKEND_FAILURE", ["UnmarshalException", "stdin is not a JSON object"])
        result = handler(args)
    except Exception as exc:  # every failure becomes the error object the daemon expects
        print(json.dumps(error_object(exc)))
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main(os.path.basename(sys.argv[0]), METHODS)
