package org.xenstorage.smapiv1.translation;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.smapiv1.catalogue.XenApi;
import org.xenstorage.smapiv1.catalogue.XenApiFailure;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcDateTime;

/**
 * The records the translation reads and writes around each SMAPIv1 command, over XenAPI (the
 * embedded catalogue or the real xapi) with the backend's own session. A XenAPI failure becomes
 * {@code Backend_error(code, params)}, as upstream turns {@code Server_error} inside SMAPIv1.
 */
final class XapiDb {
    /** {@code Storage_utils.No_VDI}: no VDI with that location in the SR. */
    static final class NoVdi extends RuntimeException {
        NoVdi(String location) {
            super("Storage_utils.No_VDI");
        }
    }

    /** A VDI's ref and its record. */
    record Vdi(String ref, Map<String, Object> rec) {
        String str(String field) {
            Object v = rec.get(field);
            return v == null ? "" : v instanceof XmlRpcDateTime d ? d.xapiText() : String.valueOf(v);
        }

        Map<String, String> map(String field) {
            return XapiDb.stringMap(rec.get(field));
        }
    }

    private final XenApi api;
    private final String session;

    XapiDb(XenApi api, String session) {
        this.api = api;
        this.session = session;
    }

    Object call(String method, Object... args) {
        return callAs(session, method, args);
    }

    /** A call with another session (an SM-only call needs one carrying the SR's {@code _sm_session}). */
    Object callAs(String sessionRef, String method, Object... args) {
        List<Object> params = new ArrayList<>(args.length + 1);
        params.add(sessionRef);
        params.addAll(List.of(args));
        try {
            return api.call(method, params);
        } catch (XenApiFailure f) {
            List<String> d = f.description();
            throw new StorageException(new StorageError.BackendError(d.isEmpty() ? "INTERNAL_ERROR" : d.get(0),
                    d.isEmpty() ? List.of() : d.subList(1, d.size())));
        }
    }

    String srRef(String srUuid) {
        return (String) call("SR.get_by_uuid", srUuid);
    }

    Optional<String> srRefIfKnown(String srUuid) {
        try {
            return Optional.of(srRef(srUuid));
        } catch (StorageException e) {
            return Optional.empty();
        }
    }

    Map<String, Object> srRecord(String srRef) {
        return recordOf(call("SR.get_record", srRef));
    }

    /** This host's PBD device_config for the SR ({@code SR_NO_PBDS} when there is none). */
    Map<String, String> deviceConfig(String srRef, String hostRef) {
        Map<String, Object> pbds = recordOf(call("PBD.get_all_records_where",
                "field \"SR\" = \"" + srRef + "\" and field \"host\" = \"" + hostRef + "\""));
        if (pbds.isEmpty()) {
            throw new StorageException(new StorageError.BackendError("SR_NO_PBDS", List.of(srRef)));
        }
        return stringMap(recordOf(pbds.values().iterator().next()).get("device_config"));
    }

    String pbdRef(String srRef, String hostRef) {
        Map<String, Object> pbds = recordOf(call("PBD.get_all_records_where",
                "field \"SR\" = \"" + srRef + "\" and field \"host\" = \"" + hostRef + "\""));
        if (pbds.isEmpty()) {
            throw new StorageException(new StorageError.BackendError("SR_NO_PBDS", List.of(srRef)));
        }
        return pbds.keySet().iterator().next();
    }

    /** Every VDI of the SR, in the endpoint's order. */
    List<Vdi> vdisOf(String srRef) {
        Map<String, Object> all = recordOf(call("VDI.get_all_records_where", "field \"SR\" = \"" + srRef + "\""));
        List<Vdi> out = new ArrayList<>();
        all.forEach((ref, rec) -> out.add(new Vdi(ref, recordOf(rec))));
        return out;
    }

    /**
     * upstream's {@code find_vdi}: the first VDI of the SR whose location is {@code location}, asked
     * for by SR and location (as upstream's {@code get_records_where}), so a lookup on an SR of
     * thousands of VDIs moves one record, not all of them.
     */
    Vdi findVdi(String srRef, String location) {
        if (location.indexOf('"') >= 0 || location.indexOf('\\') >= 0) {
            // not expressible as a where literal on every xapi: the rare name is looked up the slow way
            for (Vdi v : vdisOf(srRef)) {
                if (location.equals(v.rec().get("location"))) {
                    return v;
                }
            }
            throw new NoVdi(location);
        }
        Map<String, Object> found = recordOf(call("VDI.get_all_records_where",
                "field \"SR\" = \"" + srRef + "\" and field \"location\" = \"" + location + "\""));
        for (Map.Entry<String, Object> e : found.entrySet()) {
            Map<String, Object> rec = recordOf(e.getValue());
            if (location.equals(rec.get("location"))) {
                return new Vdi(e.getKey(), rec);
            }
        }
        throw new NoVdi(location);
    }

    Vdi vdiByUuid(String uuid) {
        String ref = (String) call("VDI.get_by_uuid", uuid);
        return vdi(ref);
    }

    Vdi vdi(String ref) {
        return new Vdi(ref, recordOf(call("VDI.get_record", ref)));
    }

    /** Sets a map key, replacing any previous value. */
    void putMapKey(String cls, String ref, String field, String key, String value) {
        call(cls + ".remove_from_" + field, ref, key);
        call(cls + ".add_to_" + field, ref, key, value);
    }

    static Map<String, Object> recordOf(Object o) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (o instanceof Map<?, ?> in) {
            in.forEach((k, v) -> m.put(String.valueOf(k), v));
        }
        return m;
    }

    static Map<String, String> stringMap(Object o) {
        Map<String, String> m = new LinkedHashMap<>();
        if (o instanceof Map<?, ?> in) {
            in.forEach((k, v) -> m.put(String.valueOf(k), String.valueOf(v)));
        }
        return m;
    }

    static List<String> stringList(Object o) {
        List<String> l = new ArrayList<>();
        if (o instanceof Object[] a) {
            for (Object x : a) {
                l.add(String.valueOf(x));
            }
        } else if (o instanceof List<?> in) {
            in.forEach(x -> l.add(String.valueOf(x)));
        }
        return l;
    }
}
