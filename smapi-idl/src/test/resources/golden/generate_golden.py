#!/usr/bin/env python3
"""Writes methods.golden.jsonl: one request/response pair per SMAPIv2 method.

The JSON is built here by hand from rpclib's marshalling rules (records as objects, variants as
["Tag", arg], string-keyed assoc lists as objects, value options as [] / [x], int64 as integers),
independently of the Java codec, so the Java golden test checks the codec against a second
implementation of the rules. Fixture values per OCaml type are mirrored in GoldenFixtures.java.

Two method tables, one per upstream interface version served (docs/smapi-idl.md):
- smapiv2-methods.json: xen-api HEAD (e2ee48d6) ocaml/xapi-idl/storage/storage_interface.ml, 81 methods;
- smapiv2-methods-v25.11.0.json: the same file at tag v25.11.0, 72 methods in its declaration order
  (deprecated flags as that version's comments say).

Run: python3 generate_golden.py > methods.golden.jsonl
     python3 generate_golden.py smapiv2-methods-v25.11.0.json > methods-v25.11.0.golden.jsonl
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = json.load(open(os.path.join(HERE, sys.argv[1] if len(sys.argv) > 1 else "smapiv2-methods.json")))

STRINGISH = {"debug_info", "sr", "vdi", "vm", "dp", "string", "content_id", "image_format", "sock_path",
             "Task.id", "Mirror.id"}

VDI_INFO = {
    "vdi": "vdi-42", "uuid": "0f0e0d0c-0000-4000-8000-000000000042", "content_id": "cid-1",
    "name_label": "disk \u00e9 \"quoted\"", "name_description": "line1\nline2", "ty": "user",
    "metadata_of_pool": "", "is_a_snapshot": True, "snapshot_time": "20240102T03:04:05Z",
    "snapshot_of": "vdi-41", "read_only": False, "cbt_enabled": True, "virtual_size": 10737418240,
    "physical_utilisation": 4096, "persistent": False, "sharable": False,
    "sm_config": {"vdi_type": "vhd", "host_OpaqueRef:1": "RW"}, "tags": ["a", "b"],
}
SR_INFO = {"sr_uuid": "5a5a5a5a-0000-4000-8000-000000000001", "name_label": "sr one", "name_description": "",
           "total_space": 1099511627776, "free_space": 549755813888, "clustered": False, "health": "Healthy"}
MIRROR_T = {"source_vdi": "vdi-1", "dest_vdi": "vdi-2", "state": ["Receiving", "Copying"], "failed": False}
TASK_T = {"id": "task-7", "dbg": "dbg-7", "ctime": 1700000000.5,
          "state": ["Completed", {"duration": 2.25, "result": ["Vdi_info", VDI_INFO]}],
          "subtasks": {"copy": ["Pending", 0.5], "fail": ["Failed", ["Cancelled", "task-7"]]},
          "debug_info": {"k": "v"}, "backtrace": "", "cancellable": True}

FIXTURES = {
    "unit": None,
    "bool": True,
    "int64": 10737418240,
    "int option": 30,
    "(string * string) list": {"uri": "file:///srv/sr1", "key with space": "v\u00e9"},
    "vdi_info": VDI_INFO,
    "vdi_info list": [VDI_INFO, {"vdi": "minimal", "name_label": "only required",
                                 "content_id": "", "name_description": "", "ty": "user", "metadata_of_pool": "",
                                 "is_a_snapshot": False, "snapshot_time": "19700101T00:00:00Z", "snapshot_of": "",
                                 "read_only": False, "cbt_enabled": False, "virtual_size": 0,
                                 "physical_utilisation": 0, "persistent": True, "sharable": False, "sm_config": {},
                                 "tags": []}],
    "sr_info": SR_INFO,
    "sr list": ["sr-a", "sr-b"],
    "(vdi * vdi) list": {"snap-1": "remote-1", "snap-2": "remote-2"},
    "(vdi * vdi_info) list": {"local-1": VDI_INFO},
    "(vdi_info list * sr_info)": [[VDI_INFO], SR_INFO],
    "(sr * vdi_info)": ["sr-a", VDI_INFO],
    "(Dynamic.id list * string)": [[["Task", "task-7"], ["Vdi", "vdi-42"], ["Dp", "vbd/1/xvda"],
                                    ["Mirror", "mirror-1"]], "12"],
    "(Mirror.id * Mirror.t) list": {"mirror-1": MIRROR_T},
    "Mirror.t": MIRROR_T,
    "Mirror.similars": ["cid-1", "cid-2"],
    "Mirror.mirror_receive_result": ["Vhd_mirror", {"mirror_vdi": VDI_INFO, "mirror_datapath": "dp-m",
                                                    "copy_diffs_from": "cid-1", "copy_diffs_to": "vdi-9",
                                                    "dummy_vdi": "vdi-dummy"}],
    "Mirror.operation": ["CopyV1", "copy-1"],
    "Mirror.status": {"failed": False, "complete": False, "progress": 0.25},
    "Task.t": TASK_T,
    "Task.t list": [TASK_T, {"id": "task-8", "dbg": "d", "ctime": 0.0, "state": ["Pending", 0.0], "subtasks": {},
                             "debug_info": {}, "backtrace": "bt", "cancellable": False}],
    "attach_info": {"params": "/dev/sm/backend/x", "o_direct": True, "o_direct_reason": "",
                    "xenstore_data": {"storage-driver-domain": "OpaqueRef:d0"}},
    "backend": {"implementations": [
        ["XenDisk", {"params": "vhd:/srv/sr1/disk-42.vhd", "extra": {}, "backend_type": "vbd3"}],
        ["BlockDevice", {"path": "/dev/sm/backend/disk-42"}],
        ["File", {"path": "/srv/sr1/disk-42.img"}],
        ["Nbd", {"uri": "nbd:unix:/var/run/blktap-control/nbd1.0:exportname=disk-42"}]]},
    "dp_stat_t": {"superstate": ["Activated", "RW"],
                  "dps": {"vbd/1/xvda": ["Activated", "RW"], "vbd/2/xvda": ["Attached", "RO"], "gone": "Detached"}},
    "probe_result": ["Probe", [{"configuration": {"uri": "file:///srv"}, "complete": True, "sr": SR_INFO,
                               "extra_info": {}},
                              {"configuration": {}, "complete": False, "extra_info": {"hint": "x"}}]],
    "query_result": {"driver": "ext", "name": "Local EXT3 VHD", "description": "SR plugin", "vendor": "Citrix",
                     "copyright": "(C)", "version": "1.0", "required_api_version": "1.0",
                     "features": ["SR_PROBE", "VDI_CREATE", "VDI_RESIZE/2"],
                     "configuration": {"device": "local device path"}, "required_cluster_stack": [],
                     "supported_image_formats": ["vhd"], "smapi_version": "SMAPIv1"},
}


def param_value(name, typ):
    if typ in STRINGISH:
        return "%s-\u00e9\"\\" % name
    return FIXTURES[typ]


def result_value(method, typ):
    if typ in STRINGISH:
        return "result of " + method
    return FIXTURES[typ]


def main():
    for n, m in enumerate(METHODS, start=1):
        params = {}
        for p in reversed(m["params"]):  # the OCaml client emits members in reverse declaration order
            params[p["name"]] = param_value(p["name"], p["type"])
        request = {"method": m["method"], "params": [params], "id": n}
        response = {"result": result_value(m["method"], m["returns"]), "error": None, "id": n}
        print(json.dumps({"method": m["method"], "request": request, "response": response},
                         ensure_ascii=False, separators=(",", ":")))


if __name__ == "__main__":
    main()
