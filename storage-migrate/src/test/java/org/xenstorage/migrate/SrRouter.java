package org.xenstorage.migrate;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.xenstorage.idl.api.DpApi;
import org.xenstorage.idl.api.Param;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;

/**
 * The routing part of the daemon's mux, for tests that wire real backends together without the
 * daemon: a call carrying an {@code sr} goes to the backend registered for that SR; {@code SR.list}
 * is the union of every backend's answer. (The real mux lives in storage-daemon.)
 */
final class SrRouter {
    private final Map<String, StorageService> bySr = new ConcurrentHashMap<>();
    private final List<StorageService> backends = new ArrayList<>();

    void register(String sr, StorageService backend) {
        bySr.put(sr, backend);
        if (!backends.contains(backend)) {
            backends.add(backend);
        }
    }

    StorageService service() {
        return new StorageService(null, proxy(DpApi.class), proxy(SrApi.class), proxy(VdiApi.class), null, null, null,
                null, null, null);
    }

    private <T> T proxy(Class<T> api) {
        return api.cast(Proxy.newProxyInstance(api.getClassLoader(), new Class<?>[] {api}, (p, m, args) -> {
            if (m.getDeclaringClass() == Object.class) {
                return m.invoke(this, args);
            }
            if (api == SrApi.class && m.getName().equals("list")) {
                List<String> all = new ArrayList<>();
                for (StorageService b : backends) {
                    all.addAll(b.sr().list((String) args[0]));
                }
                return all;
            }
            String sr = srArg(m, args);
            StorageService target = sr == null ? null : bySr.get(sr);
            if (target == null) {
                throw new StorageException(new StorageError.NoStoragePluginForSr(String.valueOf(sr)));
            }
            try {
                return m.invoke(target.implementationOf(api), args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }));
    }

    private static String srArg(Method m, Object[] args) {
        var params = m.getParameters();
        for (int i = 0; i < params.length; i++) {
            Param a = params[i].getAnnotation(Param.class);
            if (a != null && a.value().equals("sr")) {
                return (String) args[i];
            }
        }
        return null;
    }
}
