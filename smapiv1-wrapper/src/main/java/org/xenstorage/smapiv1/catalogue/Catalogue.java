package org.xenstorage.smapiv1.catalogue;

import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcDateTime;
import org.xenstorage.statefile.AtomicFile;

/**
 * The embedded stand-in for xapi's database: the SR, VDI, PBD, host, host_metrics, pool, SM, VM
 * (this host's control domain), VBD and message records SM drivers read and write through XenAPI, and
 * task records (in memory: one per driver exec, its {@code subtask_of}), with the generic XenAPI
 * accessors over them ({@code get_by_uuid}, {@code get_record}, {@code get_all_records_where},
 * {@code get_<field>}, {@code set_<field>}, {@code add_to_<map>}, {@code remove_from_<map>}),
 * {@code VDI.db_introduce}, {@code VDI.db_forget}, {@code message.create}, {@code task.create} and
 * {@code task.destroy}. Records hold XenAPI wire values: strings (ints
 * are strings in XenAPI), booleans, string maps, string lists, {@link XmlRpcDateTime}.
 *
 * <p>Persisted with {@link AtomicFile}: record creation and removal ({@code db_introduce},
 * {@code db_forget}, SR records) are written before the call returns; field updates are written by a
 * background flush at most {@link #FLUSH_DELAY_MS} ms later, coalescing bursts (xapi's own database is
 * likewise flushed behind its writes). {@link #close()} flushes. Sessions live in memory only; a session
 * minted for a driver exec carries {@code _sm_session = <SR ref>}, and the SM-only calls are refused
 * with {@code PERMISSION_DENIED} for any other SR, as xapi does.
 */
public final class Catalogue implements XenApi, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Catalogue.class);
    public static final String NULL_REF = "OpaqueRef:NULL";
    private static final List<String> PERSISTED = List.of("host", "host_metrics", "pool", "SM", "SR", "PBD", "VDI",
            "VM", "VBD", "message");
    /** Classes kept in memory only: a task lives as long as the driver call it parents. */
    private static final List<String> TRANSIENT = List.of("task");
    /** Fields the catalogue computes from other records (a where expression on them needs the full view). */
    private static final Set<String> COMPUTED = Set.of("VDIs", "PBDs", "snapshots", "VBDs", "subtasks");
    private static final String DATE_KEY = "dateTime.iso8601";
    /** {@code other_config} key of the host record {@link #configurePool} adds for a member's pool master. */
    private static final String MASTER_MARK = "xenstorage_pool_master";

    /** xapi's SM-only calls: they need a session whose {@code _sm_session} is the SR concerned. */
    private static final Set<String> SM_ONLY = Set.of("VDI.db_introduce", "VDI.db_forget", "VDI.set_virtual_size",
            "VDI.set_physical_utilisation", "VDI.set_read_only", "VDI.set_missing", "VDI.set_sharable",
            "VDI.set_managed", "VDI.set_is_a_snapshot", "VDI.set_snapshot_of", "VDI.set_snapshot_time",
            "VDI.set_metadata_of_pool", "VDI.set_cbt_enabled", "SR.set_virtual_allocation", "SR.set_physical_size",
            "SR.set_physical_utilisation", "PBD.set_device_config");

    private final Path file;
    private final Map<String, Map<String, Map<String, Object>>> tables = new LinkedHashMap<>();
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();
    private final String hostRef;
    /** Field updates are flushed this long after the first unsaved change. */
    public static final long FLUSH_DELAY_MS = 25;
    private final java.util.concurrent.ScheduledExecutorService flusher =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "catalogue-flush");
                t.setDaemon(true);
                return t;
            });
    private boolean flushScheduled;
    private boolean dirty;
    /** SR types whose SRs are recorded {@code shared} (see {@link Pool}). */
    private Set<String> sharedTypes = Set.of();

    /**
     * The pool the catalogue describes, as xapi's database would: xapi decides from {@code pool.master} and
     * {@code SR.shared} which host is an SR's master.
     *
     * @param masterAddress the pool master's address when this host is a pool member; empty: this host is
     *                      the master of its own pool
     * @param sharedTypes   SR types whose SRs are {@code shared} (xapi's {@code SR.create ~shared:true}): on a
     *                      member such an SR's master is the pool master
     */
    public record Pool(Optional<String> masterAddress, Set<String> sharedTypes) {
        /** A pool of one host, nothing shared (the default). */
        public static final Pool SINGLE_HOST = new Pool(Optional.empty(), Set.of());

        public Pool {
            Objects.requireNonNull(masterAddress, "masterAddress");
            sharedTypes = Set.copyOf(sharedTypes);
        }
    }

    /** An in-memory session: {@code srRef} null = unrestricted (the backend's own). */
    private record Session(String uuid, String srRef, boolean internal) {
    }

    private Catalogue(Path file) {
        this.file = file;
        for (String t : PERSISTED) {
            tables.put(t, new LinkedHashMap<>());
        }
        for (String t : TRANSIENT) {
            tables.put(t, new LinkedHashMap<>());
        }
        load();
        if (tables.get("host").isEmpty()) {
            seed();
        }
        // this host: the one record configurePool did not add for a pool master
        this.hostRef = tables.get("host").entrySet().stream()
                .filter(e -> !(e.getValue().get("other_config") instanceof Map<?, ?> oc && oc.containsKey(MASTER_MARK)))
                .map(Map.Entry::getKey).findFirst().orElseThrow();
        if (seedLocalhost()) {
            save();
        }
    }

    /** Opens (or creates, seeded with one host and its pool) the catalogue persisted at {@code file}. */
    public static Catalogue open(Path file) {
        return new Catalogue(file);
    }

    public static String newRef() {
        return "OpaqueRef:" + UUID.randomUUID();
    }

    /** This host's ref. */
    public String hostRef() {
        return hostRef;
    }

    /** This host's uuid (the inventory's {@code INSTALLATION_UUID}). */
    public synchronized String hostUuid() {
        return (String) tables.get("host").get(hostRef).get("uuid");
    }

    /** The uuid of this host's control domain record (the inventory's {@code CONTROL_DOMAIN_UUID}). */
    public synchronized String controlDomainUuid() {
        return (String) tables.get("VM").get(controlDomainRef()).get("uuid");
    }

    /**
     * Gives this host and its control domain the uuids an existing inventory file names, so drivers that
     * read the inventory ({@code util.get_this_host}, {@code util.get_localhost_ref}) find their records.
     */
    public synchronized void adoptIdentity(String hostUuid, String controlDomainUuid) {
        boolean changed = false;
        Map<String, Object> host = tables.get("host").get(hostRef);
        if (!hostUuid.equals(host.get("uuid"))) {
            requireFreeUuid("host", hostUuid);
            host.put("uuid", hostUuid);
            changed = true;
        }
        Map<String, Object> dom0 = tables.get("VM").get(controlDomainRef());
        if (!controlDomainUuid.equals(dom0.get("uuid"))) {
            requireFreeUuid("VM", controlDomainUuid);
            dom0.put("uuid", controlDomainUuid);
            changed = true;
        }
        if (changed) {
            save();
        }
    }

    private void requireFreeUuid(String cls, String uuid) {
        UUID.fromString(uuid); // IllegalArgumentException for a malformed one
        if (findByUuid(cls, uuid).isPresent()) {
            throw new IllegalArgumentException(cls + " uuid " + uuid + " is already taken");
        }
    }

    private String controlDomainRef() {
        return tables.get("VM").entrySet().stream()
                .filter(e -> Boolean.TRUE.equals(e.getValue().get("is_control_domain"))
                        && hostRef.equals(e.getValue().get("resident_on")))
                .map(Map.Entry::getKey).findFirst().orElseThrow();
    }

    // ---- sessions -----------------------------------------------------------------------------

    /** A session for one driver exec; {@code srRef} (nullable) is the SR the driver may change. */
    public String newDriverSession(String srRef) {
        String ref = newRef();
        sessions.put(ref, new Session(UUID.randomUUID().toString(), srRef == null ? NULL_REF : srRef, false));
        return ref;
    }

    /** The backend's own unrestricted session. */
    public String newInternalSession() {
        String ref = newRef();
        sessions.put(ref, new Session(UUID.randomUUID().toString(), null, true));
        return ref;
    }

    public void destroySession(String ref) {
        sessions.remove(ref);
    }

    // ---- direct access for the embedded backend -----------------------------------------------

    /**
     * Makes the pool record and the SRs' {@code shared} flags say what {@code pool} says; persisted. A member's
     * master is a host record of its own ({@code name_label} "pool master") carrying the master's address:
     * reused while the address stays, replaced when it changes. With no master address this host is the master.
     */
    public synchronized void configurePool(Pool pool) {
        Map<String, Map<String, Object>> hosts = tables.get("host");
        hosts.entrySet().removeIf(e -> !e.getKey().equals(hostRef)
                && !pool.masterAddress().equals(Optional.ofNullable(e.getValue().get("address"))));
        String master = hostRef;
        if (pool.masterAddress().isPresent()) {
            master = hosts.keySet().stream().filter(r -> !r.equals(hostRef)).findFirst().orElse(null);
            if (master == null) {
                master = newRef();
                Map<String, Object> h = new LinkedHashMap<>(hosts.get(hostRef));
                h.put("uuid", UUID.randomUUID().toString());
                h.put("name_label", "pool master");
                h.put("name_description", "the pool master named by the pool-master setting");
                h.put("hostname", pool.masterAddress().get());
                h.put("address", pool.masterAddress().get());
                h.put("other_config", new LinkedHashMap<>(Map.of(MASTER_MARK, "true")));
                h.remove("metrics"); // this host's metrics and control domain are not the master's
                h.remove("control_domain");
                hosts.put(master, h);
            }
        }
        for (Map<String, Object> p : tables.get("pool").values()) {
            p.put("master", master);
        }
        sharedTypes = pool.sharedTypes();
        tables.get("SR").values().forEach(sr -> sr.put("shared", sharedTypes.contains(String.valueOf(sr.get("type")))));
        save();
    }

    /** Creates the SR and this host's PBD when the SR is new; refreshes the PBD's device_config. Returns the SR ref. */
    public synchronized String ensureSr(String srUuid, String type, String nameLabel, String nameDescription,
                                        Map<String, String> deviceConfig) {
        String srRef = findByUuid("SR", srUuid).orElse(null);
        if (srRef == null) {
            srRef = newRef();
            Map<String, Object> sr = new LinkedHashMap<>();
            sr.put("uuid", srUuid);
            sr.put("name_label", nameLabel);
            sr.put("name_description", nameDescription);
            sr.put("allowed_operations", List.of());
            sr.put("current_operations", Map.of());
            sr.put("virtual_allocation", "0");
            sr.put("physical_utilisation", "0");
            sr.put("physical_size", "0");
            sr.put("type", type);
            sr.put("content_type", "user");
            sr.put("shared", sharedTypes.contains(type));
            sr.put("other_config", new LinkedHashMap<String, String>());
            sr.put("tags", List.of());
            sr.put("sm_config", new LinkedHashMap<String, String>());
            sr.put("blobs", Map.of());
            sr.put("local_cache_enabled", false);
            sr.put("introduced_by", NULL_REF);
            sr.put("clustered", false);
            sr.put("is_tools_sr", false);
            tables.get("SR").put(srRef, sr);
        }
        String pbd = pbdOf(srRef).orElse(null);
        if (pbd == null) {
            Map<String, Object> rec = new LinkedHashMap<>();
            rec.put("uuid", UUID.randomUUID().toString());
            rec.put("host", hostRef);
            rec.put("SR", srRef);
            rec.put("device_config", new LinkedHashMap<>(deviceConfig));
            rec.put("currently_attached", false);
            rec.put("other_config", new LinkedHashMap<String, String>());
            tables.get("PBD").put(newRef(), rec);
        } else if (!deviceConfig.isEmpty()) {
            tables.get("PBD").get(pbd).put("device_config", new LinkedHashMap<>(deviceConfig));
        }
        save();
        return srRef;
    }

    /** Forgets the SR, its PBDs and its VDI records. */
    public synchronized void forgetSr(String srRef) {
        tables.get("SR").remove(srRef);
        tables.get("PBD").values().removeIf(p -> srRef.equals(p.get("SR")));
        tables.get("VDI").values().removeIf(v -> srRef.equals(v.get("SR")));
        save();
    }

    /** Registers (or refreshes) the SM record of a driver type. */
    public synchronized void putSm(String type, Map<String, Object> fields) {
        Map<String, Map<String, Object>> sm = tables.get("SM");
        String ref = sm.entrySet().stream().filter(e -> type.equals(e.getValue().get("type")))
                .map(Map.Entry::getKey).findFirst().orElse(null);
        Map<String, Object> rec = new LinkedHashMap<>(fields);
        rec.put("type", type);
        if (ref == null) {
            rec.put("uuid", UUID.randomUUID().toString());
            sm.put(newRef(), rec);
        } else {
            rec.put("uuid", sm.get(ref).get("uuid"));
            sm.put(ref, rec);
        }
        save();
    }

    private Optional<String> pbdOf(String srRef) {
        return tables.get("PBD").entrySet().stream()
                .filter(e -> srRef.equals(e.getValue().get("SR")) && hostRef.equals(e.getValue().get("host")))
                .map(Map.Entry::getKey).findFirst();
    }

    private Optional<String> findByUuid(String cls, String uuid) {
        return tables.get(cls).entrySet().stream().filter(e -> uuid.equals(e.getValue().get("uuid")))
                .map(Map.Entry::getKey).findFirst();
    }

    // ---- XenAPI ------------------------------------------------------------------------------------

    @Override
    public Object call(String method, List<Object> params) throws XenApiFailure {
        int dot = method.indexOf('.');
        if (dot <= 0) {
            throw new XenApiFailure("MESSAGE_METHOD_UNKNOWN", method);
        }
        String cls = method.substring(0, dot);
        String op = method.substring(dot + 1);
        if (cls.equals("session")) {
            return sessionCall(op, params, method);
        }
        if (params.isEmpty() || !(params.get(0) instanceof String sessionRef)) {
            throw new XenApiFailure("MESSAGE_PARAMETER_COUNT_MISMATCH", method, "1", "0");
        }
        Session session = sessions.get(sessionRef);
        if (session == null) {
            throw new XenApiFailure("SESSION_INVALID", sessionRef);
        }
        List<Object> args = params.subList(1, params.size());
        synchronized (this) {
            if (!tables.containsKey(cls)) {
                throw new XenApiFailure("MESSAGE_METHOD_UNKNOWN", method);
            }
            if (SM_ONLY.contains(method) && !session.internal()) {
                String concerned = srConcerned(cls, method, args);
                if (!session.srRef().equals(concerned)) {
                    throw new XenApiFailure("PERMISSION_DENIED", method,
                            "the session may change SR " + session.srRef() + " only");
                }
            }
            return dispatch(cls, op, method, args);
        }
    }

    private Object sessionCall(String op, List<Object> params, String method) throws XenApiFailure {
        switch (op) {
            case "login_with_password", "slave_local_login_with_password", "slave_local_login" -> {
                String ref = newRef();
                sessions.put(ref, new Session(UUID.randomUUID().toString(), NULL_REF, false));
                return ref;
            }
            case "logout", "local_logout" -> {
                if (!params.isEmpty() && params.get(0) instanceof String s) {
                    sessions.remove(s);
                }
                return "";
            }
            case "add_to_other_config" -> {
                // only the internal-SR-access token is kept: {@code _sm_session = <SR ref>}
                if (params.size() >= 4 && "_sm_session".equals(params.get(2))) {
                    String self = String.valueOf(params.get(1));
                    Session s = sessions.get(self);
                    if (s == null || !self.equals(params.get(0))) {
                        throw new XenApiFailure("SESSION_INVALID", self);
                    }
                    sessions.put(self, new Session(s.uuid(), String.valueOf(params.get(3)), s.internal()));
                }
                return "";
            }
            case "get_this_host" -> {
                if (params.isEmpty() || !sessions.containsKey(String.valueOf(params.get(0)))) {
                    throw new XenApiFailure("SESSION_INVALID", params.isEmpty() ? "" : String.valueOf(params.get(0)));
                }
                return hostRef;
            }
            default -> throw new XenApiFailure("MESSAGE_METHOD_UNKNOWN", method);
        }
    }

    private String srConcerned(String cls, String method, List<Object> args) throws XenApiFailure {
        if (method.equals("VDI.db_introduce")) {
            return args.size() > 3 ? String.valueOf(args.get(3)) : "";
        }
        String ref = args.isEmpty() ? "" : String.valueOf(args.get(0));
        return switch (cls) {
            case "SR" -> ref;
            case "VDI", "PBD" -> String.valueOf(record(cls, ref).get("SR"));
            default -> "";
        };
    }

    private Object dispatch(String cls, String op, String method, List<Object> args) throws XenApiFailure {
        Map<String, Map<String, Object>> table = tables.get(cls);
        switch (method) {
            case "VDI.db_introduce" -> {
                return dbIntroduce(args);
            }
            case "VDI.db_forget" -> {
                String ref = arg(args, 0, method);
                record(cls, ref);
                table.remove(ref);
                save();
                return "";
            }
            case "task.create" -> {
                Map<String, Object> t = new LinkedHashMap<>();
                t.put("uuid", UUID.randomUUID().toString());
                t.put("name_label", arg(args, 0, method));
                t.put("name_description", args.size() > 1 ? str(args.get(1)) : "");
                t.put("allowed_operations", List.of());
                t.put("current_operations", Map.of());
                t.put("created", XmlRpcDateTime.now());
                t.put("finished", XmlRpcDateTime.EPOCH);
                t.put("status", "pending");
                t.put("resident_on", hostRef);
                t.put("progress", 0.0);
                t.put("type", "");
                t.put("result", "");
                t.put("error_info", List.of());
                t.put("other_config", new LinkedHashMap<String, String>());
                t.put("subtask_of", NULL_REF);
                t.put("backtrace", "()");
                String ref = newRef();
                table.put(ref, t);
                return ref;
            }
            case "task.destroy" -> {
                String ref = arg(args, 0, method);
                record(cls, ref);
                table.remove(ref);
                return "";
            }
            case "message.create" -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("uuid", UUID.randomUUID().toString());
                m.put("name", arg(args, 0, method));
                m.put("priority", String.valueOf(args.size() > 1 ? args.get(1) : ""));
                m.put("cls", String.valueOf(args.size() > 2 ? args.get(2) : ""));
                m.put("obj_uuid", String.valueOf(args.size() > 3 ? args.get(3) : ""));
                m.put("body", String.valueOf(args.size() > 4 ? args.get(4) : ""));
                m.put("timestamp", XmlRpcDateTime.now());
                String ref = newRef();
                table.put(ref, m);
                save();
                return ref;
            }
            default -> {
                // generic accessors below
            }
        }
        switch (op) {
            case "get_all" -> {
                return new ArrayList<>(table.keySet());
            }
            case "get_all_records" -> {
                Map<String, Object> out = new LinkedHashMap<>();
                for (String ref : table.keySet()) {
                    out.put(ref, view(cls, ref));
                }
                return out;
            }
            case "get_all_records_where" -> {
                WhereExpression where;
                try {
                    where = WhereExpression.parse(arg(args, 0, method));
                } catch (IllegalArgumentException e) {
                    throw new XenApiFailure("INTERNAL_ERROR", "bad where expression: " + e.getMessage());
                }
                // the view computes reverse links (a scan of another table): only for the matches, unless the
                // expression names one of them (a lookup by SR and location stays linear on a big SR)
                boolean needsView = where.terms().stream().anyMatch(t -> COMPUTED.contains(t.field()));
                Map<String, Object> out = new LinkedHashMap<>();
                for (Map.Entry<String, Map<String, Object>> e : table.entrySet()) {
                    if (where.matches(needsView ? view(cls, e.getKey()) : e.getValue())) {
                        out.put(e.getKey(), view(cls, e.getKey()));
                    }
                }
                return out;
            }
            case "get_by_uuid" -> {
                String uuid = arg(args, 0, method);
                return findByUuid(cls, uuid).orElseThrow(() -> new XenApiFailure("UUID_INVALID", cls, uuid));
            }
            case "get_by_name_label" -> {
                String name = arg(args, 0, method);
                List<String> out = new ArrayList<>();
                table.forEach((r, rec) -> {
                    if (name.equals(rec.get("name_label"))) {
                        out.add(r);
                    }
                });
                return out;
            }
            case "get_record" -> {
                String ref = arg(args, 0, method);
                record(cls, ref);
                return view(cls, ref);
            }
            default -> {
                // field accessors below
            }
        }
        if (op.startsWith("get_")) {
            String ref = arg(args, 0, method);
            record(cls, ref);
            Map<String, Object> rec = view(cls, ref);
            String field = op.substring(4);
            if (!rec.containsKey(field)) {
                throw new XenApiFailure("MESSAGE_METHOD_UNKNOWN", method);
            }
            return rec.get(field);
        }
        if (op.startsWith("set_")) {
            String ref = arg(args, 0, method);
            Map<String, Object> rec = record(cls, ref);
            String field = op.substring(4);
            if (!rec.containsKey(field) || args.size() < 2 || field.equals("uuid")) {
                throw new XenApiFailure("MESSAGE_METHOD_UNKNOWN", method);
            }
            Object value = normalise(args.get(1));
            if (!java.util.Objects.equals(rec.get(field), value)) {
                rec.put(field, value);
                saveLater();
            }
            return "";
        }
        if (op.startsWith("add_to_") || op.startsWith("remove_from_")) {
            boolean add = op.startsWith("add_to_");
            String field = op.substring(add ? 7 : 12);
            String ref = arg(args, 0, method);
            Map<String, Object> rec = record(cls, ref);
            if (!(rec.get(field) instanceof Map<?, ?>)) {
                throw new XenApiFailure("MESSAGE_METHOD_UNKNOWN", method);
            }
            @SuppressWarnings("unchecked")
            Map<String, String> map = new LinkedHashMap<>((Map<String, String>) rec.get(field));
            String key = arg(args, 1, method);
            if (add) {
                if (map.containsKey(key)) {
                    throw new XenApiFailure("MAP_DUPLICATE_KEY", cls, field, ref, key);
                }
                map.put(key, arg(args, 2, method));
            } else if (map.remove(key) == null) {
                return "";
            }
            rec.put(field, map);
            saveLater();
            return "";
        }
        if (op.equals("add_tags") || op.equals("remove_tags")) {
            String ref = arg(args, 0, method);
            Map<String, Object> rec = record(cls, ref);
            @SuppressWarnings("unchecked")
            List<String> tags = new ArrayList<>((List<String>) rec.getOrDefault("tags", List.of()));
            String tag = arg(args, 1, method);
            tags.remove(tag);
            if (op.equals("add_tags")) {
                tags.add(tag);
            }
            rec.put("tags", tags);
            saveLater();
            return "";
        }
        throw new XenApiFailure("MESSAGE_METHOD_UNKNOWN", method);
    }

    private String dbIntroduce(List<Object> a) throws XenApiFailure {
        if (a.size() < 19) {
            throw new XenApiFailure("MESSAGE_PARAMETER_COUNT_MISMATCH", "VDI.db_introduce", "19",
                    String.valueOf(a.size()));
        }
        String uuid = String.valueOf(a.get(0));
        if (uuid.isEmpty()) {
            uuid = UUID.randomUUID().toString();
        } else if (findByUuid("VDI", uuid).isPresent()) {
            throw new XenApiFailure("UUID_INVALID", "VDI", uuid);
        }
        String srRef = String.valueOf(a.get(3));
        record("SR", srRef);
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("uuid", uuid);
        v.put("name_label", str(a.get(1)));
        v.put("name_description", str(a.get(2)));
        v.put("allowed_operations", List.of());
        v.put("current_operations", Map.of());
        v.put("SR", srRef);
        v.put("VBDs", List.of());
        v.put("crash_dumps", List.of());
        v.put("virtual_size", str(a.get(12)));
        v.put("physical_utilisation", str(a.get(13)));
        v.put("type", str(a.get(4)));
        v.put("sharable", bool(a.get(5)));
        v.put("read_only", bool(a.get(6)));
        v.put("other_config", stringMap(a.get(7)));
        v.put("storage_lock", false);
        v.put("location", str(a.get(8)));
        v.put("managed", bool(a.get(11)));
        v.put("missing", false);
        v.put("parent", NULL_REF);
        v.put("xenstore_data", stringMap(a.get(9)));
        v.put("sm_config", stringMap(a.get(10)));
        v.put("is_a_snapshot", bool(a.get(15)));
        v.put("snapshot_of", a.get(17) == null || str(a.get(17)).isEmpty() ? NULL_REF : str(a.get(17)));
        v.put("snapshot_time", a.get(16) instanceof XmlRpcDateTime d ? d : XmlRpcDateTime.EPOCH);
        v.put("tags", List.of());
        v.put("allow_caching", false);
        v.put("on_boot", "persist");
        v.put("metadata_of_pool", a.get(14) == null || str(a.get(14)).isEmpty() ? NULL_REF : str(a.get(14)));
        v.put("metadata_latest", false);
        v.put("is_tools_iso", false);
        v.put("cbt_enabled", bool(a.get(18)));
        String ref = newRef();
        tables.get("VDI").put(ref, v);
        save();
        return ref;
    }

    /** The record with computed fields (SR.VDIs, SR.PBDs, host.PBDs, VDI.snapshots) filled in; a copy. */
    private Map<String, Object> view(String cls, String ref) {
        Map<String, Object> rec = new LinkedHashMap<>(tables.get(cls).get(ref));
        switch (cls) {
            case "SR" -> {
                rec.put("VDIs", refsWhere("VDI", "SR", ref));
                rec.put("PBDs", refsWhere("PBD", "SR", ref));
            }
            case "host" -> rec.put("PBDs", refsWhere("PBD", "host", ref));
            case "VDI" -> {
                rec.put("snapshots", refsWhere("VDI", "snapshot_of", ref));
                rec.put("VBDs", refsWhere("VBD", "VDI", ref));
            }
            case "VM" -> rec.put("VBDs", refsWhere("VBD", "VM", ref));
            case "task" -> rec.put("subtasks", refsWhere("task", "subtask_of", ref));
            default -> {
            }
        }
        return rec;
    }

    private List<String> refsWhere(String cls, String field, String value) {
        List<String> out = new ArrayList<>();
        tables.get(cls).forEach((r, rec) -> {
            if (value.equals(rec.get(field))) {
                out.add(r);
            }
        });
        return out;
    }

    private Map<String, Object> record(String cls, String ref) throws XenApiFailure {
        Map<String, Object> rec = tables.get(cls).get(ref);
        if (rec == null) {
            throw new XenApiFailure("HANDLE_INVALID", cls, ref);
        }
        return rec;
    }

    private static String arg(List<Object> args, int i, String method) throws XenApiFailure {
        if (args.size() <= i) {
            throw new XenApiFailure("MESSAGE_PARAMETER_COUNT_MISMATCH", method, String.valueOf(i + 2),
                    String.valueOf(args.size() + 1));
        }
        return str(args.get(i));
    }

    private static String str(Object o) {
        return o == null ? "" : String.valueOf(o);
    }

    private static boolean bool(Object o) {
        return o instanceof Boolean b ? b : "true".equalsIgnoreCase(String.valueOf(o));
    }

    private static Map<String, String> stringMap(Object o) {
        Map<String, String> m = new LinkedHashMap<>();
        if (o instanceof Map<?, ?> in) {
            in.forEach((k, v) -> m.put(String.valueOf(k), str(v)));
        }
        return m;
    }

    /** XML-RPC decoded values into catalogue values (arrays into lists, ints into XenAPI's strings). */
    private static Object normalise(Object o) {
        if (o instanceof Object[] a) {
            List<Object> l = new ArrayList<>();
            for (Object x : a) {
                l.add(normalise(x));
            }
            return l;
        }
        if (o instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put(String.valueOf(k), normalise(v)));
            return out;
        }
        if (o instanceof Integer || o instanceof Long) {
            return o.toString();
        }
        return o;
    }

    // ---- persistence ----------------------------------------------------------------------------

    private void seed() {
        String host = newRef();
        String hostUuid = UUID.randomUUID().toString();
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("uuid", hostUuid);
        h.put("name_label", "localhost");
        h.put("name_description", "the embedded storage daemon's host");
        h.put("hostname", "localhost");
        h.put("address", "127.0.0.1");
        h.put("other_config", new LinkedHashMap<String, String>());
        h.put("local_cache_sr", NULL_REF);
        h.put("software_version", Map.of());
        h.put("API_version_major", "2");
        h.put("API_version_minor", "21");
        tables.get("host").put(host, h);
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("uuid", UUID.randomUUID().toString());
        p.put("name_label", "");
        p.put("name_description", "");
        p.put("master", host);
        p.put("default_SR", NULL_REF);
        p.put("restrictions", new LinkedHashMap<String, String>());
        p.put("other_config", new LinkedHashMap<String, String>());
        tables.get("pool").put(newRef(), p);
        save();
    }

    /**
     * What drivers look up about the host they run on, added to a catalogue that lacks it: the control
     * domain's VM record resident on this host ({@code util.get_localhost_ref} finds the host through it)
     * and the host's metrics ({@code util.get_online_hosts} reads {@code live}). True when something was added.
     */
    private boolean seedLocalhost() {
        boolean changed = false;
        Map<String, Object> host = tables.get("host").get(hostRef);
        Object metrics = host.get("metrics");
        if (!(metrics instanceof String m) || !tables.get("host_metrics").containsKey(m)) {
            Map<String, Object> hm = new LinkedHashMap<>();
            hm.put("uuid", UUID.randomUUID().toString());
            hm.put("memory_total", "0");
            hm.put("memory_free", "0");
            hm.put("live", true);
            hm.put("last_updated", XmlRpcDateTime.now());
            hm.put("other_config", new LinkedHashMap<String, String>());
            String ref = newRef();
            tables.get("host_metrics").put(ref, hm);
            host.put("metrics", ref);
            changed = true;
        }
        boolean hasDom0 = tables.get("VM").values().stream().anyMatch(v ->
                Boolean.TRUE.equals(v.get("is_control_domain")) && hostRef.equals(v.get("resident_on")));
        if (!hasDom0) {
            Map<String, Object> vm = new LinkedHashMap<>();
            vm.put("uuid", UUID.randomUUID().toString());
            vm.put("name_label", "Control domain on host: " + host.get("name_label"));
            vm.put("name_description", "The domain which manages physical devices and manages other domains");
            vm.put("power_state", "Running");
            vm.put("is_control_domain", true);
            vm.put("is_a_template", false);
            vm.put("is_a_snapshot", false);
            vm.put("resident_on", hostRef);
            vm.put("affinity", hostRef);
            vm.put("domid", "0");
            vm.put("other_config", new LinkedHashMap<String, String>());
            vm.put("tags", List.of());
            String ref = newRef();
            tables.get("VM").put(ref, vm);
            host.put("control_domain", ref);
            changed = true;
        }
        return changed;
    }

    private void load() {
        try {
            AtomicFile.removeStaleTemporaries(file.toAbsolutePath().getParent());
            Optional<byte[]> bytes = AtomicFile.read(file);
            if (bytes.isEmpty()) {
                return;
            }
            Map<String, Map<String, Map<String, Object>>> loaded = Json.MAPPER.readValue(bytes.get(),
                    new TypeReference<>() { });
            for (String t : PERSISTED) {
                Map<String, Map<String, Object>> table = loaded.getOrDefault(t, Map.of());
                table.forEach((ref, rec) -> {
                    Map<String, Object> r = new LinkedHashMap<>();
                    rec.forEach((k, v) -> r.put(k, fromJson(v)));
                    tables.get(t).put(ref, r);
                });
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the catalogue " + file, e);
        }
    }

    /** Schedules a flush of field updates (coalesced). */
    private void saveLater() {
        dirty = true;
        if (!flushScheduled) {
            flushScheduled = true;
            flusher.schedule(this::flush, FLUSH_DELAY_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
        }
    }

    /** Writes any pending change now. */
    public synchronized void flush() {
        flushScheduled = false;
        if (dirty) {
            try {
                save();
            } catch (UncheckedIOException e) {
                LOG.error("catalogue flush failed: {}", e.getMessage());
            }
        }
    }

    /** Flushes pending changes and stops the background flusher. */
    @Override
    public void close() {
        flush();
        flusher.shutdownNow();
    }

    private void save() {
        dirty = false;
        Map<String, Object> out = new LinkedHashMap<>();
        tables.forEach((t, table) -> {
            if (!PERSISTED.contains(t)) {
                return;
            }
            Map<String, Object> jt = new LinkedHashMap<>();
            table.forEach((ref, rec) -> {
                Map<String, Object> r = new LinkedHashMap<>();
                rec.forEach((k, v) -> r.put(k, toJson(v)));
                jt.put(ref, r);
            });
            out.put(t, jt);
        });
        try {
            AtomicFile.write(file, Json.MAPPER.writeValueAsBytes(out));
        } catch (IOException e) {
            LOG.error("cannot persist the catalogue to {}: {}", file, e.toString());
            throw new UncheckedIOException(e);
        }
    }

    private static Object toJson(Object v) {
        if (v instanceof XmlRpcDateTime d) {
            return Map.of(DATE_KEY, d.text());
        }
        return v;
    }

    private static Object fromJson(Object v) {
        if (v instanceof Map<?, ?> m && m.size() == 1 && m.get(DATE_KEY) instanceof String s) {
            return new XmlRpcDateTime(s);
        }
        return v;
    }
}
