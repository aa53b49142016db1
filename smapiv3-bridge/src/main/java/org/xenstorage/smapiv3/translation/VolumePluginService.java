package org.xenstorage.smapiv3.translation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.lang.reflect.Type;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.DataApi;
import org.xenstorage.idl.api.DataMirrorApi;
import org.xenstorage.idl.automaton.Op;
import org.xenstorage.idl.automaton.VdiAutomaton;
import org.xenstorage.idl.api.DpApi;
import org.xenstorage.idl.api.QueryApi;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpStat;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.RoRw;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.MirrorOperation;
import org.xenstorage.idl.types.MirrorStatus;
import org.xenstorage.idl.types.Probe;
import org.xenstorage.idl.types.ProbeResult;
import org.xenstorage.idl.types.QueryResult;
import org.xenstorage.idl.types.Scan2Result;
import org.xenstorage.idl.types.SmapiVersion;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.smapiv3.discovery.DatapathRegistry;
import org.xenstorage.smapiv3.idl.ChangedBlocks;
import org.xenstorage.smapiv3.idl.Health;
import org.xenstorage.smapiv3.idl.PluginInfo;
import org.xenstorage.smapiv3.idl.SrStat;
import org.xenstorage.smapiv3.idl.Volume;
import org.xenstorage.smapiv3.script.ScriptExec;
import org.xenstorage.smapiv3.script.ScriptParams;
import org.xenstorage.smapiv3.state.AttachedSr;
import org.xenstorage.smapiv3.state.AttachedSrTable;
import org.xenstorage.smapiv3.state.HeldVolume;
import org.xenstorage.smapiv3.state.HolderTable;

/**
 * Every SMAPIv2 call one volume plugin's queue answers, each next to the SMAPIv3 script calls it makes
 * (spec section 4). Stateless apart from the shared attached-SR table and this plugin's API version
 * (set by the last {@code Query.query}; "3.0" turns on the legacy compatibility of spec 3.5).
 *
 * <p>Calls SMAPIv3 has no counterpart for are not overridden and answer {@code Unimplemented} (the
 * interfaces' defaults): the deprecated {@code VDI.attach/attach2/activate}, {@code VDI.get_url},
 * {@code VDI.get_by_name}, {@code SR.update_snapshot_info_*}, {@code DP.create/destroy/diagnostics/stat_vdi}
 * (datapaths are the mux's and the plugin's business) and {@code DATA.copy} (the daemon's).
 */
public final class VolumePluginService implements QueryApi, SrApi, VdiApi, DpApi, DataApi {
    private static final Logger LOG = LoggerFactory.getLogger(VolumePluginService.class);
    private static final Type VOLUME_LIST = new TypeReference<List<Volume>>() { }.getType();
    private static final Type PROBE_LIST = new TypeReference<List<org.xenstorage.smapiv3.idl.ProbeResult>>() { }
            .getType();
    private static final int SCAN2_RETRIES = 3;

    private final String plugin;
    private final Path dir;
    private final ScriptExec exec;
    private final AttachedSrTable srs;
    private final DatapathRegistry datapaths;
    private final DatapathHolding holding;
    private final AtomicReference<String> apiVersion = new AtomicReference<>();
    private final long scan2RetryDelayMillis;

    public VolumePluginService(String plugin, Path dir, ScriptExec exec, AttachedSrTable srs, HolderTable holders,
                               DatapathRegistry datapaths) {
        this(plugin, dir, exec, srs, holders, datapaths, 1000);
    }

    VolumePluginService(String plugin, Path dir, ScriptExec exec, AttachedSrTable srs, HolderTable holders,
                        DatapathRegistry datapaths, long scan2RetryDelayMillis) {
        this.holding = new DatapathHolding(holders);
        this.plugin = Objects.requireNonNull(plugin);
        this.dir = Objects.requireNonNull(dir);
        this.exec = Objects.requireNonNull(exec);
        this.srs = Objects.requireNonNull(srs);
        this.datapaths = Objects.requireNonNull(datapaths);
        this.scan2RetryDelayMillis = scan2RetryDelayMillis;
    }

    public String plugin() {
        return plugin;
    }

    public Path dir() {
        return dir;
    }

    /** The required_api_version of the last Query.query, if any. */
    public Optional<String> apiVersion() {
        return Optional.ofNullable(apiVersion.get());
    }

    // ================================================================ Query

    /** Query.query -> Plugin.query, plus the features implied by the scripts present. */
    @Override
    public QueryResult query(String dbg) {
        PluginInfo info = run("Plugin.query", ScriptParams.dbg(dbg), PluginInfo.class);
        apiVersion.set(info.requiredApiVersion());
        List<String> features = new ArrayList<>();
        info.features().forEach(f -> features.add(f.equals("VDI_DESTROY") ? "VDI_DELETE" : f));
        List<String> found = new ArrayList<>();
        for (String[] row : SCRIPT_FEATURES) {
            if (exec.isRunnable(dir, row[0])) {
                found.add(0, row[1]);
            }
        }
        features.addAll(found);
        features.addAll(List.of("VDI_ATTACH", "VDI_DETACH", "VDI_ACTIVATE", "VDI_DEACTIVATE", "VDI_INTRODUCE"));
        if (features.contains("VDI_CLONE")) {
            features.add(0, "VDI_RESET_ON_BOOT/2");
        }
        return new QueryResult(info.plugin(), info.name(), info.description(), info.vendor(), info.copyright(),
                info.version(), info.requiredApiVersion(), features, info.configuration(), info.requiredClusterStack(),
                List.of(), SmapiVersion.SMAPIv3);
    }

    private static final String[][] SCRIPT_FEATURES = {
        {"SR.attach", "SR_ATTACH"}, {"SR.create", "SR_CREATE"}, {"SR.destroy", "SR_DELETE"},
        {"SR.detach", "SR_DETACH"}, {"SR.ls", "SR_SCAN"}, {"SR.stat", "SR_UPDATE"}, {"SR.probe", "SR_PROBE"},
        {"Volume.create", "VDI_CREATE"}, {"Volume.clone", "VDI_CLONE"}, {"Volume.snapshot", "VDI_SNAPSHOT"},
        {"Volume.resize", "VDI_RESIZE"}, {"Volume.destroy", "VDI_DELETE"}, {"Volume.stat", "VDI_UPDATE"},
    };

    /** Query.diagnostics -> Plugin.diagnostics. */
    @Override
    public String diagnostics(String dbg) {
        return run("Plugin.diagnostics", ScriptParams.dbg(dbg), String.class);
    }

    // ================================================================ SR

    /** SR.create -> SR.create{uuid, configuration, name, description}; the SR is not attached. */
    @Override
    public Map<String, String> create(String dbg, String sr, String nameLabel, String nameDescription,
                                      Map<String, String> deviceConfig, long physicalSize) {
        ScriptParams p = ScriptParams.dbg(dbg).put("uuid", sr).put("configuration", deviceConfig)
                .put("name", nameLabel).put("description", nameDescription);
        if (legacy()) {
            p.put("uri", requireUri(deviceConfig));
            JsonNode out = exec.callRaw(dir, "SR.create", p.toJson());
            if (out.isNull()) {
                return deviceConfig;
            }
            return decode(out, STRING_MAP);
        }
        return run("SR.create", p, STRING_MAP);
    }

    private static final Type STRING_MAP = new TypeReference<Map<String, String>>() { }.getType();

    /** SR.attach -> SR.attach{configuration} then SR.stat{sr}; records the SR in the persisted table. */
    @Override
    public void attach(String dbg, String sr, Map<String, String> deviceConfig) {
        ScriptParams p = ScriptParams.dbg(dbg).put("configuration", deviceConfig);
        if (legacy()) {
            p.put("uri", requireUri(deviceConfig));
        }
        String handle = run("SR.attach", p, String.class);
        SrStat stat = run("SR.stat", ScriptParams.dbg(dbg).put("sr", handle), SrStat.class);
        List<String> uids = new ArrayList<>();
        for (String ds : stat.datasources()) {
            if (DatapathChoice.scheme(ds).filter("xeno+shm"::equals).isPresent()) {
                String path = java.net.URI.create(ds).getPath();
                uids.add(path.startsWith("/") ? path.substring(1) : path);
            }
        }
        if (!uids.isEmpty()) {
            // no xcp-rrdd in this project yet: the uids are kept so a later rrdd client can register them
            LOG.warn("SR {}: datasources {} recorded but not registered with xcp-rrdd", sr, uids);
        }
        persist(() -> srs.put(sr, new AttachedSr(handle, uids)));
    }

    /**
     * SR.detach -> the SR's datapaths torn down first (as the SMAPIv1 wrapper does), then SR.detach{sr}; an SR
     * that is not attached detaches successfully without a script. A datapath that cannot be torn down fails
     * the detach and the SR stays attached.
     */
    @Override
    public void detach(String dbg, String sr) {
        Optional<AttachedSr> attached = srs.find(sr);
        if (attached.isEmpty()) {
            return;
        }
        for (DatapathHolding.Held h : holding.heldOn(sr)) {
            LOG.info("SR.detach {}: tearing down datapath {} of volume {} first", sr, h.dp(), h.vdi());
            destroy2(dbg, h.dp(), sr, h.vdi(), h.vm(), false);
        }
        run("SR.detach", ScriptParams.dbg(dbg).put("sr", attached.get().sr()), Void.class);
        persist(() -> srs.remove(sr));
    }

    /** SR.probe -> SR.probe{configuration}; every result is checked, any bad one fails the call. */
    @Override
    public ProbeResult probe(String dbg, String queue, Map<String, String> deviceConfig, Map<String, String> smConfig) {
        List<org.xenstorage.smapiv3.idl.ProbeResult> results =
                run("SR.probe", ScriptParams.dbg(dbg).put("configuration", deviceConfig), PROBE_LIST);
        List<Probe> probes = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (org.xenstorage.smapiv3.idl.ProbeResult r : results) {
            boolean hasUuid = r.configuration().containsKey("sr_uuid");
            if (!r.complete() && hasUuid) {
                problems.add("A configuration with a uuid cannot be incomplete: " + Json.MAPPER.valueToTree(r.configuration()));
            } else if (r.sr().isPresent() && !hasUuid) {
                problems.add("A configuration is not attachable without a uuid: " + Json.MAPPER.valueToTree(r.configuration()));
            } else {
                probes.add(new Probe(r.configuration(), r.complete(), r.sr().map(VolumeShapes::srInfoOf),
                        r.extraInfo()));
            }
        }
        if (!problems.isEmpty()) {
            throw ScriptExec.backend("SCRIPT_FAILED", List.of("SR.probe", String.join("; ", problems)));
        }
        return new ProbeResult.Probes(probes);
    }

    /** SR.set_name_label -> SR.set_name{sr, new_name}. */
    @Override
    public void setNameLabel(String dbg, String sr, String newNameLabel) {
        run("SR.set_name", ScriptParams.dbg(dbg).put("sr", attached(sr)).put("new_name", newNameLabel), Void.class);
    }

    /** SR.set_name_description -> SR.set_description{sr, new_description}. */
    @Override
    public void setNameDescription(String dbg, String sr, String newNameDescription) {
        run("SR.set_description",
                ScriptParams.dbg(dbg).put("sr", attached(sr)).put("new_description", newNameDescription), Void.class);
    }

    /** SR.reset: nothing to do. */
    @Override
    public void reset(String dbg, String sr) {
    }

    /**
     * SR.destroy -> SR.destroy{sr}; the table entry stays (xapi detaches next). Refused with
     * {@code SR_DEVICE_IN_USE} while a datapath holds a volume of the SR: the plugin would delete it under them.
     */
    @Override
    public void destroy(String dbg, String sr) {
        List<DatapathHolding.Held> held = holding.heldOn(sr);
        if (!held.isEmpty()) {
            List<String> dps = held.stream().map(DatapathHolding.Held::dp).distinct().toList();
            LOG.warn("SR.destroy {} refused: datapaths {} still hold volumes", sr, dps);
            throw new StorageException(new StorageError.BackendError("SR_DEVICE_IN_USE",
                    List.of(sr, "datapaths still attached: " + String.join(", ", dps))));
        }
        run("SR.destroy", ScriptParams.dbg(dbg).put("sr", attached(sr)), Void.class);
    }

    /** SR.scan -> SR.ls{sr}, without the temporary clones of non-persistent disks. */
    @Override
    @SuppressWarnings("deprecation")
    public List<VdiInfo> scan(String dbg, String sr) {
        return ls(dbg, attached(sr));
    }

    /** SR.scan2 -> SR.stat (retried while Unreachable) then SR.ls. */
    @Override
    public Scan2Result scan2(String dbg, String sr) {
        String handle = attached(sr);
        for (int retriesLeft = SCAN2_RETRIES; ; retriesLeft--) {
            SrStat stat = run("SR.stat", ScriptParams.dbg(dbg).put("sr", handle), SrStat.class);
            Health h = stat.health();
            if (h instanceof Health.Healthy) {
                return new Scan2Result(ls(dbg, handle), VolumeShapes.srInfoOf(stat));
            }
            if (!(h instanceof Health.Unreachable) || retriesLeft == 0) {
                throw new StorageException(new StorageError.SrUnhealthy(sr, h.toV2()));
            }
            sleep(scan2RetryDelayMillis);
        }
    }

    private List<VdiInfo> ls(String dbg, String handle) {
        List<Volume> volumes = volumes("SR.ls", ScriptParams.dbg(dbg).put("sr", handle));
        return VolumeShapes.withoutTransients(volumes).stream().map(VolumeShapes::vdiOfVolume).toList();
    }

    /** SR.stat -> SR.stat{sr}; health is reported, not checked. */
    @Override
    public SrInfo stat(String dbg, String sr) {
        return VolumeShapes.srInfoOf(run("SR.stat", ScriptParams.dbg(dbg).put("sr", attached(sr)), SrStat.class));
    }

    /** SR.list: every attached SR, whichever plugin attached it (one table per process, as upstream). */
    @Override
    public List<String> list(String dbg) {
        return srs.srs();
    }

    // ================================================================ VDI

    /** VDI.create -> Volume.create{sr, name, description, size, sharable}, then Volume.set vdi-type. */
    @Override
    public VdiInfo create(String dbg, String sr, VdiInfo vdiInfo) {
        String s = attached(sr);
        Volume v = volume("Volume.create", ScriptParams.dbg(dbg).put("sr", s).put("name", vdiInfo.nameLabel())
                .put("description", vdiInfo.nameDescription()).put("size", vdiInfo.virtualSize())
                .put("sharable", vdiInfo.sharable()));
        if (!vdiInfo.ty().isEmpty()) {
            setKey(dbg, s, v.key(), VolumeShapes.VDI_TYPE, vdiInfo.ty());
            v = v.withKeyInFront(VolumeShapes.VDI_TYPE, vdiInfo.ty());
        }
        return VolumeShapes.vdiOfVolume(v);
    }

    /** VDI.set_name_label -> Volume.set_name{key, new_name}. */
    @Override
    public void setNameLabel(String dbg, String sr, String vdi, String newNameLabel) {
        run("Volume.set_name", key(dbg, sr, vdi).put("new_name", newNameLabel), Void.class);
    }

    /** VDI.set_name_description -> Volume.set_description{key, new_description}. */
    @Override
    public void setNameDescription(String dbg, String sr, String vdi, String newNameDescription) {
        run("Volume.set_description", key(dbg, sr, vdi).put("new_description", newNameDescription), Void.class);
    }

    /** VDI.snapshot -> Volume.snapshot{key}, then the snapshot's metadata keys, one Volume.set each. */
    @Override
    public VdiInfo snapshot(String dbg, String sr, VdiInfo vdiInfo) {
        String s = attached(sr);
        Volume n = volume("Volume.snapshot", key(dbg, s, vdiInfo.vdi(), true));
        String now = VolumeShapes.now();
        setKey(dbg, s, n.key(), VolumeShapes.SNAPSHOT_TIME, now);
        setKey(dbg, s, n.key(), VolumeShapes.IS_A_SNAPSHOT, "true");
        setKey(dbg, s, n.key(), VolumeShapes.SNAPSHOT_OF, vdiInfo.vdi());
        setKey(dbg, s, n.key(), VolumeShapes.CONTENT_ID, vdiInfo.contentId());
        setKey(dbg, s, n.key(), VolumeShapes.VDI_TYPE, vdiInfo.ty());
        // QUIRK fixed: upstream tags the parent; the tags belong on the snapshot being made
        for (String tag : vdiInfo.tags()) {
            setKey(dbg, s, n.key(), VolumeShapes.TAG_PREFIX + tag, tag);
        }
        return VolumeShapes.vdiOfVolume(n).withSnapshot(true, now, vdiInfo.vdi());
    }

    /** VDI.clone -> Volume.clone{key}. */
    @Override
    public VdiInfo clone(String dbg, String sr, VdiInfo vdiInfo) {
        return VolumeShapes.vdiOfVolume(volume("Volume.clone", key(dbg, sr, vdiInfo.vdi())));
    }

    /** VDI.resize -> Volume.resize{key, new_size} then Volume.stat{key}: the size the plugin really gave. */
    @Override
    public long resize(String dbg, String sr, String vdi, long newSize) {
        String s = attached(sr);
        run("Volume.resize", key(dbg, s, vdi, true).put("new_size", newSize), Void.class);
        return volume("Volume.stat", key(dbg, s, vdi, true)).virtualSize();
    }

    /**
     * VDI.destroy -> the volume's datapaths torn down (as the SMAPIv1 wrapper does), then Volume.destroy of the
     * temporary clone (if any), then of the volume.
     */
    @Override
    public void destroy(String dbg, String sr, String vdi) {
        String s = attached(sr);
        for (DatapathHolding.Held h : holding.heldOn(sr, vdi)) {
            LOG.info("VDI.destroy {}: tearing down datapath {} first", vdi, h.dp());
            destroy2(dbg, h.dp(), sr, vdi, h.vm(), false);
        }
        Volume v = volume("Volume.stat", key(dbg, s, vdi, true));
        // QUIRK fixed: upstream destroys the volume itself twice instead of its clone-on-boot copy
        Optional<String> temporary = v.key(VolumeShapes.CLONE_ON_BOOT);
        if (temporary.isPresent()) {
            run("Volume.destroy", key(dbg, s, temporary.get(), true), Void.class);
        }
        run("Volume.destroy", key(dbg, s, vdi, true), Void.class);
    }

    /** VDI.stat -> Volume.stat{key}. */
    @Override
    public VdiInfo stat(String dbg, String sr, String vdi) {
        return VolumeShapes.vdiOfVolume(volume("Volume.stat", key(dbg, sr, vdi)));
    }

    /** VDI.introduce -> Volume.stat{key=location}; uuid and sm_config are not stored. */
    @Override
    public VdiInfo introduce(String dbg, String sr, String uuid, Map<String, String> smConfig, String location) {
        return VolumeShapes.vdiOfVolume(volume("Volume.stat", key(dbg, sr, location)));
    }

    /** VDI.set_persistent: persistence is chosen per boot by epoch_begin; nothing to do. */
    @Override
    public void setPersistent(String dbg, String sr, String vdi, boolean persistent) {
    }

    /**
     * VDI.epoch_begin: Datapath.open when the plugin can do non-persistence itself; otherwise, for a
     * non-persistent disk, Volume.clone to a temporary copy recorded under the clone-on-boot key.
     */
    @Override
    public void epochBegin(String dbg, String sr, String vdi, String vm, boolean persistent) {
        String s = attached(sr);
        Volume v = volume("Volume.stat", key(dbg, s, vdi, true));
        DatapathChoice.Chosen dp = DatapathChoice.choose(v, persistent, datapaths);
        if (dp.plugin().hasFeature("NONPERSISTENT")) {
            runDatapath(dp, "Datapath.open",
                    ScriptParams.dbg(dbg).put("uri", dp.uri()).put("persistent", persistent), Void.class);
        } else if (!persistent) {
            Optional<String> stale = v.key(VolumeShapes.CLONE_ON_BOOT);
            if (stale.isPresent()) {
                run("Volume.destroy", key(dbg, s, stale.get(), true), Void.class);
            }
            Volume c = volume("Volume.clone", key(dbg, s, vdi, true));
            setKey(dbg, s, vdi, VolumeShapes.CLONE_ON_BOOT, c.key());
        }
    }

    /** VDI.epoch_end: Datapath.close, or destroy the temporary clone and forget it. */
    @Override
    public void epochEnd(String dbg, String sr, String vdi, String vm) {
        String s = attached(sr);
        Volume v = volume("Volume.stat", key(dbg, s, vdi, true));
        DatapathChoice.Chosen dp = DatapathChoice.choose(v, true, datapaths);
        if (dp.plugin().hasFeature("NONPERSISTENT")) {
            runDatapath(dp, "Datapath.close", ScriptParams.dbg(dbg).put("uri", dp.uri()), Void.class);
        } else if (v.key(VolumeShapes.CLONE_ON_BOOT).isPresent()) {
            run("Volume.destroy", key(dbg, s, v.key(VolumeShapes.CLONE_ON_BOOT).get(), true), Void.class);
            unsetKey(dbg, s, vdi, VolumeShapes.CLONE_ON_BOOT);
        }
    }

    /**
     * VDI.attach3 -> Datapath.attach{uri, domain} on the resolved volume, when the volume is not attached yet
     * (or this datapath repeats its attach); a second holder shares the attachment and gets its backend.
     */
    @Override
    public Backend attach3(String dbg, String dp, String sr, String vdi, String vm, boolean readWrite) {
        HeldVolume h = move(dbg, dp, sr, vdi, vm, Op.attach(readWrite ? RoRw.RW : RoRw.RO), "Datapath.activate");
        return h.backend().orElseThrow(() -> StorageException.internal(
                "sr: " + sr + " vdi: " + vdi + " attach left no backend"));
    }

    /** VDI.activate3 -> Datapath.activate{uri, domain}, when the attachment is not active yet. */
    @Override
    public void activate3(String dbg, String dp, String sr, String vdi, String vm) {
        move(dbg, dp, sr, vdi, vm, Op.ACTIVATE, "Datapath.activate");
    }

    /** VDI.activate_readonly -> Datapath.activate_readonly{uri, domain}, when not active yet. */
    @Override
    public void activateReadonly(String dbg, String dp, String sr, String vdi, String vm) {
        move(dbg, dp, sr, vdi, vm, Op.ACTIVATE, "Datapath.activate_readonly");
    }

    /** VDI.deactivate -> Datapath.deactivate{uri, domain}, when the last active holder leaves. */
    @Override
    public void deactivate(String dbg, String dp, String sr, String vdi, String vm) {
        move(dbg, dp, sr, vdi, vm, Op.DEACTIVATE, "Datapath.activate");
    }

    /** VDI.detach -> Datapath.detach{uri, domain}, when the last holder leaves. */
    @Override
    public void detach(String dbg, String dp, String sr, String vdi, String vm) {
        move(dbg, dp, sr, vdi, vm, Op.DETACH, "Datapath.activate");
    }

    /** VDI.similar_content: SMAPIv3 plugins are not asked; no candidates. */
    @Override
    public List<VdiInfo> similarContent(String dbg, String sr, String vdi) {
        return List.of();
    }

    /** VDI.set_content_id -> Volume.set{k=content_id}. */
    @Override
    public void setContentId(String dbg, String sr, String vdi, String contentId) {
        setKey(dbg, attached(sr), vdi, VolumeShapes.CONTENT_ID, contentId);
    }

    /** VDI.compose(parent vdi1, child vdi2) -> Volume.compose{key=child, key2=parent}. */
    @Override
    public void compose(String dbg, String sr, String vdi1, String vdi2) {
        run("Volume.compose", key(dbg, sr, vdi2).put("key2", vdi1), Void.class);
    }

    /** VDI.add_to_sm_config -> Volume.set{k=_sm_config_<key>}. */
    @Override
    public void addToSmConfig(String dbg, String sr, String vdi, String key, String value) {
        setKey(dbg, attached(sr), vdi, VolumeShapes.SM_CONFIG_PREFIX + key, value);
    }

    /** VDI.remove_from_sm_config -> Volume.unset{k=_sm_config_<key>}. */
    @Override
    public void removeFromSmConfig(String dbg, String sr, String vdi, String key) {
        unsetKey(dbg, attached(sr), vdi, VolumeShapes.SM_CONFIG_PREFIX + key);
    }

    /** VDI.add_tags -> Volume.set{k=tags<tag>, v=tag}. */
    @Override
    public void addTags(String dbg, String sr, String vdi, String key) {
        setKey(dbg, attached(sr), vdi, VolumeShapes.TAG_PREFIX + key, key);
    }

    /** VDI.remove_tags -> Volume.unset{k=tags<tag>}. */
    @Override
    public void removeTags(String dbg, String sr, String vdi, String key) {
        unsetKey(dbg, attached(sr), vdi, VolumeShapes.TAG_PREFIX + key);
    }

    /** VDI.enable_cbt -> Volume.enable_cbt{key}. */
    @Override
    public void enableCbt(String dbg, String sr, String vdi) {
        run("Volume.enable_cbt", key(dbg, sr, vdi), Void.class);
    }

    /** VDI.disable_cbt -> Volume.disable_cbt{key}. */
    @Override
    public void disableCbt(String dbg, String sr, String vdi) {
        run("Volume.disable_cbt", key(dbg, sr, vdi), Void.class);
    }

    /** VDI.data_destroy -> Volume.data_destroy{key}, then vdi-type=cbt_metadata. */
    @Override
    public void dataDestroy(String dbg, String sr, String vdi) {
        String s = attached(sr);
        run("Volume.data_destroy", key(dbg, s, vdi, true), Void.class);
        setKey(dbg, s, vdi, VolumeShapes.VDI_TYPE, "cbt_metadata");
    }

    /** VDI.list_changed_blocks -> Volume.list_changed_blocks{key, key2, offset=0, length=-1}: the bitmap. */
    @Override
    public String listChangedBlocks(String dbg, String sr, String vdiFrom, String vdiTp) {
        ChangedBlocks blocks = run("Volume.list_changed_blocks",
                key(dbg, sr, vdiFrom).put("key2", vdiTp).put("offset", 0L).put("length", -1L), ChangedBlocks.class);
        return blocks.bitmap();
    }

    /** VDI.revert -> Volume.revert{snapshot=snapshot_info.vdi, key=snapshot_info.snapshot_of}. */
    @Override
    public void revert(String dbg, String sr, VdiInfo snapshotInfo) {
        run("Volume.revert", ScriptParams.dbg(dbg).put("sr", attached(sr)).put("snapshot", snapshotInfo.vdi())
                .put("key", snapshotInfo.snapshotOf()), Void.class);
    }

    // ================================================================ DP

    /** DP.destroy2 -> VDI.deactivate then VDI.detach of this datapath. */
    @Override
    public void destroy2(String dbg, String dp, String sr, String vdi, String vm, boolean allowLeak) {
        attached(sr);
        DatapathHolding.PluginSteps steps = steps(dbg, dp, sr, vdi, "DP.destroy2", "Datapath.activate");
        String domain = DatapathChoice.domain(vm, dp);
        holding.move(dp, sr, vdi, vm, domain, Op.DEACTIVATE, steps);
        holding.move(dp, sr, vdi, vm, domain, Op.DETACH, steps);
    }

    /**
     * DP.stat_vdi -> the volume's holders, no script (upstream answers Unimplemented): each datapath's state
     * and the superstate, as the SMAPIv1 wrapper answers from its state. An SR that is not attached (after a
     * reboot, before SR.attach) answers {@code Sr_not_attached}.
     */
    @Override
    public DpStat statVdi(String dbg, String sr, String vdi) {
        attached(sr);
        Optional<HeldVolume> held = holding.find(sr, vdi);
        Map<String, DpState> dps = new java.util.LinkedHashMap<>();
        held.ifPresent(h -> h.holders().forEach((dp, holder) -> dps.put(dp, holder.state())));
        return new DpStat(held.map(HeldVolume::superstate).orElse(DpState.DETACHED), dps);
    }

    /**
     * DP.attach_info -> the backend of the attachment this datapath holds (Datapath.attach again if none was
     * recorded). QUIRK fixed: upstream attaches again for any datapath; one that holds nothing is refused, as
     * the SMAPIv1 wrapper refuses it, instead of leaving the plugin an attachment nobody will detach.
     */
    @Override
    public Backend attachInfo(String dbg, String sr, String vdi, String dp, String vm) {
        attached(sr);
        Optional<HeldVolume> held = holding.find(sr, vdi).filter(h -> h.holders().containsKey(dp));
        if (held.isEmpty()) {
            throw StorageException.internal("sr: " + sr + " vdi: " + vdi + " Datapath " + dp + " not attached");
        }
        DpState mine = held.get().stateOf(dp);
        return attach3(dbg, dp, sr, vdi, held.get().holders().get(dp).vm(),
                VdiAutomaton.mode(mine).orElseThrow() == RoRw.RW);
    }

    // ================================================================ DATA

    /** DATA.mirror -> Data.mirror{uri, domain=vm, remote=url}. */
    @Override
    public MirrorOperation mirror(String dbg, String sr, String vdi, String imageFormat, String vm, String url) {
        LOG.info("image_format ({}) is not currently used", imageFormat);
        DatapathChoice.Chosen d = resolve(dbg, sr, vdi);
        return runDatapath(d, "Data.mirror", uriDomain(dbg, d, vm).put("remote", url), MirrorOperation.class);
    }

    /** DATA.stat -> Data.stat{operation} in the volume's datapath plugin. */
    @Override
    public MirrorStatus stat(String dbg, String sr, String vdi, String vm, MirrorOperation operation) {
        DatapathChoice.Chosen d = resolve(dbg, sr, vdi);
        JsonNode op = org.xenstorage.idl.wire.WireCodec.encode(operation, MirrorOperation.class);
        return runDatapath(d, "Data.stat", ScriptParams.dbg(dbg).put("operation", op), MirrorStatus.class);
    }

    /** DATA.import_activate -> Datapath.import_activate{uri, domain=vm}, if the plugin can mirror in. */
    @Override
    public String importActivate(String dbg, String dp, String sr, String vdi, String vm) {
        DatapathChoice.Chosen d = resolve(dbg, sr, vdi);
        if (!d.plugin().hasFeature("VDI_MIRROR_IN")) {
            throw StorageException.unimplemented("VDI_MIRROR_IN");
        }
        return runDatapath(d, "Datapath.import_activate", uriDomain(dbg, d, vm), String.class);
    }

    /** DATA.get_nbd_server -> Datapath.attach{uri, domain=vm}: the socket of its Nbd implementation. */
    @Override
    public String getNbdServer(String dbg, String dp, String sr, String vdi, String vm) {
        DatapathChoice.Chosen d = resolve(dbg, sr, vdi);
        Backend b = runDatapath(d, "Datapath.attach", uriDomain(dbg, d, vm), Backend.class);
        Implementation.Nbd nbd = null;
        for (Implementation i : b.implementations()) {
            if (i instanceof Implementation.Nbd n) {
                nbd = n; // the last one, as upstream
            }
        }
        if (nbd == null) {
            throw ScriptExec.backend("No nbd server found", List.of());
        }
        try {
            return nbd.value().export().socket();
        } catch (IllegalArgumentException e) {
            throw StorageException.internal(e.getMessage());
        }
    }

    // ================================================================ helpers

    private boolean legacy() {
        return "3.0".equals(apiVersion.get());
    }

    private static String requireUri(Map<String, String> deviceConfig) {
        String uri = deviceConfig.get("uri");
        if (uri == null) {
            throw ScriptExec.backend("MISSING_URI", List.of("Please include a URI in the device-config"));
        }
        return uri;
    }

    /** The plugin's handle for an attached SR, or Sr_not_attached. */
    private String attached(String sr) {
        return srs.find(sr).map(AttachedSr::sr)
                .orElseThrow(() -> new StorageException(new StorageError.SrNotAttached(sr)));
    }

    /** {dbg, sr, key} for an SR given by its v2 uuid (checked against the table). */
    private ScriptParams key(String dbg, String sr, String key) {
        return key(dbg, attached(sr), key, true);
    }

    /** {dbg, sr, key} for an SR already resolved to the plugin's handle. */
    private static ScriptParams key(String dbg, String handle, String key, boolean resolved) {
        return ScriptParams.dbg(dbg).put("sr", handle).put("key", key);
    }

    private void setKey(String dbg, String handle, String key, String k, String v) {
        keyChange("Volume.set", key(dbg, handle, key, true).put("k", k).put("v", v));
    }

    private void unsetKey(String dbg, String handle, String key, String k) {
        keyChange("Volume.unset", key(dbg, handle, key, true).put("k", k));
    }

    private void keyChange(String method, ScriptParams p) {
        if (legacy() && exec.isMissing(dir, method)) {
            LOG.warn("Deprecated: script '{}' is missing, treating as no-op. Update your plugin!", dir.resolve(method));
            return;
        }
        run(method, p, Void.class);
    }

    /** Volume.stat of the volume, redirected to its clone-on-boot copy; then its datapath. */
    private DatapathChoice.Chosen resolve(String dbg, String sr, String vdi) {
        String s = attached(sr);
        Volume v = volume("Volume.stat", key(dbg, s, vdi, true));
        Optional<String> temporary = v.key(VolumeShapes.CLONE_ON_BOOT);
        if (temporary.isPresent()) {
            v = volume("Volume.stat", key(dbg, s, temporary.get(), true));
        }
        return DatapathChoice.choose(v, true, datapaths);
    }

    /**
     * Moves datapath {@code dp} by {@code op} under the volume's holders ({@link DatapathHolding}); the plugin
     * steps that needs run on the resolved volume, resolved once and only if a step runs. A teardown of a volume
     * the plugin no longer has (never created, or destroyed) has nothing to undo: it succeeds, as the SMAPIv1
     * wrapper's does, instead of failing with the plugin's Volume_does_not_exist.
     */
    private HeldVolume move(String dbg, String dp, String sr, String vdi, String vm, Op op, String activateMethod) {
        attached(sr);
        return holding.move(dp, sr, vdi, vm, DatapathChoice.domain(vm, dp), op,
                steps(dbg, dp, sr, vdi, op.text(), activateMethod));
    }

    /** The plugin steps for one volume; the volume is looked up once, at the first step that runs. */
    private DatapathHolding.PluginSteps steps(String dbg, String dp, String sr, String vdi, String what,
                                              String activateMethod) {
        return new DatapathHolding.PluginSteps() {
            private Optional<DatapathChoice.Chosen> chosen;

            private Optional<DatapathChoice.Chosen> volume(boolean teardown) {
                if (chosen == null) {
                    chosen = teardown ? resolveForTeardown(dbg, sr, vdi, what + " " + dp)
                            : Optional.of(resolve(dbg, sr, vdi));
                }
                return chosen;
            }

            @Override
            public Backend attach(String domain) {
                DatapathChoice.Chosen d = volume(false).orElseThrow();
                return runDatapath(d, "Datapath.attach", uriDomain(dbg, d, domain), Backend.class);
            }

            @Override
            public void activate(String domain) {
                DatapathChoice.Chosen d = volume(false).orElseThrow();
                runDatapath(d, activateMethod, uriDomain(dbg, d, domain), Void.class);
            }

            @Override
            public void deactivate(String domain) {
                volume(true).ifPresent(d -> runDatapath(d, "Datapath.deactivate", uriDomain(dbg, d, domain), Void.class));
            }

            @Override
            public void detach(String domain) {
                volume(true).ifPresent(d -> runDatapath(d, "Datapath.detach", uriDomain(dbg, d, domain), Void.class));
            }
        };
    }

    private Optional<DatapathChoice.Chosen> resolveForTeardown(String dbg, String sr, String vdi, String what) {
        try {
            return Optional.of(resolve(dbg, sr, vdi));
        } catch (StorageException e) {
            List<String> params = e.error() instanceof StorageError.BackendErrorWithBacktrace b ? b.params()
                    : e.error() instanceof StorageError.BackendError b ? b.params() : List.of();
            if (params.contains("Volume_does_not_exist")) {
                LOG.info("{}: volume {} of SR {} does not exist: nothing to tear down", what, vdi, sr);
                return Optional.empty();
            }
            throw e;
        }
    }

    private static ScriptParams uriDomain(String dbg, DatapathChoice.Chosen d, String domain) {
        return ScriptParams.dbg(dbg).put("uri", d.uri()).put("domain", domain);
    }

    private <T> T runDatapath(DatapathChoice.Chosen d, String method, ScriptParams p, Type type) {
        return exec.call(d.plugin().dir(), method, p.toJson(), type);
    }

    private <T> T run(String method, ScriptParams p, Type type) {
        return exec.call(dir, method, p.toJson(), type);
    }

    private Volume volume(String method, ScriptParams p) {
        JsonNode out = exec.callRaw(dir, method, p.toJson());
        return decode(legacy() ? withSharable(out) : out, Volume.class);
    }

    private List<Volume> volumes(String method, ScriptParams p) {
        JsonNode out = exec.callRaw(dir, method, p.toJson());
        if (legacy() && out instanceof ArrayNode a) {
            ArrayNode fixed = Json.NODES.arrayNode();
            a.forEach(e -> fixed.add(withSharable(e)));
            out = fixed;
        }
        return decode(out, VOLUME_LIST);
    }

    /** Legacy 3.0 volumes had no sharable member; QUIRK fixed: a printed one is kept, not overridden. */
    private static JsonNode withSharable(JsonNode volume) {
        if (volume instanceof ObjectNode o && !o.has("sharable")) {
            ObjectNode copy = o.deepCopy();
            copy.put("sharable", false);
            return copy;
        }
        return volume;
    }

    private static <T> T decode(JsonNode node, Type type) {
        try {
            return org.xenstorage.idl.wire.WireCodec.decode(node, type);
        } catch (RuntimeException e) {
            throw ScriptExec.backend("SCRIPT_FAILED", List.of("Unexpected exception:" + e.getMessage()));
        }
    }

    private interface IoAction {
        void run() throws IOException;
    }

    private static void persist(IoAction action) {
        try {
            action.run();
        } catch (IOException e) {
            throw StorageException.internal("cannot persist the attached-SR table: " + e.getMessage());
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw StorageException.internal("interrupted");
        }
    }

    /**
     * What this plugin's queue serves: the modules this class implements, and {@code DATA.MIRROR} with
     * xen-api v25.11.0's names of {@code DATA.import_activate/get_nbd_server} (its xapi-storage-script
     * served those names; a v25.11.0 xapi still calls them). Every other {@code DATA.MIRROR} call answers
     * {@code Unimplemented}, as before and as upstream's script.
     */
    public StorageService served() {
        return StorageService.of(this).withDataMirror(new DataMirrorApi() {
            @Override
            @SuppressWarnings("deprecation")
            public String mirrorImportActivate(String dbg, String dp, String sr, String vdi, String vm) {
                return importActivate(dbg, dp, sr, vdi, vm);
            }

            @Override
            @SuppressWarnings("deprecation")
            public String mirrorGetNbdServer(String dbg, String dp, String sr, String vdi, String vm) {
                return getNbdServer(dbg, dp, sr, vdi, vm);
            }
        });
    }
}
