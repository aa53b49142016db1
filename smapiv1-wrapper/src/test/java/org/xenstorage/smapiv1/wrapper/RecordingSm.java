package org.xenstorage.smapiv1.wrapper;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.xenstorage.idl.api.Param;
import org.xenstorage.idl.api.RpcMethod;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.FileInfo;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.VdiInfo;

/**
 * The spec's "fake SMAPIv1 backend" (section 6): the SR and VDI modules of the layer below, recording
 * each SM call as {@code "<rpc name> <vdi or sr>[ rw=<bool>]"}, failing calls on request, and counting
 * calls in flight (overall and per VDI) for the serialisation tests. Pure test double: the wrapper's
 * logic is what is under test; the real-driver tests live elsewhere.
 */
final class RecordingSm implements InvocationHandler {
    final List<String> calls = Collections.synchronizedList(new ArrayList<>());
    private final Map<String, Deque<RuntimeException>> failures = new HashMap<>();
    private final AtomicInteger attaches = new AtomicInteger();
    final AtomicInteger inFlight = new AtomicInteger();
    final AtomicInteger maxInFlight = new AtomicInteger();
    final Map<String, AtomicInteger> inFlightPerVdi = new ConcurrentHashMap<>();
    final AtomicInteger maxPerVdi = new AtomicInteger();
    /** Run inside every call, with the call's record (to block, or to observe). */
    volatile Consumer<String> during = c -> { };
    /** Run after every successful call, with the call's record. */
    volatile Consumer<String> after = c -> { };
    /**
     * The backend as an idempotent SM driver would hold it: VDI → "attached RO|RW" or "activated RO|RW";
     * absent when detached. What a real driver's attach ledger records.
     */
    final Map<String, String> ledger = new ConcurrentHashMap<>();
    /** What VDI.create reports as the virtual size made (-1: the requested one). */
    volatile long createdSize = -1;

    StorageService service() {
        return new StorageService(null, null, proxy(SrApi.class), proxy(VdiApi.class), null, null, null, null, null,
                null);
    }

    private <T> T proxy(Class<T> api) {
        return api.cast(Proxy.newProxyInstance(api.getClassLoader(), new Class<?>[]{api}, this));
    }

    /** The next {@code times} calls named {@code rpc} (e.g. {@code VDI.detach}) fail with {@code error}. */
    synchronized void fail(String rpc, StorageError error, int times) {
        Deque<RuntimeException> q = failures.computeIfAbsent(rpc, k -> new ArrayDeque<>());
        for (int i = 0; i < times; i++) {
            q.add(new StorageException(error));
        }
    }

    List<String> calls() {
        synchronized (calls) {
            return List.copyOf(calls);
        }
    }

    void clear() {
        calls.clear();
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) {
        if (method.getDeclaringClass() == Object.class) {
            return switch (method.getName()) {
                case "hashCode" -> System.identityHashCode(proxy);
                case "equals" -> proxy == args[0];
                default -> "RecordingSm";
            };
        }
        String rpc = method.getAnnotation(RpcMethod.class).value();
        Map<String, Object> named = new LinkedHashMap<>();
        for (int i = 0; i < method.getParameters().length; i++) {
            named.put(method.getParameters()[i].getAnnotation(Param.class).value(), args[i]);
        }
        Object target = named.containsKey("vdi") ? named.get("vdi")
                : named.containsKey("vdi_info") ? ((VdiInfo) named.get("vdi_info")).vdi() : named.get("sr");
        String record = rpc + " " + target + (named.containsKey("read_write") ? " rw=" + named.get("read_write") : "");
        calls.add(record);
        String key = String.valueOf(target);
        int now = inFlight.incrementAndGet();
        maxInFlight.accumulateAndGet(now, Math::max);
        int mine = inFlightPerVdi.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
        maxPerVdi.accumulateAndGet(mine, Math::max);
        try {
            during.accept(record);
            RuntimeException failure;
            synchronized (this) {
                Deque<RuntimeException> q = failures.get(rpc);
                failure = q == null ? null : q.poll();
            }
            if (failure != null) {
                throw failure;
            }
            Object result = answer(rpc, named);
            apply(rpc, named);
            after.accept(record);
            if (result == null && method.getReturnType() == long.class) {
                return 0L;
            }
            if (result == null && method.getReturnType() == boolean.class) {
                return false;
            }
            return result;
        } finally {
            inFlightPerVdi.get(key).decrementAndGet();
            inFlight.decrementAndGet();
        }
    }

    private void apply(String rpc, Map<String, Object> a) {
        String vdi = String.valueOf(a.get("vdi"));
        switch (rpc) {
            case "VDI.attach3" -> ledger.merge(vdi, "attached " + (Boolean.TRUE.equals(a.get("read_write")) ? "RW" : "RO"),
                    (old, fresh) -> old);
            case "VDI.activate3" -> ledger.computeIfPresent(vdi, (k, v) -> v.replace("attached", "activated"));
            case "VDI.deactivate" -> ledger.computeIfPresent(vdi, (k, v) -> v.replace("activated", "attached"));
            case "VDI.detach" -> ledger.remove(vdi);
            default -> {
            }
        }
    }

    private Object answer(String rpc, Map<String, Object> a) {
        switch (rpc) {
            case "VDI.attach3":
                // each SM attach gives a distinct backend, so a test can tell whose attach a caller got
                return new Backend(List.of(new Implementation.File(
                        new FileInfo("/dev/sm/" + a.get("sr") + "/" + a.get("vdi") + "#" + attaches.incrementAndGet()))));
            case "VDI.create": {
                VdiInfo req = (VdiInfo) a.get("vdi_info");
                long size = createdSize < 0 ? req.virtualSize() : createdSize;
                return new VdiInfo(req.vdi(), req.uuid(), req.contentId(), req.nameLabel(), req.nameDescription(),
                        req.ty(), req.metadataOfPool(), req.isASnapshot(), req.snapshotTime(), req.snapshotOf(),
                        req.readOnly(), req.cbtEnabled(), size, 0, req.persistent(), req.sharable(), req.smConfig(),
                        req.tags());
            }
            case "SR.stat":
                return null;
            case "SR.scan":
                return List.of();
            case "SR.create":
                return Map.of();
            case "SR.list":
                return List.of();
            default:
                return null;
        }
    }
}
