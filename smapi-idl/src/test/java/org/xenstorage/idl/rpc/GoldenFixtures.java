package org.xenstorage.idl.rpc;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.types.AttachInfo;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.BlockDeviceInfo;
import org.xenstorage.idl.types.DpStat;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.DynamicId;
import org.xenstorage.idl.types.FileInfo;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.MirrorInfo;
import org.xenstorage.idl.types.MirrorOperation;
import org.xenstorage.idl.types.MirrorReceiveResult;
import org.xenstorage.idl.types.MirrorState;
import org.xenstorage.idl.types.MirrorStatus;
import org.xenstorage.idl.types.NbdInfo;
import org.xenstorage.idl.types.Probe;
import org.xenstorage.idl.types.ProbeResult;
import org.xenstorage.idl.types.QueryResult;
import org.xenstorage.idl.types.RoRw;
import org.xenstorage.idl.types.Scan2Result;
import org.xenstorage.idl.types.SmapiVersion;
import org.xenstorage.idl.types.SrHealth;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.SrVdi;
import org.xenstorage.idl.types.TaskCompletion;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.UpdatesResult;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.types.XenDiskInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;

/**
 * The Java values of the fixtures that {@code golden/generate_golden.py} writes as JSON, per OCaml type
 * name of {@code smapiv2-methods.json}. The two are written independently: the golden test checks that the
 * codec maps one onto the other in both directions.
 */
final class GoldenFixtures {
    static final Set<String> STRINGISH = Set.of("debug_info", "sr", "vdi", "vm", "dp", "string", "content_id",
            "image_format", "sock_path", "Task.id", "Mirror.id");

    static final VdiInfo VDI_INFO = new VdiInfo("vdi-42", Optional.of("0f0e0d0c-0000-4000-8000-000000000042"), "cid-1",
            "disk \u00e9 \"quoted\"", "line1\nline2", "user", "", true, "20240102T03:04:05Z", "vdi-41", false, true,
            10737418240L, 4096, false, false, ordered("vdi_type", "vhd", "host_OpaqueRef:1", "RW"), List.of("a", "b"));
    static final SrInfo SR_INFO = new SrInfo(Optional.of("5a5a5a5a-0000-4000-8000-000000000001"), "sr one", "",
            1099511627776L, 549755813888L, false, SrHealth.Healthy);
    static final MirrorInfo MIRROR_T = new MirrorInfo("vdi-1", "vdi-2", List.of(MirrorState.Receiving, MirrorState.Copying),
            false);
    static final TaskInfo TASK_T = new TaskInfo("task-7", "dbg-7", 1700000000.5,
            new TaskState.Completed(new TaskCompletion(2.25, Optional.of(new AsyncResult.VdiInfoResult(VDI_INFO)))),
            orderedStates("copy", new TaskState.Pending(0.5), "fail",
                    new TaskState.Failed(WireCodec.encode(new StorageError.Cancelled("task-7"), StorageError.class))),
            Map.of("k", "v"), "", true);

    private static final Map<String, Object> BY_TYPE = new LinkedHashMap<>();

    static {
        BY_TYPE.put("bool", true);
        BY_TYPE.put("int64", 10737418240L);
        BY_TYPE.put("int option", Optional.of(30));
        BY_TYPE.put("(string * string) list", ordered("uri", "file:///srv/sr1", "key with space", "v\u00e9"));
        BY_TYPE.put("vdi_info", VDI_INFO);
        BY_TYPE.put("vdi_info list", List.of(VDI_INFO, VdiInfo.defaults("minimal", "only required")));
        BY_TYPE.put("sr_info", SR_INFO);
        BY_TYPE.put("sr list", List.of("sr-a", "sr-b"));
        BY_TYPE.put("(vdi * vdi) list", ordered("snap-1", "remote-1", "snap-2", "remote-2"));
        BY_TYPE.put("(vdi * vdi_info) list", Map.of("local-1", VDI_INFO));
        BY_TYPE.put("(vdi_info list * sr_info)", new Scan2Result(List.of(VDI_INFO), SR_INFO));
        BY_TYPE.put("(sr * vdi_info)", new SrVdi("sr-a", VDI_INFO));
        BY_TYPE.put("(Dynamic.id list * string)", new UpdatesResult(List.of(new DynamicId.Task("task-7"),
                new DynamicId.Vdi("vdi-42"), new DynamicId.Dp("vbd/1/xvda"), new DynamicId.Mirror("mirror-1")), "12"));
        BY_TYPE.put("(Mirror.id * Mirror.t) list", Map.of("mirror-1", MIRROR_T));
        BY_TYPE.put("Mirror.t", MIRROR_T);
        BY_TYPE.put("Mirror.similars", List.of("cid-1", "cid-2"));
        BY_TYPE.put("Mirror.mirror_receive_result", new MirrorReceiveResult.VhdMirror(
                new MirrorReceiveResult.Vhd(VDI_INFO, "dp-m", Optional.of("cid-1"), "vdi-9", "vdi-dummy")));
        BY_TYPE.put("Mirror.operation", new MirrorOperation.CopyV1("copy-1"));
        BY_TYPE.put("Mirror.status", new MirrorStatus(false, false, Optional.of(0.25)));
        BY_TYPE.put("Task.t", TASK_T);
        BY_TYPE.put("Task.t list", List.of(TASK_T, new TaskInfo("task-8", "d", 0.0, new TaskState.Pending(0.0), Map.of(),
                Map.of(), "bt", false)));
        BY_TYPE.put("attach_info", new AttachInfo("/dev/sm/backend/x", true, "",
                Map.of("storage-driver-domain", "OpaqueRef:d0")));
        BY_TYPE.put("backend", new Backend(List.of(
                new Implementation.XenDisk(new XenDiskInfo("vhd:/srv/sr1/disk-42.vhd", Map.of(), "vbd3")),
                new Implementation.BlockDevice(new BlockDeviceInfo("/dev/sm/backend/disk-42")),
                new Implementation.File(new FileInfo("/srv/sr1/disk-42.img")),
                new Implementation.Nbd(new NbdInfo("nbd:unix:/var/run/blktap-control/nbd1.0:exportname=disk-42")))));
        Map<String, DpState> dps = new LinkedHashMap<>();
        dps.put("vbd/1/xvda", new DpState.Activated(RoRw.RW));
        dps.put("vbd/2/xvda", new DpState.Attached(RoRw.RO));
        dps.put("gone", DpState.DETACHED);
        BY_TYPE.put("dp_stat_t", new DpStat(new DpState.Activated(RoRw.RW), dps));
        BY_TYPE.put("probe_result", new ProbeResult.Probes(List.of(
                new Probe(Map.of("uri", "file:///srv"), true, Optional.of(SR_INFO), Map.of()),
                new Probe(Map.of(), false, Optional.empty(), Map.of("hint", "x")))));
        BY_TYPE.put("query_result", new QueryResult("ext", "Local EXT3 VHD", "SR plugin", "Citrix", "(C)", "1.0", "1.0",
                List.of("SR_PROBE", "VDI_CREATE", "VDI_RESIZE/2"), Map.of("device", "local device path"), List.of(),
                List.of("vhd"), SmapiVersion.SMAPIv1));
    }

    private GoldenFixtures() {
    }

    /** The value a parameter of that name and OCaml type carries in the golden requests. */
    static Object param(String name, String type) {
        if (STRINGISH.contains(type)) {
            return name + "-\u00e9\"\\";
        }
        return require(type);
    }

    /** The value a method of that name and OCaml result type returns in the golden responses (null for unit). */
    static Object result(String method, String type) {
        if (type.equals("unit")) {
            return null;
        }
        if (STRINGISH.contains(type)) {
            return "result of " + method;
        }
        return require(type);
    }

    private static Object require(String type) {
        Object v = BY_TYPE.get(type);
        if (v == null) {
            throw new IllegalArgumentException("no fixture for OCaml type " + type);
        }
        return v;
    }

    static Map<String, String> ordered(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    private static Map<String, TaskState> orderedStates(String k1, TaskState v1, String k2, TaskState v2) {
        Map<String, TaskState> m = new LinkedHashMap<>();
        m.put(k1, v1);
        m.put(k2, v2);
        return m;
    }

    static String json(Object o) {
        return Json.write(WireCodec.encode(o, o.getClass()));
    }
}
