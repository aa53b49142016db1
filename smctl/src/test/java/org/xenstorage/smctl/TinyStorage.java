package org.xenstorage.smctl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.xenstorage.idl.api.RpcMethod;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.AsyncResult;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DynamicId;
import org.xenstorage.idl.types.FileInfo;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.SrHealth;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.TaskCompletion;
import org.xenstorage.idl.types.TaskInfo;
import org.xenstorage.idl.types.TaskState;
import org.xenstorage.idl.types.UpdatesResult;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;

/**
 * A small but working SMAPIv2 service for smctl's tests, answering on the mux queue as the daemon does:
 * an SR registry (the daemon's extension calls), SRs that must be registered to be created and attached to
 * hold VDIs, VDIs with datapaths, and DATA.copy as a task that moves 25% each time UPDATES.get is polled (so
 * progress is deterministic without sleeping). Every other SMAPIv2 method answers {@code Unimplemented}.
 */
final class TinyStorage {
    private final Map<String, String> registry = new TreeMap<>();
    private final Map<String, SrState> srs = new LinkedHashMap<>();
    private final Map<String, TaskInfo> tasks = new TreeMap<>();
    private final Map<String, String[]> copies = new LinkedHashMap<>(); // task -> {sr, vdi, dest}
    private final List<String> received = new ArrayList<>();
    private final String prefix;
    private int nextVdi = 1;
    private int nextTask = 0;
    private long updateToken = 0;

    private static final class SrState {
        final String type;
        final Map<String, VdiInfo> vdis = new LinkedHashMap<>();
        final Map<String, String> datapaths = new LinkedHashMap<>(); // dp -> "sr/vdi state"
        boolean attached;
        String label;

        SrState(String type, String label) {
            this.type = type;
            this.label = label;
        }
    }

    /** Without UPDATES (as an older daemon): UPDATES.get is unimplemented and copies advance on TASK.stat. */
    private boolean withoutUpdates;

    TinyStorage(String prefix) {
        this.prefix = prefix;
    }

    TinyStorage withoutUpdates() {
        withoutUpdates = true;
        return this;
    }

    /** The requests seen, in order (the JSON-RPC text). */
    synchronized List<String> received() {
        return List.copyOf(received);
    }

    private StorageDispatcher dispatcher;

    synchronized StorageDispatcher dispatcher() {
        if (dispatcher != null) {
            return dispatcher;
        }
        StorageDispatcher d = new StorageDispatcher(service())
                .withExtension("Registry.register", c -> ext(() -> {
                    ObjectNode p = c.namedParams().orElseThrow();
                    String type = p.path("sr_type").asText();
                    if (!type.equals("ext") && !type.equals("file")) {
                        throw new StorageException(new StorageError.BackendError("SR_UNKNOWN_DRIVER", List.of(type)));
                    }
                    registry.put(p.path("sr").asText(), type);
                    return null;
                }))
                .withExtension("Registry.unregister", c -> ext(() -> {
                    registry.remove(c.namedParams().orElseThrow().path("sr").asText());
                    return null;
                }))
                .withExtension("Registry.list", c -> ext(() -> {
                    ObjectNode o = Json.NODES.objectNode();
                    registry.forEach((sr, type) -> o.putObject(sr).put("sr_type", type).put("queue", prefix + "." + type));
                    return o;
                }))
                .withExtension("Registry.types", c -> ext(() -> Json.NODES.arrayNode().add("ext").add("file")))
                .withExtension("Mux.diagnostics", c -> ext(() -> {
                    ObjectNode o = Json.NODES.objectNode();
                    o.put("queue_prefix", prefix);
                    o.put("switch", "test");
                    o.set("types", Json.NODES.arrayNode().add("ext").add("file"));
                    ObjectNode srsNode = o.putObject("srs");
                    registry.forEach((sr, type) -> srsNode.putObject(sr).put("sr_type", type).put("queue", prefix + "." + type));
                    o.set("tasks", WireCodec.encode(new ArrayList<>(tasks.values()),
                            org.xenstorage.idl.rpc.MethodTable.byWireName("TASK.list").orElseThrow().resultType()));
                    ArrayNode dps = o.putArray("datapaths");
                    srs.forEach((sr, s) -> s.datapaths.forEach((dp, st) -> dps.addObject().put("dp", dp).put("sr", sr)
                            .put("state", st)));
                    o.putObject("backends").putObject("ext").put("queue", prefix + ".ext").put("alive", true);
                    return o;
                }));
        dispatcher = d;
        return d;
    }

    /** Handles one request text as the daemon's queue would, recording it. */
    CompletableFuture<String> handle(String request) {
        synchronized (this) {
            received.add(request);
        }
        return dispatcher().dispatch(request);
    }

    private interface Body {
        JsonNode run();
    }

    private CompletableFuture<JsonNode> ext(Body body) {
        synchronized (this) {
            try {
                return CompletableFuture.completedFuture(body.run());
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
    }

    private StorageService service() {
        InvocationHandler h = (proxy, method, args) -> {
            if (method.getDeclaringClass() == Object.class) {
                return switch (method.getName()) {
                    case "toString" -> "TinyStorage";
                    case "hashCode" -> System.identityHashCode(proxy);
                    default -> proxy == args[0];
                };
            }
            RpcMethod rpc = method.getAnnotation(RpcMethod.class);
            synchronized (this) {
                return call(rpc.value(), args == null ? new Object[0] : args);
            }
        };
        // one proxy per module: several modules declare methods of the same Java signature (SR.list, TASK.list)
        Object[] slots = StorageService.MODULES.stream()
                .map(m -> Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {m}, h)).toArray();
        try {
            return (StorageService) StorageService.class.getDeclaredConstructors()[0].newInstance(slots);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    private SrState attached(String sr) {
        SrState s = srs.get(sr);
        if (s == null || !s.attached) {
            throw new StorageException(new StorageError.SrNotAttached(sr));
        }
        return s;
    }

    private VdiInfo vdi(String sr, String vdi) {
        VdiInfo v = attached(sr).vdis.get(vdi);
        if (v == null) {
            throw new StorageException(new StorageError.VdiDoesNotExist(vdi));
        }
        return v;
    }

    @SuppressWarnings("unchecked")
    private Object call(String wire, Object[] a) {
        switch (wire) {
            case "SR.create": {
                String sr = (String) a[1];
                String type = registry.get(sr);
                if (type == null) {
                    throw new StorageException(new StorageError.NoStoragePluginForSr(sr));
                }
                Map<String, String> config = (Map<String, String>) a[4];
                if (!config.containsKey("path")) {
                    throw new StorageException(new StorageError.MissingConfigurationParameter("path"));
                }
                srs.put(sr, new SrState(type, (String) a[2]));
                return config;
            }
            case "SR.attach": {
                SrState s = srs.get((String) a[1]);
                if (s == null) {
                    throw new StorageException(new StorageError.NoStoragePluginForSr((String) a[1]));
                }
                s.attached = true;
                return null;
            }
            case "SR.detach":
                attached((String) a[1]).attached = false;
                return null;
            case "SR.list":
                return srs.entrySet().stream().filter(e -> e.getValue().attached).map(Map.Entry::getKey).toList();
            case "SR.stat": {
                SrState s = attached((String) a[1]);
                long used = s.vdis.values().stream().mapToLong(VdiInfo::virtualSize).sum();
                return new SrInfo(Optional.of((String) a[1]), s.label, "", 100L << 30, (100L << 30) - used, false,
                        SrHealth.Healthy);
            }
            case "SR.scan":
                return new ArrayList<>(attached((String) a[1]).vdis.values());
            case "VDI.create": {
                String sr = (String) a[1];
                SrState s = attached(sr);
                VdiInfo info = (VdiInfo) a[2];
                String key = "vdi-" + nextVdi++;
                long size = (info.virtualSize() + 4095) / 4096 * 4096; // rounded up to whole 4 KiB blocks
                VdiInfo created = info.withVdi(key).withUuid(Optional.of("uuid-" + key)).withSizes(size, 0);
                s.vdis.put(key, created);
                return created;
            }
            case "VDI.stat":
                return vdi((String) a[1], (String) a[2]);
            case "VDI.destroy":
                vdi((String) a[1], (String) a[2]);
                attached((String) a[1]).vdis.remove((String) a[2]);
                return null;
            case "VDI.attach3": {
                String sr = (String) a[2];
                String v = (String) a[3];
                vdi(sr, v);
                attached(sr).datapaths.put((String) a[1], v + " attached " + ((boolean) a[5] ? "RW" : "RO"));
                return new Backend(List.of(new Implementation.File(new FileInfo("/srv/" + sr + "/" + v + ".img"))));
            }
            case "VDI.activate3": {
                String sr = (String) a[2];
                String v = (String) a[3];
                vdi(sr, v);
                String dp = (String) a[1];
                String state = attached(sr).datapaths.get(dp);
                if (state == null) {
                    throw new StorageException(new StorageError.InternalError("datapath " + dp + " is not attached"));
                }
                attached(sr).datapaths.put(dp, state.replace("attached", "activated"));
                return null;
            }
            case "DATA.copy": {
                String sr = (String) a[1];
                String v = (String) a[2];
                vdi(sr, v);
                String id = Integer.toString(nextTask++);
                tasks.put(id, new TaskInfo(id, (String) a[0], 1.0, new TaskState.Pending(0), Map.of(), Map.of(), "()",
                        true));
                copies.put(id, new String[] {sr, v, (String) a[5]});
                return id;
            }
            case "TASK.stat": {
                if (withoutUpdates) {
                    advanceCopies();
                }
                TaskInfo t = tasks.get((String) a[1]);
                if (t == null) {
                    throw new StorageException(new StorageError.DoesNotExist("task", (String) a[1]));
                }
                return t;
            }
            case "TASK.destroy":
                if (tasks.remove((String) a[1]) == null) {
                    throw new StorageException(new StorageError.DoesNotExist("task", (String) a[1]));
                }
                return null;
            case "TASK.list":
                return new ArrayList<>(tasks.values());
            case "UPDATES.get":
                if (withoutUpdates) {
                    throw StorageException.unimplemented(wire);
                }
                return CompletableFuture.completedFuture(advanceCopies());
            default:
                throw StorageException.unimplemented(wire);
        }
    }

    /** Moves every running copy on by a quarter and reports those that moved. */
    private UpdatesResult advanceCopies() {
        List<DynamicId> changed = new ArrayList<>();
        for (Map.Entry<String, String[]> e : copies.entrySet()) {
            TaskInfo t = tasks.get(e.getKey());
            if (t == null || !(t.state() instanceof TaskState.Pending p)) {
                continue;
            }
            double next = p.progress() + 0.25;
            TaskState state;
            if (next >= 1.0) {
                String[] c = e.getValue();
                try {
                    VdiInfo src = vdi(c[0], c[1]);
                    SrState dest = attached(c[2]);
                    String key = "vdi-" + nextVdi++;
                    VdiInfo copy = src.withVdi(key).withUuid(Optional.of("uuid-" + key));
                    dest.vdis.put(key, copy);
                    state = new TaskState.Completed(new TaskCompletion(2.0,
                            Optional.of(new AsyncResult.VdiInfoResult(copy))));
                } catch (StorageException failure) {
                    state = new TaskState.Failed(WireCodec.encode(failure.error(), StorageError.class));
                }
            } else {
                state = new TaskState.Pending(next);
            }
            tasks.put(t.id(), new TaskInfo(t.id(), t.dbg(), t.ctime(), state, t.subtasks(), t.debugInfo(), t.backtrace(),
                    t.cancellable()));
            changed.add(new DynamicId.Task(t.id()));
        }
        if (!changed.isEmpty()) {
            updateToken++;
        }
        return new UpdatesResult(changed, Long.toString(updateToken));
    }
}
