package org.xenstorage.smapiv1.exec;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.xenstorage.idl.errors.StorageException;

/** xapi's result parsers for SMAPIv1 commands (spec section 3.4). */
public final class SmResults {
    private SmResults() {
    }

    /** A driver's {@code {location, uuid}} answer. */
    public record VdiRef(String location, String uuid) {
    }

    /**
     * unit. Lenient where xapi is strict: any value is accepted and ignored (QUIRK: xapi's strict nil
     * check turns a driver's harmless non-nil answer into an Internal_error).
     */
    public static void unit(Object value) {
        // accepted whatever it is
    }

    /** string: the driver must answer a string. */
    public static String string(Object value) {
        if (value instanceof String s) {
            return s;
        }
        throw SmErrors.parseFailure(pretty(value), "XMLRPC unmarshall RunTimeTypeError: looking for string found "
                + pretty(value));
    }

    /** vdi_info: a struct whose every member is a string; uuid and location required. */
    public static VdiRef vdiInfo(Object value) {
        if (!(value instanceof Map<?, ?> m)) {
            throw SmErrors.parseFailure(pretty(value), "XMLRPC unmarshall RunTimeTypeError: looking for struct found "
                    + pretty(value));
        }
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String)) {
                throw SmErrors.parseFailure(pretty(value), "XMLRPC unmarshall RunTimeTypeError: looking for string found "
                        + pretty(e.getValue()));
            }
        }
        for (String k : new String[] {"uuid", "location"}) {
            if (!m.containsKey(k)) {
                throw SmErrors.parseFailure(pretty(value), "<struct> missing field: " + k);
            }
        }
        return new VdiRef((String) m.get("location"), (String) m.get("uuid"));
    }

    /** attach_result: params_nbd required; o_direct defaults to true, xenstore_data to empty. */
    public static AttachResult attachResult(Object value) {
        if (!(value instanceof Map<?, ?> m)) {
            throw SmErrors.parseFailure(pretty(value), "XMLRPC unmarshall RunTimeTypeError: looking for struct found "
                    + pretty(value));
        }
        if (!(m.get("params_nbd") instanceof String nbd)) {
            throw SmErrors.parseFailure(pretty(value), "<struct> missing field: params_nbd");
        }
        Optional<String> params = m.get("params") instanceof String p ? Optional.of(p) : Optional.empty();
        boolean oDirect = !(m.get("o_direct") instanceof Boolean b) || b;
        String reason = m.get("o_direct_reason") instanceof String r ? r : "";
        Map<String, String> xs = new LinkedHashMap<>();
        if (m.get("xenstore_data") instanceof Map<?, ?> x) {
            boolean allStrings = x.values().stream().allMatch(String.class::isInstance);
            if (allStrings) {
                x.forEach((k, v) -> xs.put(String.valueOf(k), (String) v));
            }
        }
        return new AttachResult(params, nbd, oDirect, reason, xs);
    }

    /** A readable rendering of a decoded value for error texts. */
    public static String pretty(Object v) {
        if (v instanceof Object[] a) {
            return Arrays.deepToString(a);
        }
        return String.valueOf(v);
    }

    /** Re-throws as is (helper for lambdas). */
    static StorageException rethrow(StorageException e) {
        return e;
    }
}
