package org.xenstorage.smapiv1.exec;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcWriter;

/**
 * One SMAPIv1 command as xapi's {@code Sm_exec.make_call} builds it. Null members are absent from
 * the request. {@link #toXml()} emits them in xapi's order (spec section 3.3).
 */
public record SmCall(String hostRef, String command, List<String> args, Map<String, String> deviceConfig,
                     String sessionRef, Map<String, String> srSmConfig, String srRef, String vdiType, String srUuid,
                     String vdiRef, String vdiLocation, String vdiUuid, Map<String, String> driverParams,
                     Map<String, String> vdiSmConfig, String newUuid, String subtaskOf, String vdiOnBoot,
                     Boolean vdiAllowCaching, String localCacheSr) {
    public SmCall {
        Objects.requireNonNull(hostRef, "host_ref");
        Objects.requireNonNull(command, "command");
        args = List.copyOf(args);
        deviceConfig = deviceConfig == null ? Map.of() : deviceConfig;
    }

    /** A bare command: only host_ref, command, args and device_config. */
    public static SmCall of(String hostRef, String command, List<String> args, Map<String, String> deviceConfig) {
        return new SmCall(hostRef, command, args, deviceConfig, null, null, null, null, null, null, null, null, null,
                null, null, null, null, null, null);
    }

    public SmCall withSession(String session, String subtask) {
        return new SmCall(hostRef, command, args, deviceConfig, session, srSmConfig, srRef, vdiType, srUuid, vdiRef,
                vdiLocation, vdiUuid, driverParams, vdiSmConfig, newUuid, subtask, vdiOnBoot, vdiAllowCaching,
                localCacheSr);
    }

    public SmCall withSr(String ref, String uuid) {
        return new SmCall(hostRef, command, args, deviceConfig, sessionRef, srSmConfig, ref, vdiType, uuid, vdiRef,
                vdiLocation, vdiUuid, driverParams, vdiSmConfig, newUuid, subtaskOf, vdiOnBoot, vdiAllowCaching,
                localCacheSr);
    }

    public SmCall withSrSmConfig(Map<String, String> config) {
        return new SmCall(hostRef, command, args, deviceConfig, sessionRef, config, srRef, vdiType, srUuid, vdiRef,
                vdiLocation, vdiUuid, driverParams, vdiSmConfig, newUuid, subtaskOf, vdiOnBoot, vdiAllowCaching,
                localCacheSr);
    }

    /** The members of a command on an existing VDI. */
    public SmCall withVdi(String ref, String location, String uuid, String onBoot, boolean allowCaching) {
        return new SmCall(hostRef, command, args, deviceConfig, sessionRef, srSmConfig, srRef, vdiType, srUuid, ref,
                location, uuid, driverParams, vdiSmConfig, newUuid, subtaskOf, onBoot, allowCaching, localCacheSr);
    }

    /** vdi_create's members (uuid only when xapi wants a fixed one). */
    public SmCall withNewVdi(String type, Map<String, String> smConfig, String fixedUuid) {
        return new SmCall(hostRef, command, args, deviceConfig, sessionRef, srSmConfig, srRef, type, srUuid, vdiRef,
                vdiLocation, fixedUuid, driverParams, smConfig, newUuid, subtaskOf, vdiOnBoot, vdiAllowCaching,
                localCacheSr);
    }

    /** vdi_introduce's members. */
    public SmCall withIntroduce(String location, Map<String, String> smConfig, String uuid) {
        return new SmCall(hostRef, command, args, deviceConfig, sessionRef, srSmConfig, srRef, vdiType, srUuid, vdiRef,
                location, vdiUuid, driverParams, smConfig, uuid, subtaskOf, vdiOnBoot, vdiAllowCaching, localCacheSr);
    }

    public SmCall withDriverParams(Map<String, String> params) {
        return new SmCall(hostRef, command, args, deviceConfig, sessionRef, srSmConfig, srRef, vdiType, srUuid, vdiRef,
                vdiLocation, vdiUuid, params, vdiSmConfig, newUuid, subtaskOf, vdiOnBoot, vdiAllowCaching,
                localCacheSr);
    }

    /** The request struct, members in xapi's emission order. */
    public Map<String, Object> struct() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("host_ref", hostRef);
        m.put("command", command);
        m.put("args", args);
        m.put("device_config", deviceConfig);
        put(m, "session_ref", sessionRef);
        put(m, "sr_sm_config", srSmConfig);
        put(m, "sr_ref", srRef);
        put(m, "vdi_type", vdiType);
        put(m, "sr_uuid", srUuid);
        put(m, "vdi_ref", vdiRef);
        put(m, "vdi_location", vdiLocation);
        put(m, "vdi_uuid", vdiUuid);
        put(m, "driver_params", driverParams);
        put(m, "vdi_sm_config", vdiSmConfig);
        put(m, "new_uuid", newUuid);
        put(m, "subtask_of", subtaskOf);
        put(m, "vdi_on_boot", vdiOnBoot);
        put(m, "vdi_allow_caching", vdiAllowCaching == null ? null : vdiAllowCaching.toString());
        put(m, "local_cache_sr", localCacheSr);
        return m;
    }

    /** The {@code methodCall} document: one param, the struct; method name = command. */
    public String toXml() {
        return XmlRpcWriter.methodCall(command, List.of(struct()));
    }

    private static void put(Map<String, Object> m, String k, Object v) {
        if (v != null) {
            m.put(k, v);
        }
    }
}
