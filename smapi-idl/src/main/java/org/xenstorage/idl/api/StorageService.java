package org.xenstorage.idl.api;

import java.util.List;

/**
 * One implementation of each SMAPIv2 module: what a server dispatches to and what a client proxy
 * offers. A single class implementing several interfaces can fill several slots. A {@code null}
 * slot means the module is not served: its calls answer {@code Unimplemented}.
 */
public record StorageService(QueryApi query, DpApi dp, SrApi sr, VdiApi vdi, GetByNameApi getByName,
                             DataApi data, DataMirrorApi dataMirror, PolicyApi policy, TaskApi task,
                             UpdatesApi updates) {

    /** Every SMAPIv2 module interface, in the order of upstream's declarations. */
    public static final List<Class<?>> MODULES = List.of(QueryApi.class, DpApi.class, SrApi.class, VdiApi.class,
            GetByNameApi.class, DataApi.class, DataMirrorApi.class, PolicyApi.class, TaskApi.class, UpdatesApi.class);

    /** A service where one object implements every module it serves (slots it does not implement are null). */
    public static StorageService of(Object impl) {
        return new StorageService(
                impl instanceof QueryApi q ? q : null,
                impl instanceof DpApi d ? d : null,
                impl instanceof SrApi s ? s : null,
                impl instanceof VdiApi v ? v : null,
                impl instanceof GetByNameApi g ? g : null,
                impl instanceof DataApi da ? da : null,
                impl instanceof DataMirrorApi m ? m : null,
                impl instanceof PolicyApi p ? p : null,
                impl instanceof TaskApi t ? t : null,
                impl instanceof UpdatesApi u ? u : null);
    }

    /** The implementation serving the given module interface, or null. */
    public Object implementationOf(Class<?> module) {
        if (module == QueryApi.class) {
            return query;
        } else if (module == DpApi.class) {
            return dp;
        } else if (module == SrApi.class) {
            return sr;
        } else if (module == VdiApi.class) {
            return vdi;
        } else if (module == GetByNameApi.class) {
            return getByName;
        } else if (module == DataApi.class) {
            return data;
        } else if (module == DataMirrorApi.class) {
            return dataMirror;
        } else if (module == PolicyApi.class) {
            return policy;
        } else if (module == TaskApi.class) {
            return task;
        } else if (module == UpdatesApi.class) {
            return updates;
        }
        throw new IllegalArgumentException("not a SMAPIv2 module: " + module);
    }

    public StorageService withTask(TaskApi t) {
        return new StorageService(query, dp, sr, vdi, getByName, data, dataMirror, policy, t, updates);
    }

    public StorageService withUpdates(UpdatesApi u) {
        return new StorageService(query, dp, sr, vdi, getByName, data, dataMirror, policy, task, u);
    }
}
