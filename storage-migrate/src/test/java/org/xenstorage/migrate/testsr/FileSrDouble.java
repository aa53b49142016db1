package org.xenstorage.migrate.testsr;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.xenstorage.idl.api.DpApi;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.FileInfo;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.NbdInfo;
import org.xenstorage.idl.types.Scan2Result;
import org.xenstorage.idl.types.SrHealth;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.testing.Soon;

/**
 * TEST DOUBLE (pure-logic stand-in for a SMAPIv2 backend, not a real one): SRs are directories,
 * VDIs are sparse files, attach hands out {@code File} paths. It records calls, tracks which
 * datapaths hold each VDI, and can be told to fail a call, so the copy orchestration's logic is
 * testable without the SMAPIv1/SMAPIv3 backends. The end-to-end tests use the real backends.
 */
public final class FileSrDouble {
    private static final org.xenstorage.exec.ChildProcessRunner CP = new org.xenstorage.exec.ChildProcessRunner();
    private final Path root;
    private final Map<String, Map<String, VdiInfo>> srs = new ConcurrentHashMap<>();
    /** "sr/vdi" -> dps holding it (attached or activated). */
    private final Map<String, Set<String>> holders = new ConcurrentHashMap<>();
    private final List<String> calls = new CopyOnWriteArrayList<>();
    private final Map<String, StorageError> failures = new ConcurrentHashMap<>();
    private volatile boolean nbdOnly;
    private final Map<String, java.util.concurrent.CountDownLatch> gates = new ConcurrentHashMap<>();

    public FileSrDouble(Path root) {
        this.root = root;
    }

    /** Adds an SR (a directory). */
    public void addSr(String sr) throws IOException {
        Files.createDirectories(root.resolve(sr));
        srs.put(sr, new ConcurrentHashMap<>());
    }

    /** Makes {@code method} (e.g. {@code "VDI.attach3@sr2"} or {@code "VDI.create"}) fail with {@code error}. */
    public void failOn(String method, StorageError error) {
        failures.put(method, error);
    }

    /** Makes {@code method} (as in {@link #failOn}) wait until {@code gate} opens before running. */
    public void blockOn(String method, java.util.concurrent.CountDownLatch gate) {
        gates.put(method, gate);
    }

    /** Attach answers with an Nbd implementation only. */
    public void offerOnlyNbd() {
        nbdOnly = true;
    }

    public List<String> calls() {
        return List.copyOf(calls);
    }

    public void clearCalls() {
        calls.clear();
    }

    /** Datapaths currently holding the VDI. */
    public Set<String> holders(String sr, String vdi) {
        return Set.copyOf(holders.getOrDefault(sr + "/" + vdi, Set.of()));
    }

    public Path file(String sr, String vdi) {
        return root.resolve(sr).resolve(vdi);
    }

    public Map<String, VdiInfo> vdis(String sr) {
        return Map.copyOf(srs.get(sr));
    }

    /** A StorageService over this double; calls it does not implement answer Unimplemented. */
    public StorageService service() {
        return new StorageService(null, proxy(DpApi.class), proxy(SrApi.class), proxy(VdiApi.class), null, null, null,
                null, null, null);
    }

    private <T> T proxy(Class<T> api) {
        return api.cast(Proxy.newProxyInstance(api.getClassLoader(), new Class<?>[] {api}, (p, m, args) -> {
            if (m.getDeclaringClass() == Object.class) {
                return m.invoke(this, args);
            }
            String wire = m.getAnnotation(org.xenstorage.idl.api.RpcMethod.class).value();
            String sr = srArg(m, args);
            calls.add(wire + (sr == null ? "" : "@" + sr));
            var gate = gates.getOrDefault(wire + "@" + sr, gates.get(wire));
            if (gate != null) {
                gate.await();
            }
            StorageError f = failures.getOrDefault(wire + "@" + sr, failures.get(wire));
            if (f != null) {
                throw new StorageException(f);
            }
            Method impl = Arrays.stream(FileSrDouble.class.getDeclaredMethods())
                    .filter(x -> x.getName().equals(api.getSimpleName() + "_" + m.getName())).findFirst()
                    .orElseThrow(() -> StorageException.unimplemented(wire));
            try {
                impl.setAccessible(true);
                return impl.invoke(this, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }));
    }

    private static String srArg(Method m, Object[] args) {
        var params = m.getParameters();
        for (int i = 0; i < params.length; i++) {
            var a = params[i].getAnnotation(org.xenstorage.idl.api.Param.class);
            if (a != null && a.value().equals("sr")) {
                return (String) args[i];
            }
        }
        return null;
    }

    private Map<String, VdiInfo> sr(String sr) {
        Map<String, VdiInfo> m = srs.get(sr);
        if (m == null) {
            throw new StorageException(new StorageError.SrNotAttached(sr));
        }
        return m;
    }

    private VdiInfo vdi(String sr, String vdi) {
        VdiInfo v = sr(sr).get(vdi);
        if (v == null) {
            throw new StorageException(new StorageError.VdiDoesNotExist(vdi));
        }
        return v;
    }

    // ---- SR
    List<String> SrApi_list(String dbg) {
        return new ArrayList<>(srs.keySet());
    }

    Scan2Result SrApi_scan2(String dbg, String sr) {
        return new Scan2Result(new ArrayList<>(sr(sr).values()),
                new SrInfo(Optional.of(sr), sr, "", 1L << 40, 1L << 40, false, SrHealth.Healthy));
    }

    // ---- VDI
    VdiInfo VdiApi_create(String dbg, String sr, VdiInfo info) throws IOException {
        String key = UUID.randomUUID().toString();
        try (RandomAccessFile f = new RandomAccessFile(file(sr, key).toFile(), "rw")) {
            f.setLength(info.virtualSize());
        }
        VdiInfo v = info.withVdi(key).withUuid(Optional.of(key)).withContentId("");
        sr(sr).put(key, v);
        return v;
    }

    VdiInfo VdiApi_clone(String dbg, String sr, VdiInfo info) throws IOException {
        VdiInfo orig = vdi(sr, info.vdi());
        String key = UUID.randomUUID().toString();
        // cp keeps holes (Files.copy would fill them), as a real SR's clone would
        var r = CP.run(org.xenstorage.exec.ExecRequest.of(List.of("/usr/bin/cp", "--sparse=always",
                file(sr, orig.vdi()).toString(), file(sr, key).toString()), Map.of(), Soon.timeout()));
        if (!r.succeeded()) {
            throw new IOException("cp failed: " + r.stderrText());
        }
        VdiInfo v = orig.withVdi(key).withUuid(Optional.of(key));
        sr(sr).put(key, v);
        return v;
    }

    VdiInfo VdiApi_snapshot(String dbg, String sr, VdiInfo info) throws IOException {
        return VdiApi_clone(dbg, sr, info).withSnapshot(true, VdiInfo.EPOCH, info.vdi());
    }

    long VdiApi_resize(String dbg, String sr, String vdi, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file(sr, vdi).toFile(), "rw")) {
            f.setLength(size);
        }
        VdiInfo v = vdi(sr, vdi).withSizes(size, 0);
        sr(sr).put(vdi, v);
        return size;
    }

    void VdiApi_destroy(String dbg, String sr, String vdi) throws IOException {
        vdi(sr, vdi);
        if (!holders(sr, vdi).isEmpty()) {
            throw new StorageException(new StorageError.BackendError("VDI_IN_USE", List.of(vdi)));
        }
        sr(sr).remove(vdi);
        Files.deleteIfExists(file(sr, vdi));
    }

    void VdiApi_removeFromSmConfig(String dbg, String sr, String vdi, String key) {
        Map<String, String> c = new java.util.HashMap<>(vdi(sr, vdi).smConfig());
        c.remove(key);
        sr(sr).put(vdi, vdi(sr, vdi).withSmConfig(c));
    }

    VdiInfo VdiApi_stat(String dbg, String sr, String vdi) {
        return vdi(sr, vdi);
    }

    List<VdiInfo> VdiApi_similarContent(String dbg, String sr, String vdi) {
        VdiInfo v = vdi(sr, vdi);
        return v.contentId().isEmpty() ? List.of() : List.of(v);
    }

    void VdiApi_setContentId(String dbg, String sr, String vdi, String contentId) {
        sr(sr).put(vdi, vdi(sr, vdi).withContentId(contentId));
    }

    Backend VdiApi_attach3(String dbg, String dp, String sr, String vdi, String vm, boolean rw) {
        vdi(sr, vdi);
        holders.computeIfAbsent(sr + "/" + vdi, k -> ConcurrentHashMap.newKeySet()).add(dp);
        Implementation impl = nbdOnly
                ? new Implementation.Nbd(new NbdInfo("nbd:unix:/run/x.sock:exportname=" + vdi))
                : new Implementation.File(new FileInfo(file(sr, vdi).toString()));
        return new Backend(List.of(impl));
    }

    void VdiApi_activate3(String dbg, String dp, String sr, String vdi, String vm) {
        if (!holders(sr, vdi).contains(dp)) {
            throw StorageException.internal("activate3 by a dp that never attached");
        }
    }

    void VdiApi_deactivate(String dbg, String dp, String sr, String vdi, String vm) {
    }

    void VdiApi_detach(String dbg, String dp, String sr, String vdi, String vm) {
        Set<String> h = holders.get(sr + "/" + vdi);
        if (h != null) {
            h.remove(dp);
        }
    }

    // ---- DP
    void DpApi_destroy2(String dbg, String dp, String sr, String vdi, String vm, boolean allowLeak) {
        VdiApi_detach(dbg, dp, sr, vdi, vm);
    }
}
