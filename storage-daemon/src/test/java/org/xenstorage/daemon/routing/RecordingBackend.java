package org.xenstorage.daemon.routing;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.xenstorage.idl.api.DataApi;
import org.xenstorage.idl.api.DataMirrorApi;
import org.xenstorage.idl.api.DpApi;
import org.xenstorage.idl.api.QueryApi;
import org.xenstorage.idl.api.RpcMethod;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.FileInfo;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.QueryResult;
import org.xenstorage.idl.types.SmapiVersion;
import org.xenstorage.idl.types.VdiInfo;

/**
 * A small in-memory SMAPIv2 backend for tests: records every call it receives ({@code "VDI.attach3 dp sr vdi"}),
 * keeps attached SRs and VDIs in maps, and answers any call a test overrides with {@link #on}. Calls it does not
 * know answer {@code Unimplemented}. Served through a real {@link StorageDispatcher}, so the wire is the real one.
 */
public final class RecordingBackend {
    public final String name;
    public final List<String> calls = Collections.synchronizedList(new ArrayList<>());
    public final Set<String> attached = ConcurrentHashMap.newKeySet();
    public final Map<String, VdiInfo> vdis = new ConcurrentHashMap<>();
    private final Map<String, Function<Object[], Object>> overrides = new ConcurrentHashMap<>();
    private final List<String> features;

    public RecordingBackend(String name, List<String> features) {
        this.name = name;
        this.features = List.copyOf(features);
    }

    public RecordingBackend(String name) {
        this(name, List.of());
    }

    /** Answers {@code wireName} with {@code answer(args)} (throw a StorageException to fail). */
    public RecordingBackend on(String wireName, Function<Object[], Object> answer) {
        overrides.put(wireName, answer);
        return this;
    }

    /** The recorded calls whose method name is {@code wireName}. */
    public List<String> callsOf(String wireName) {
        synchronized (calls) {
            return calls.stream().filter(c -> c.equals(wireName) || c.startsWith(wireName + " ")).toList();
        }
    }

    public StorageDispatcher dispatcher() {
        return new StorageDispatcher(service());
    }

    public StorageService service() {
        java.lang.reflect.InvocationHandler handler = (self, method, args) -> {
            if (method.getDeclaringClass() == Object.class) {
                return method.getName().equals("toString") ? "RecordingBackend(" + name + ")"
                        : method.getName().equals("hashCode") ? System.identityHashCode(self) : self == args[0];
            }
            String wire = method.getAnnotation(RpcMethod.class).value();
            Object[] a = args == null ? new Object[0] : args;
            StringBuilder rec = new StringBuilder(wire);
            for (int i = 1; i < a.length; i++) { // skip dbg
                if (a[i] instanceof String s) {
                    rec.append(' ').append(s);
                } else if (a[i] instanceof Boolean b) {
                    rec.append(' ').append(b ? "rw" : "ro");
                }
            }
            calls.add(rec.toString());
            Function<Object[], Object> o = overrides.get(wire);
            if (o != null) {
                return o.apply(a);
            }
            return standard(wire, a);
        };
        Object proxy = Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {QueryApi.class, SrApi.class, VdiApi.class, DpApi.class, DataApi.class}, handler);
        // a proxy of its own: DATA.MIRROR.stat/list share Java signatures with SR.stat/list
        DataMirrorApi mirror = (DataMirrorApi) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {DataMirrorApi.class}, handler);
        return StorageService.of(proxy).withDataMirror(mirror);
    }

    private Object standard(String wire, Object[] a) {
        switch (wire) {
            case "Query.query":
                return new QueryResult(name, name, "test backend", "test", "none", "1.0", "2.0", features, Map.of(),
                        List.of(), List.of(), SmapiVersion.SMAPIv3);
            case "Query.diagnostics":
                return name + " is fine";
            case "SR.attach":
                attached.add((String) a[1]);
                return null;
            case "SR.detach":
                attached.remove((String) a[1]);
                return null;
            case "SR.list":
                return new ArrayList<>(new java.util.TreeSet<>(attached));
            case "VDI.create": {
                VdiInfo req = (VdiInfo) a[2];
                VdiInfo made = VdiInfo.defaults(name + "-" + req.nameLabel(), req.nameLabel());
                vdis.put(made.vdi(), made);
                return made;
            }
            case "VDI.stat": {
                VdiInfo v = vdis.get((String) a[2]);
                if (v == null) {
                    throw new StorageException(new org.xenstorage.idl.errors.StorageError.VdiDoesNotExist((String) a[2]));
                }
                return v;
            }
            case "VDI.get_by_name": {
                for (VdiInfo v : vdis.values()) {
                    if (v.nameLabel().equals(a[2])) {
                        return v;
                    }
                }
                throw new StorageException(new org.xenstorage.idl.errors.StorageError.VdiDoesNotExist((String) a[2]));
            }
            case "VDI.attach3":
                return new Backend(List.of(new Implementation.File(new FileInfo("/" + name + "/" + a[3]))));
            case "VDI.activate3", "VDI.activate_readonly", "VDI.deactivate", "VDI.detach", "DP.destroy2",
                 "VDI.destroy":
                return null;
            default:
                throw StorageException.unimplemented(wire);
        }
    }
}
