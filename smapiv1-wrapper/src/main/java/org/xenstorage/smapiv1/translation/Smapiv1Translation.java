package org.xenstorage.smapiv1.translation;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.QueryApi;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AttachInfo;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.BlockDeviceInfo;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.NbdInfo;
import org.xenstorage.idl.types.ProbeResult;
import org.xenstorage.idl.types.QueryResult;
import org.xenstorage.idl.types.Scan2Result;
import org.xenstorage.idl.types.SmapiVersion;
import org.xenstorage.idl.types.SrHealth;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.types.XenDiskInfo;
import org.xenstorage.smapiv1.catalogue.Catalogue;
import org.xenstorage.smapiv1.catalogue.XenApi;
import org.xenstorage.smapiv1.driver.Feature;
import org.xenstorage.smapiv1.driver.SmDriver;
import org.xenstorage.smapiv1.exec.AttachResult;
import org.xenstorage.smapiv1.exec.DriverExec;
import org.xenstorage.smapiv1.exec.SmCall;
import org.xenstorage.smapiv1.exec.SmErrors;
import org.xenstorage.smapiv1.exec.SmResults;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcDateTime;

/**
 * SMAPIv2 → SMAPIv1 for one SR type (upstream {@code storage_smapiv1.ml}): each SMAPIv2 call runs
 * the SMAPIv1 command(s) of the spec's table (section 5.2) through {@link DriverExec}, with the
 * XenAPI record reads and writes around it, and builds the SMAPIv2 result from the records
 * (section 5.5). Stateless but for the RO/RW mode remembered between attach and activate.
 *
 * <p>No datapath bookkeeping happens here: the wrapper above decides which of these calls to make.
 * {@code SR.reset} and {@code SR.update_snapshot_info_*} are not overridden: they answer
 * {@code Unimplemented} (the interfaces' defaults).
 */
public final class Smapiv1Translation implements QueryApi, SrApi, VdiApi {
    private static final Logger LOG = LoggerFactory.getLogger(Smapiv1Translation.class);
    static final String CBT_METADATA_CONTENT = "/No content: this is a cbt_metadata VDI/";

    private final SmDriver driver;
    private final DriverExec exec;
    private final XapiDb db;
    private final DriverSessions sessions;
    private final Optional<Catalogue> embedded;
    private final String hostRef;
    private final String hostUuid;
    private final SrMaster srMaster;
    /** (sr, vdi) → read-write, from attach to detach. */
    private final Map<String, Boolean> modes = new ConcurrentHashMap<>();
    /** xapi's {@code prefer_nbd_attach}: attach results offer the NBD export even when a block device exists. */
    private volatile boolean preferNbdAttach;
    /** The session {@code VDI.get_url} hands out (opened once, closed by {@link #close()}). */
    private String urlSession;
    /** Where the mode comes from when this process did not see the attach (the wrapper's persisted state). */
    private volatile java.util.function.BiFunction<String, String, Optional<Boolean>> modeSource =
            (sr, vdi) -> Optional.empty();

    /**
     * @param api      XenAPI endpoint the records are read from
     * @param session  the backend's own session on it
     * @param embedded the catalogue when the backend serves XenAPI itself (SR/PBD records are then
     *                 created from SR.create/SR.attach, as xapi would have before calling)
     */
    public Smapiv1Translation(SmDriver driver, DriverExec exec, XenApi api, String session, DriverSessions sessions,
                              Optional<Catalogue> embedded, String hostRef, String hostUuid) {
        this.driver = driver;
        this.exec = exec;
        this.db = new XapiDb(api, session);
        this.sessions = sessions;
        this.embedded = embedded;
        this.hostRef = hostRef;
        this.hostUuid = hostUuid;
        this.srMaster = new SrMaster(db, hostRef);
    }

    public SmDriver driver() {
        return driver;
    }

    /**
     * Tells the translation the mode a VDI is attached in (upstream rebuilds this after a restart;
     * the wrapper above should call this from its recovered state).
     */
    public void rememberMode(String sr, String vdi, boolean readWrite) {
        modes.put(key(sr, vdi), readWrite);
    }

    /**
     * xapi's {@code prefer_nbd_attach} (default false): when set, attach3 answers the driver's NBD export
     * ({@code XenDisk} on {@code params_nbd}, then {@code Nbd}) even when the driver also gave a block device.
     */
    public void preferNbdAttach(boolean prefer) {
        this.preferNbdAttach = prefer;
    }

    /** Logs out the session {@code VDI.get_url} handed out, if any. */
    public synchronized void close() {
        if (urlSession != null) {
            sessions.close(urlSession);
            urlSession = null;
        }
    }

    /** Consulted for the attach mode of a VDI this process did not attach (spec 2.9: derive it from the wrapper). */
    public void useModeSource(java.util.function.BiFunction<String, String, Optional<Boolean>> source) {
        this.modeSource = source;
    }

    /** The remembered mode, else the mode source's, else read-write (see {@link #unknownMode}). */
    private boolean modeOf(String sr, String vdi) {
        Boolean known = modes.get(key(sr, vdi));
        if (known != null) {
            return known;
        }
        return modeSource.apply(sr, vdi).orElseGet(() -> unknownMode(sr, vdi));
    }

    // ---- exec plumbing --------------------------------------------------------------------------

    private Object run(String command, List<String> args, Map<String, String> deviceConfig, String srRef,
                       String srUuid, UnaryOperator<SmCall> members) {
        // where sm.ml checks srmaster_only: before any session or exec
        srMaster.check(command, deviceConfig);
        String session = sessions.open(srRef);
        String task = newTask(command, srUuid);
        try {
            SmCall call = SmCall.of(hostRef, command, args, deviceConfig).withSession(session, task);
            if (srRef != null) {
                call = call.withSr(srRef, srUuid);
            }
            return exec.call(driver.executable(), members.apply(call));
        } finally {
            if (task != null) {
                destroyTask(task);
            }
            sessions.close(session);
        }
    }

    /**
     * The task a driver exec runs under ({@code subtask_of}): a real one, as upstream's
     * {@code exec_with_new_task}, so the {@code Subtask-of} header drivers send back names a task the
     * endpoint knows. Null (no {@code subtask_of}, which drivers accept) when the endpoint cannot make one.
     */
    private String newTask(String command, String srUuid) {
        try {
            return (String) db.call("task.create", command,
                    "SMAPIv1 " + command + (srUuid == null ? "" : " on SR " + srUuid));
        } catch (StorageException e) {
            LOG.warn("{}: cannot create a task for the driver call: {}", command, e.getMessage());
            return null;
        }
    }

    private void destroyTask(String task) {
        try {
            db.call("task.destroy", task);
        } catch (StorageException e) {
            LOG.debug("task.destroy {}: {}", task, e.getMessage());
        }
    }

    /** A command on the SR with this host's PBD device_config. */
    private Object srCommand(String command, List<String> args, String sr, UnaryOperator<SmCall> members) {
        String srRef = db.srRef(sr);
        // upstream's order: whether this host is the SR master first, then this host's PBD
        boolean master = srMaster.isMaster(srRef);
        return run(command, args, withMaster(master, db.deviceConfig(srRef, hostRef)), srRef, sr, members);
    }

    /** A command on an existing VDI. */
    private Object vdiCommand(String command, List<String> args, String sr, XapiDb.Vdi vdi,
                              UnaryOperator<SmCall> extra) {
        return srCommand(command, args, sr, c -> extra.apply(c.withVdi(vdi.ref(), vdi.str("location"),
                vdi.str("uuid"), vdi.str("on_boot"), Boolean.parseBoolean(vdi.str("allow_caching")))));
    }

    private static Map<String, String> withMaster(boolean master, Map<String, String> dc) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("SRmaster", Boolean.toString(master));
        dc.forEach((k, v) -> {
            if (!k.equals("SRmaster")) {
                m.put(k, v);
            }
        });
        return m;
    }

    private XapiDb.Vdi find(String sr, String vdi) {
        return db.findVdi(db.srRef(sr), vdi);
    }

    private static String key(String sr, String vdi) {
        return sr + "/" + vdi;
    }

    private static StorageException vdiDoesNotExist(String vdi) {
        return new StorageException(new StorageError.VdiDoesNotExist(vdi));
    }

    private static StorageException srNotSupported(String srRef) {
        return SmErrors.backend("SR_OPERATION_NOT_SUPPORTED", srRef);
    }

    // ---- Query ------------------------------------------------------------------------------------

    @Override
    public QueryResult query(String dbg) {
        var info = driver.info();
        return new QueryResult(driver.type(), info.name(), info.description(), info.vendor(), info.copyright(),
                info.driverVersion(), info.requiredApiVersion(), info.features().stream().map(Feature::text).toList(),
                info.configuration(), List.of(), info.supportedImageFormats(), SmapiVersion.SMAPIv1);
    }

    @Override
    public String diagnostics(String dbg) {
        return "No diagnostics are available for SMAPIv1 plugins";
    }

    // ---- SR ---------------------------------------------------------------------------------------

    @Override
    public Map<String, String> create(String dbg, String sr, String nameLabel, String nameDescription,
                                      Map<String, String> deviceConfig, long physicalSize) {
        boolean created = embedded.isPresent() && db.srRefIfKnown(sr).isEmpty();
        embedded.ifPresent(c -> c.ensureSr(sr, driver.type(), nameLabel, nameDescription, deviceConfig));
        String srRef = db.srRef(sr);
        db.call("SR.set_name_label", srRef, nameLabel);
        db.call("SR.set_name_description", srRef, nameDescription);
        try {
            run("sr_create", List.of(Long.toString(physicalSize)), withMaster(true, deviceConfig), srRef, sr, c -> c);
        } catch (StorageException e) {
            if (created) {
                embedded.get().forgetSr(srRef);
            }
            throw SmErrors.isNotImplemented(e) ? srNotSupported(srRef) : e;
        }
        Map<String, String> out = new LinkedHashMap<>(deviceConfig);
        out.remove("SRmaster");
        return out;
    }

    @Override
    public void setNameLabel(String dbg, String sr, String newNameLabel) {
        db.call("SR.set_name_label", db.srRef(sr), newNameLabel);
    }

    @Override
    public void setNameDescription(String dbg, String sr, String newNameDescription) {
        db.call("SR.set_name_description", db.srRef(sr), newNameDescription);
    }

    @Override
    public ProbeResult probe(String dbg, String queue, Map<String, String> deviceConfig, Map<String, String> smConfig) {
        if (!driver.info().has("SR_PROBE")) {
            // QUIRK fixed: xapi lets this escape as an Internal_error; we answer the Backend_error it meant.
            throw SmErrors.backend("SR_BACKEND_FAILURE", "Operation 'sr_probe' not supported by this SR type", "", "");
        }
        Object result = run("sr_probe", List.of(), withMaster(true, deviceConfig), null, null,
                c -> c.withSrSmConfig(smConfig));
        return new ProbeResult.Raw(SmResults.string(result));
    }

    @Override
    public void attach(String dbg, String sr, Map<String, String> deviceConfig) {
        embedded.ifPresent(c -> c.ensureSr(sr, driver.type(), "", "", deviceConfig));
        String srRef = db.srRef(sr);
        boolean master = srMaster.isMaster(srRef);
        db.deviceConfig(srRef, hostRef); // the PBD must exist, as upstream checks
        SmResults.unit(run("sr_attach", List.of(), withMaster(master, deviceConfig), srRef, sr, c -> c));
        if (embedded.isPresent()) {
            db.call("PBD.set_currently_attached", db.pbdRef(srRef, hostRef), true);
        }
    }

    @Override
    public void detach(String dbg, String sr) {
        SmResults.unit(srCommand("sr_detach", List.of(), sr, c -> c));
        if (embedded.isPresent()) {
            String srRef = db.srRef(sr);
            db.call("PBD.set_currently_attached", db.pbdRef(srRef, hostRef), false);
        }
    }

    @Override
    public void destroy(String dbg, String sr) {
        String srRef = db.srRef(sr);
        try {
            SmResults.unit(srCommand("sr_delete", List.of(), sr, c -> c));
        } catch (StorageException e) {
            throw SmErrors.isNotImplemented(e) ? srNotSupported(srRef) : e;
        }
        embedded.ifPresent(c -> c.forgetSr(srRef));
    }

    @Override
    @Deprecated
    public List<VdiInfo> scan(String dbg, String sr) {
        String srRef = db.srRef(sr);
        try {
            SmResults.unit(srCommand("sr_scan", List.of(), sr, c -> c));
        } catch (StorageException e) {
            throw SmErrors.isNotImplemented(e) ? srNotSupported(srRef) : e;
        }
        return db.vdisOf(srRef).stream().map(this::vdiInfo).toList();
    }

    @Override
    public Scan2Result scan2(String dbg, String sr) {
        List<VdiInfo> vdis = scan(dbg, sr);
        return new Scan2Result(vdis, stat(dbg, sr));
    }

    @Override
    public SrInfo stat(String dbg, String sr) {
        String srRef = db.srRef(sr);
        try {
            SmResults.unit(srCommand("sr_update", List.of(), sr, c -> c));
        } catch (StorageException e) {
            throw SmErrors.isNotImplemented(e) ? srNotSupported(srRef) : e;
        }
        Map<String, Object> rec = db.srRecord(srRef);
        long total = parseLong(rec.get("physical_size"));
        long used = parseLong(rec.get("physical_utilisation"));
        return new SrInfo(Optional.of(String.valueOf(rec.get("uuid"))), String.valueOf(rec.get("name_label")),
                String.valueOf(rec.get("name_description")), total, total - used, false, SrHealth.Healthy);
    }

    /** The SRs of this type whose PBD on this host is attached (the wrapper above keeps the real list). */
    @Override
    public List<String> list(String dbg) {
        List<String> out = new ArrayList<>();
        Map<String, Object> srs = XapiDb.recordOf(db.call("SR.get_all_records_where",
                "field \"type\" = \"" + driver.type() + "\""));
        srs.forEach((ref, r) -> {
            Map<String, Object> rec = XapiDb.recordOf(r);
            Map<String, Object> pbds = XapiDb.recordOf(db.call("PBD.get_all_records_where",
                    "field \"SR\" = \"" + ref + "\" and field \"host\" = \"" + hostRef + "\""));
            if (pbds.values().stream().anyMatch(p -> Boolean.TRUE.equals(XapiDb.recordOf(p).get("currently_attached")))) {
                out.add(String.valueOf(rec.get("uuid")));
            }
        });
        return out;
    }

    // ---- VDI --------------------------------------------------------------------------------------

    @Override
    public VdiInfo create(String dbg, String sr, VdiInfo info) {
        List<String> args = List.of(Long.toUnsignedString(info.virtualSize()), info.nameLabel(),
                info.nameDescription(), info.metadataOfPool(), Boolean.toString(info.isASnapshot()),
                info.snapshotTime(), info.snapshotOf(), Boolean.toString(info.readOnly()));
        // xapi asks for a fixed uuid only for the SR's metadata (backup) VDI, whose uuid is the SR uuid's hash
        String fixedUuid = info.uuid().filter(u -> u.equals(metadataVdiUuid(sr))).orElse(null);
        Object result = srCommand("vdi_create", args, sr, c -> c.withNewVdi(info.ty(), info.smConfig(), fixedUuid));
        if (!(result instanceof Map<?, ?> m) || !(m.get("uuid") instanceof String uuid)) {
            throw StorageException.internal("SM backend failed to return <uuid> field");
        }
        SmResults.vdiInfo(result);
        VdiInfo created = vdiInfo(db.vdiByUuid(uuid));
        if (created.virtualSize() < info.virtualSize()) {
            throw SmErrors.backend("SR_BACKEND_FAILURE", "Disk too small", Long.toString(info.virtualSize()),
                    Long.toString(created.virtualSize()));
        }
        return created;
    }

    /**
     * Upstream's {@code Uuidx.Hash.string sr_uuid}: a name-based (version 5, SHA-1) UUID of the SR uuid's
     * text in xapi's own namespace, the uuid xapi gives the SR's metadata VDI.
     */
    public static String metadataVdiUuid(String srUuid) {
        UUID ns = UUID.fromString("e93e0639-2bdb-4a59-8b46-352b3f408c19");
        java.nio.ByteBuffer in = java.nio.ByteBuffer.allocate(16);
        in.putLong(ns.getMostSignificantBits()).putLong(ns.getLeastSignificantBits());
        byte[] h;
        try {
            java.security.MessageDigest sha1 = java.security.MessageDigest.getInstance("SHA-1");
            sha1.update(in.array());
            h = sha1.digest(srUuid.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        h[6] = (byte) ((h[6] & 0x0f) | 0x50);
        h[8] = (byte) ((h[8] & 0x3f) | 0x80);
        java.nio.ByteBuffer out = java.nio.ByteBuffer.wrap(h, 0, 16);
        return new UUID(out.getLong(), out.getLong()).toString();
    }

    @Override
    public void setNameLabel(String dbg, String sr, String vdi, String newNameLabel) {
        db.call("VDI.set_name_label", findOrMissing(sr, vdi).ref(), newNameLabel);
    }

    @Override
    public void setNameDescription(String dbg, String sr, String vdi, String newNameDescription) {
        db.call("VDI.set_name_description", findOrMissing(sr, vdi).ref(), newNameDescription);
    }

    @Override
    public VdiInfo snapshot(String dbg, String sr, VdiInfo info) {
        return snapshotOrClone(sr, info, true);
    }

    @Override
    public VdiInfo clone(String dbg, String sr, VdiInfo info) {
        return snapshotOrClone(sr, info, false);
    }

    private VdiInfo snapshotOrClone(String sr, VdiInfo info, boolean snapshot) {
        String command = snapshot ? "vdi_snapshot" : "vdi_clone";
        XapiDb.Vdi source = find(sr, info.vdi());
        SmResults.VdiRef made;
        try {
            made = SmResults.vdiInfo(vdiCommand(command, List.of(), sr, source,
                    c -> c.withDriverParams(info.smConfig())));
        } catch (StorageException e) {
            throw SmErrors.isNotImplemented(e)
                    ? StorageException.unimplemented(snapshot ? "VDI.snapshot" : "VDI.clone") : e;
        }
        XapiDb.Vdi copy = find(sr, made.location());
        // as upstream: the record's fields first, then vdi_update, which LVHD copies into its on-disk metadata
        String contentId = db.vdi(source.ref()).map("other_config").getOrDefault("content_id",
                UUID.randomUUID().toString());
        db.call("VDI.set_name_label", copy.ref(), info.nameLabel());
        db.call("VDI.set_name_description", copy.ref(), info.nameDescription());
        // SM-only setters: xapi refuses them without a session carrying this SR's _sm_session
        String smSession = sessions.open(db.srRef(sr));
        try {
            db.callAs(smSession, "VDI.set_snapshot_time", copy.ref(), XmlRpcDateTime.now());
            db.callAs(smSession, "VDI.set_is_a_snapshot", copy.ref(), snapshot);
            if (snapshot) {
                db.callAs(smSession, "VDI.set_snapshot_of", copy.ref(), source.ref());
            }
        } finally {
            sessions.close(smSession);
        }
        db.putMapKey("VDI", copy.ref(), "other_config", "content_id", contentId);
        String baseMirror = info.smConfig().get("base_mirror");
        if (baseMirror != null) {
            db.putMapKey("VDI", copy.ref(), "sm_config", "base_mirror", baseMirror);
        }
        SmResults.unit(vdiCommand("vdi_update", List.of(), sr, db.vdi(copy.ref()), c -> c));
        return vdiInfo(db.vdi(copy.ref()));
    }

    @Override
    public long resize(String dbg, String sr, String vdi, long newSize) {
        XapiDb.Vdi v = find(sr, vdi);
        SmResults.VdiRef r;
        try {
            r = SmResults.vdiInfo(vdiCommand("vdi_resize", List.of(Long.toUnsignedString(newSize)), sr, v, c -> c));
        } catch (StorageException e) {
            throw SmErrors.isNotImplemented(e) ? StorageException.unimplemented("VDI.resize") : e;
        }
        return parseLong(find(sr, r.location()).rec().get("virtual_size"));
    }

    @Override
    public void destroy(String dbg, String sr, String vdi) {
        XapiDb.Vdi v = findOrMissing(sr, vdi);
        SmResults.unit(vdiCommand("vdi_delete", List.of(), sr, v, c -> c));
        modes.remove(key(sr, vdi));
    }

    @Override
    public VdiInfo stat(String dbg, String sr, String vdi) {
        try {
            XapiDb.Vdi v = find(sr, vdi);
            SmResults.unit(vdiCommand("vdi_update", List.of(), sr, v, c -> c));
            return vdiInfo(db.vdi(v.ref()));
        } catch (StorageException | XapiDb.NoVdi e) {
            LOG.debug("VDI.stat {}/{}: {}", sr, vdi, e.getMessage());
            throw vdiDoesNotExist(vdi);
        }
    }

    @Override
    public VdiInfo introduce(String dbg, String sr, String uuid, Map<String, String> smConfig, String location) {
        try {
            SmResults.VdiRef r = SmResults.vdiInfo(srCommand("vdi_introduce", List.of(), sr,
                    c -> c.withIntroduce(location, smConfig, uuid)));
            return vdiInfo(db.vdiByUuid(r.uuid()));
        } catch (StorageException e) {
            LOG.debug("VDI.introduce {}/{}: {}", sr, location, e.getMessage());
            throw vdiDoesNotExist(location);
        }
    }

    @Override
    public void setPersistent(String dbg, String sr, String vdi, boolean persistent) {
        if (persistent) {
            return;
        }
        XapiDb.Vdi v = findOrMissing(sr, vdi);
        SmResults.VdiRef clone = SmResults.vdiInfo(vdiCommand("vdi_clone", List.of(), sr, v,
                c -> c.withDriverParams(Map.of())));
        XapiDb.Vdi made = find(sr, clone.location());
        SmResults.unit(vdiCommand("vdi_delete", List.of(), sr, made, c -> c));
    }

    @Override
    public void epochBegin(String dbg, String sr, String vdi, String vm, boolean persistent) {
        SmResults.unit(vdiCommand("vdi_epoch_begin", List.of(), sr, findOrMissing(sr, vdi), c -> c));
    }

    @Override
    public void epochEnd(String dbg, String sr, String vdi, String vm) {
        SmResults.unit(vdiCommand("vdi_epoch_end", List.of(), sr, findOrMissing(sr, vdi), c -> c));
    }

    @Override
    @Deprecated
    public AttachInfo attach(String dbg, String dp, String sr, String vdi, boolean readWrite) {
        Backend backend = attach3(dbg, dp, sr, vdi, "", readWrite);
        String params = backend.first(Implementation.XenDisk.class).map(x -> x.value().params())
                .or(() -> backend.first(Implementation.File.class).map(f -> f.value().path()))
                .or(() -> backend.first(Implementation.BlockDevice.class).map(b -> b.value().path()))
                .orElse("");
        return new AttachInfo(params, true, "", Map.of());
    }

    @Override
    @Deprecated
    public Backend attach2(String dbg, String dp, String sr, String vdi, boolean readWrite) {
        return attach3(dbg, dp, sr, vdi, "", readWrite);
    }

    @Override
    public Backend attach3(String dbg, String dp, String sr, String vdi, String vm, boolean readWrite) {
        XapiDb.Vdi v = findOrMissing(sr, vdi);
        AttachResult r = SmResults.attachResult(vdiCommand("vdi_attach", List.of(Boolean.toString(readWrite)), sr, v,
                c -> c));
        String enabled = "read-caching-enabled-on-" + hostUuid;
        String reason = "read-caching-reason-" + hostUuid;
        db.call("VDI.remove_from_sm_config", v.ref(), enabled);
        db.call("VDI.remove_from_sm_config", v.ref(), reason);
        db.call("VDI.add_to_sm_config", v.ref(), enabled, Boolean.toString(!r.oDirect()));
        if (r.oDirect()) {
            db.call("VDI.add_to_sm_config", v.ref(), reason, r.oDirectReason());
        }
        modes.put(key(sr, vdi), readWrite);
        List<Implementation> impls = new ArrayList<>();
        if (preferNbdAttach || r.params().isEmpty()) {
            impls.add(new Implementation.XenDisk(new XenDiskInfo(r.paramsNbd(), r.xenstoreData(), "vbd3")));
        } else {
            String params = r.params().get();
            impls.add(new Implementation.XenDisk(new XenDiskInfo(params, r.xenstoreData(), "vbd3")));
            impls.add(new Implementation.BlockDevice(new BlockDeviceInfo(params)));
        }
        impls.add(new Implementation.Nbd(new NbdInfo(r.paramsNbd())));
        return new Backend(impls);
    }

    @Override
    @Deprecated
    public void activate(String dbg, String dp, String sr, String vdi) {
        activateWith(sr, vdi, modeOf(sr, vdi));
    }

    @Override
    public void activate3(String dbg, String dp, String sr, String vdi, String vm) {
        activateWith(sr, vdi, modeOf(sr, vdi));
    }

    @Override
    public void activateReadonly(String dbg, String dp, String sr, String vdi, String vm) {
        activateWith(sr, vdi, false);
    }

    /** QUIRK fixed: upstream falls back to RO; activate3 means read-write, so we fall back to RW. */
    private boolean unknownMode(String sr, String vdi) {
        LOG.warn("activate {}/{}: attach mode not known: activating read-write", sr, vdi);
        return true;
    }

    private void activateWith(String sr, String vdi, boolean readWrite) {
        XapiDb.Vdi v = findOrMissing(sr, vdi);
        // a writer may change the content: forget its content_id, whether or not the driver has vdi_activate
        if (readWrite) {
            db.call("VDI.remove_from_other_config", v.ref(), "content_id");
        }
        if (!driver.info().has("VDI_ACTIVATE")) {
            LOG.info("{} driver has no VDI_ACTIVATE: activate of {}/{} is a no-op", driver.type(), sr, vdi);
            return;
        }
        SmResults.unit(vdiCommand("vdi_activate", List.of(Boolean.toString(readWrite)), sr, v, c -> c));
    }

    @Override
    public void deactivate(String dbg, String dp, String sr, String vdi, String vm) {
        XapiDb.Vdi v = findOrMissing(sr, vdi);
        // the content is settled again: give it a fresh content_id, whether or not the driver has vdi_deactivate
        if (!v.map("other_config").containsKey("content_id")) {
            db.call("VDI.add_to_other_config", v.ref(), "content_id", UUID.randomUUID().toString());
        }
        if (!driver.info().has("VDI_DEACTIVATE")) {
            LOG.info("{} driver has no VDI_DEACTIVATE: deactivate of {}/{} is a no-op", driver.type(), sr, vdi);
            return;
        }
        SmResults.unit(vdiCommand("vdi_deactivate", List.of(), sr, v, c -> c));
    }

    @Override
    public void detach(String dbg, String dp, String sr, String vdi, String vm) {
        XapiDb.Vdi v = findOrMissing(sr, vdi);
        SmResults.unit(vdiCommand("vdi_detach", List.of(), sr, v, c -> c));
        db.call("VDI.remove_from_sm_config", v.ref(), "read-caching-enabled-on-" + hostUuid);
        db.call("VDI.remove_from_sm_config", v.ref(), "read-caching-reason-" + hostUuid);
        modes.remove(key(sr, vdi));
    }

    @Override
    public String getUrl(String dbg, String sr, String vdi) {
        XapiDb.Vdi v = findOrMissing(sr, vdi);
        String address = String.valueOf(XapiDb.recordOf(db.call("host.get_record", hostRef)).get("address"));
        return address + "/" + urlSession() + "/" + v.ref();
    }

    /**
     * QUIRK fixed: upstream logs in a new session for every get_url and never logs it out. The URL's
     * session only has to stay valid for whoever reads the VDI, so one session serves every URL: opened
     * on first use, re-opened if the endpoint dropped it, closed by {@link #close()}. It carries no SR
     * (no {@code _sm_session}), so a URL holder cannot make the SM-only calls on any SR.
     */
    private synchronized String urlSession() {
        if (urlSession != null) {
            try {
                db.callAs(urlSession, "session.get_this_host", urlSession);
                return urlSession;
            } catch (StorageException e) {
                LOG.info("get_url session {} no longer valid: opening another", urlSession);
                sessions.close(urlSession);
            }
        }
        urlSession = sessions.open(null);
        return urlSession;
    }

    @Override
    public List<VdiInfo> similarContent(String dbg, String sr, String vdi) {
        String srRef = db.srRef(sr);
        List<XapiDb.Vdi> all = db.vdisOf(srRef);
        XapiDb.Vdi start = all.stream().filter(v -> vdi.equals(v.str("location"))).findFirst()
                .orElseThrow(() -> vdiDoesNotExist(vdi));
        // the tree of sm_config:vhd-parent links (by uuid), walked breadth first from the VDI
        Map<String, XapiDb.Vdi> byUuid = new HashMap<>();
        Map<String, List<String>> edges = new HashMap<>();
        for (XapiDb.Vdi v : all) {
            byUuid.put(v.str("uuid"), v);
        }
        for (XapiDb.Vdi v : all) {
            String parent = v.map("sm_config").get("vhd-parent");
            if (parent != null && byUuid.containsKey(parent)) {
                edges.computeIfAbsent(parent, k -> new ArrayList<>()).add(v.str("uuid"));
                edges.computeIfAbsent(v.str("uuid"), k -> new ArrayList<>()).add(parent);
            }
        }
        List<VdiInfo> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        Deque<String> queue = new ArrayDeque<>(List.of(start.str("uuid")));
        seen.add(start.str("uuid"));
        while (!queue.isEmpty()) {
            XapiDb.Vdi v = byUuid.get(queue.poll());
            if (!"cbt_metadata".equals(v.str("type"))) {
                out.add(vdiInfo(v));
            }
            for (String n : edges.getOrDefault(v.str("uuid"), List.of())) {
                if (seen.add(n)) {
                    queue.add(n);
                }
            }
        }
        return out;
    }

    @Override
    public VdiInfo getByName(String dbg, String sr, String name) {
        try {
            return vdiInfo(find(sr, name));
        } catch (StorageException | XapiDb.NoVdi e) {
            throw vdiDoesNotExist(name);
        }
    }

    @Override
    public void setContentId(String dbg, String sr, String vdi, String contentId) {
        db.putMapKey("VDI", findOrMissing(sr, vdi).ref(), "other_config", "content_id", contentId);
    }

    @Override
    public void compose(String dbg, String sr, String vdi1, String vdi2) {
        XapiDb.Vdi v1 = findOrMissing(sr, vdi1);
        XapiDb.Vdi v2 = findOrMissing(sr, vdi2);
        try {
            SmResults.unit(vdiCommand("vdi_compose", List.of(v1.ref()), sr, v2, c -> c));
        } catch (StorageException e) {
            throw SmErrors.isNotImplemented(e) ? StorageException.unimplemented("VDI.compose") : e;
        }
    }

    @Override
    public void addToSmConfig(String dbg, String sr, String vdi, String key, String value) {
        db.call("VDI.add_to_sm_config", findOrMissing(sr, vdi).ref(), key, value);
    }

    @Override
    public void removeFromSmConfig(String dbg, String sr, String vdi, String key) {
        db.call("VDI.remove_from_sm_config", findOrMissing(sr, vdi).ref(), key);
    }

    @Override
    public void addTags(String dbg, String sr, String vdi, String key) {
        db.call("VDI.add_tags", findOrMissing(sr, vdi).ref(), key);
    }

    @Override
    public void removeTags(String dbg, String sr, String vdi, String key) {
        db.call("VDI.remove_tags", findOrMissing(sr, vdi).ref(), key);
    }

    @Override
    public void enableCbt(String dbg, String sr, String vdi) {
        cbtCommand("vdi_enable_cbt", "VDI.enable_cbt", sr, vdi);
    }

    @Override
    public void disableCbt(String dbg, String sr, String vdi) {
        cbtCommand("vdi_disable_cbt", "VDI.disable_cbt", sr, vdi);
    }

    @Override
    public void dataDestroy(String dbg, String sr, String vdi) {
        XapiDb.Vdi v = cbtCommand("vdi_data_destroy", "VDI.data_destroy", sr, vdi);
        db.putMapKey("VDI", v.ref(), "other_config", "content_id", CBT_METADATA_CONTENT);
    }

    private XapiDb.Vdi cbtCommand(String command, String v2Name, String sr, String vdi) {
        XapiDb.Vdi v = findOrMissing(sr, vdi);
        try {
            SmResults.unit(vdiCommand(command, List.of(), sr, v, c -> c));
        } catch (StorageException e) {
            throw SmErrors.isNotImplemented(e) ? StorageException.unimplemented(v2Name) : e;
        }
        return v;
    }

    @Override
    public String listChangedBlocks(String dbg, String sr, String vdiFrom, String vdiTo) {
        XapiDb.Vdi from = findOrMissing(sr, vdiFrom);
        XapiDb.Vdi to = findOrMissing(sr, vdiTo);
        try {
            return SmResults.string(vdiCommand("vdi_list_changed_blocks", List.of(to.ref()), sr, from, c -> c));
        } catch (StorageException e) {
            throw SmErrors.isNotImplemented(e) ? StorageException.unimplemented("VDI.list_changed_blocks") : e;
        }
    }

    @Override
    public void revert(String dbg, String sr, VdiInfo snapshotInfo) {
        XapiDb.Vdi snap = findOrMissing(sr, snapshotInfo.vdi());
        XapiDb.Vdi of = findOrMissing(sr, snapshotInfo.snapshotOf());
        try {
            SmResults.unit(vdiCommand("vdi_revert", List.of(of.ref()), sr, snap, c -> c));
        } catch (StorageException e) {
            throw SmErrors.isNotImplemented(e) ? StorageException.unimplemented("VDI.revert") : e;
        }
    }

    /** find_vdi with No_VDI turned into Vdi_does_not_exist. */
    private XapiDb.Vdi findOrMissing(String sr, String vdi) {
        try {
            return find(sr, vdi);
        } catch (XapiDb.NoVdi e) {
            throw vdiDoesNotExist(vdi);
        }
    }

    // ---- records → vdi_info (spec section 5.5) ------------------------------------------------------

    VdiInfo vdiInfo(XapiDb.Vdi v) {
        Map<String, String> other = v.map("other_config");
        String location = v.str("location");
        String snapshotOfRef = v.str("snapshot_of");
        String snapshotOf = "";
        if (!snapshotOfRef.isEmpty() && !snapshotOfRef.equals(Catalogue.NULL_REF)) {
            try {
                snapshotOf = String.valueOf(db.call("VDI.get_uuid", snapshotOfRef));
            } catch (StorageException e) {
                snapshotOf = "";
            }
        }
        return new VdiInfo(location, Optional.of(v.str("uuid")), other.getOrDefault("content_id", location),
                v.str("name_label"), v.str("name_description"), v.str("type"), v.str("metadata_of_pool"),
                Boolean.parseBoolean(v.str("is_a_snapshot")), v.str("snapshot_time"), snapshotOf,
                Boolean.parseBoolean(v.str("read_only")), Boolean.parseBoolean(v.str("cbt_enabled")),
                parseLong(v.rec().get("virtual_size")), parseLong(v.rec().get("physical_utilisation")),
                "persist".equals(v.str("on_boot")), Boolean.parseBoolean(v.str("sharable")), v.map("sm_config"),
                XapiDb.stringList(v.rec().get("tags")));
    }

    private static long parseLong(Object o) {
        if (o == null) {
            return 0;
        }
        try {
            return Long.parseLong(String.valueOf(o).trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
