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

    /**
     * This service with every null slot filled by an implementation that overrides nothing: each of its
     * calls throws {@code Unimplemented} with the method's wire name, in process as on the wire (where a
     * null slot answers the same). For a layer that passes modules it does not intercept straight through.
     */
    public StorageService orUnimplemented() {
        return new StorageService(
                query != null ? query : new QueryApi() { },
                dp != null ? dp : new DpApi() { },
                sr != null ? sr : new SrApi() { },
                vdi != null ? vdi : new VdiApi() { },
                getByName != null ? getByName : new GetByNameApi() { },
                data != null ? data : new DataApi() { },
                dataMirror != null ? dataMirror : new DataMirrorApi() { },
                policy != null ? policy : new PolicyApi() { },
                task != null ? task : new TaskApi() { },
                updates != null ? updates : new UpdatesApi() { });
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

    public StorageService withDataMirror(DataMirrorApi m) {
        return new StorageService(query, dp, sr, vdi, getByName, data, m, policy, task, updates);
    }

    public StorageService withTask(TaskApi t) {
        return new StorageService(query, dp, sr, vdi, getByName, data, dataMirror, policy, t, updates);
    }

    public StorageService withUpdates(UpdatesApi u) {
        return new StorageService(query, dp, sr, vdi, getByName, data, dataMirror, policy, task, u);
    }
}
