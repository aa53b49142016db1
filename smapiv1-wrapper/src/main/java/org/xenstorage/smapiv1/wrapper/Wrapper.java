package org.xenstorage.smapiv1.wrapper;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.api.DataApi;
import org.xenstorage.idl.api.DataMirrorApi;
import org.xenstorage.idl.api.DpApi;
import org.xenstorage.idl.api.SrApi;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.api.VdiApi;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AttachInfo;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpStat;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.MirrorReceiveResult;
import org.xenstorage.idl.types.ProbeResult;
import org.xenstorage.idl.types.RoRw;
import org.xenstorage.idl.types.Scan2Result;
import org.xenstorage.idl.types.SrInfo;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.idl.automaton.Op;
import org.xenstorage.idl.automaton.VdiAutomaton;
import org.xenstorage.smapiv1.datapath.DatapathLocks;
import org.xenstorage.smapiv1.datapath.DatapathTable;
import org.xenstorage.smapiv1.datapath.Holder;
import org.xenstorage.smapiv1.datapath.VdiRecord;

/**
 * The SMAPIv1 state-tracking wrapper (upstream's {@code Storage_smapiv1_wrapper.Wrapper}): a
 * {@link StorageService} in front of a stateless SMAPIv2→SMAPIv1 translation ({@code inner}). It keeps
 * the VDI automaton per datapath, runs only the SM calls that move a VDI's superstate, serialises calls
 * per SR and per VDI, and persists its state atomically after every change, with a write-ahead intent
 * before every SM call that changes what the backend holds.
 *
 * <p>Construction loads the state file and reconciles intents a crash left behind (no SM call is
 * made). Serve it with {@code StorageDispatcher} over {@link #service()}. Calls this wrapper does not
 * intercept pass through to {@code inner}; a module {@code inner} lacks answers {@code Unimplemented}.
 * Not overridden, so {@code Unimplemented} (the interfaces' defaults): {@code DP.destroy} (never reached
 * upstream, where the mux sends {@code destroy2}), {@code DATA.mirror} and {@code DATA.stat}.
 */
public final class Wrapper implements DpApi, VdiApi, DataApi {
    private static final Logger LOG = LoggerFactory.getLogger(Wrapper.class);
    /** The vm the deprecated attach/activate record for their datapaths. */
    static final String NO_VM = "0";

    private final StorageService inner;
    private final DatapathTable table;
    private final DatapathLocks locks = new DatapathLocks();
    private final Datapaths datapaths;
    private final SrModule srModule = new SrModule();
    private final MirrorModule mirrorModule = new MirrorModule();

    /**
     * @param inner     the SMAPIv2 view of one SM driver type (its VDI module is what SM calls go to)
     * @param stateFile this wrapper's own state file (never a real xapi's {@code storage.db}); its
     *                  directory is created 0700 when missing, the file is written 0600
     */
    public Wrapper(StorageService inner, Path stateFile) {
        this.inner = Objects.requireNonNull(inner, "inner");
        this.table = DatapathTable.open(stateFile);
        this.datapaths = new Datapaths(this::smVdi, table);
    }

    /**
     * This wrapper as a service with every module slot filled: the modules it does not intercept (Query,
     * get_by_name, Policy, TASK, UPDATES) are {@code inner}'s own, or answer {@code Unimplemented} where
     * {@code inner} lacks them.
     */
    public StorageService service() {
        StorageService below = inner.orUnimplemented();
        return new StorageService(below.query(), this, srModule, this, below.getByName(), this, mirrorModule,
                below.policy(), below.task(), below.updates());
    }

    /**
     * The mode a VDI is attached in, from the wrapper's state (empty when nobody holds it). The
     * SMAPIv1 translation uses it for {@code vdi_activate}'s RW flag instead of an in-memory table a
     * restart would lose (spec 2.9).
     */
    public Optional<RoRw> attachedMode(String sr, String vdi) {
        return table.find(sr, vdi).flatMap(r -> VdiAutomaton.mode(r.superstate()));
    }

    /** The SR ids attached through this wrapper. */
    public List<String> attachedSrs() {
        return table.srList();
    }

    /** The wrapper's datapath table (state, errors, write count), for diagnostics and tests. */
    public DatapathTable table() {
        return table;
    }

    // ===== helpers ==================================================================================

    private <T> T module(T impl, String what) {
        if (impl == null) {
            throw StorageException.unimplemented(what);
        }
        return impl;
    }

    private SrApi sm() {
        return module(inner.sr(), "SR");
    }

    private VdiApi smVdi() {
        return module(inner.vdi(), "VDI");
    }

    private void requireAttached(String sr) {
        if (!table.isAttached(sr)) {
            throw new StorageException(new StorageError.SrNotAttached(sr));
        }
    }

    private <T> T vdiLocked(String sr, String vdi, Supplier<T> body) {
        return locks.withVdi(sr, vdi, body);
    }

    private void vdiLocked(String sr, String vdi, Runnable body) {
        locks.withVdi(sr, vdi, () -> {
            body.run();
            return null;
        });
    }

    /** A datapath state op: leaked-retry, (bring-up ops) post-crash confirmation, then perform. */
    private VdiRecord stateOp(String dbg, String dp, String sr, String vdi, String vm, Op op) {
        return vdiLocked(sr, vdi, () -> {
            datapaths.retryLeaked(dbg, sr, vdi, vm);
            if (op.bringsUp() && table.isAttached(sr)) {
                datapaths.confirm(dbg, sr, vdi);
            }
            return datapaths.perform(dbg, dp, sr, vdi, vm, op);
        });
    }

    private static Map<String, String> redacted(Map<String, String> deviceConfig) {
        Map<String, String> out = new LinkedHashMap<>();
        deviceConfig.forEach((k, v) -> out.put(k, k.contains("password") ? "(omitted)" : v));
        return out;
    }

    // ===== VDI: datapath state ops ===================================================================

    @Override
    public Backend attach3(String dbg, String dp, String sr, String vdi, String vm, boolean readWrite) {
        VdiRecord rec = stateOp(dbg, dp, sr, vdi, vm, Op.attach(readWrite ? RoRw.RW : RoRw.RO));
        return rec.attachInfo().orElseThrow(() -> StorageException.internal(
                "sr: " + sr + " vdi: " + vdi + " attach left no attach_info"));
    }

    @Override
    @Deprecated
    public Backend attach2(String dbg, String dp, String sr, String vdi, boolean readWrite) {
        return attach3(dbg, dp, sr, vdi, NO_VM, readWrite);
    }

    @Override
    @Deprecated
    public AttachInfo attach(String dbg, String dp, String sr, String vdi, boolean readWrite) {
        Backend backend = attach3(dbg, dp, sr, vdi, NO_VM, readWrite);
        return legacyAttachInfo(backend);
    }

    /** The old {@code attach_info} of a backend: XenDisk params, else File path, else BlockDevice path. */
    static AttachInfo legacyAttachInfo(Backend backend) {
        Optional<String> params = backend.first(Implementation.XenDisk.class).map(x -> x.value().params())
                .or(() -> backend.first(Implementation.File.class).map(f -> f.value().path()))
                .or(() -> backend.first(Implementation.BlockDevice.class).map(b -> b.value().path()));
        return params.map(p -> new AttachInfo(p, true, "", Map.of()))
                .orElseThrow(() -> new StorageException(new StorageError.BackendError("INTERNAL_ERROR", List.of(
                        "No File, BlockDev, or XenDisk implementation in Datapath.attach response: "
                                + WireCodec.toJson(backend, Backend.class)))));
    }

    @Override
    public void activate3(String dbg, String dp, String sr, String vdi, String vm) {
        stateOp(dbg, dp, sr, vdi, vm, Op.ACTIVATE);
    }

    @Override
    public void activateReadonly(String dbg, String dp, String sr, String vdi, String vm) {
        stateOp(dbg, dp, sr, vdi, vm, Op.ACTIVATE);
    }

    @Override
    @Deprecated
    public void activate(String dbg, String dp, String sr, String vdi) {
        activate3(dbg, dp, sr, vdi, NO_VM);
    }

    @Override
    public void deactivate(String dbg, String dp, String sr, String vdi, String vm) {
        stateOp(dbg, dp, sr, vdi, vm, Op.DEACTIVATE);
    }

    @Override
    public void detach(String dbg, String dp, String sr, String vdi, String vm) {
        stateOp(dbg, dp, sr, vdi, vm, Op.DETACH);
    }

    @Override
    public void epochBegin(String dbg, String sr, String vdi, String vm, boolean persistent) {
        vdiLocked(sr, vdi, () -> {
            datapaths.retryLeaked(dbg, sr, vdi, vm);
            smVdi().epochBegin(dbg, sr, vdi, vm, persistent);
        });
    }

    @Override
    public void epochEnd(String dbg, String sr, String vdi, String vm) {
        vdiLocked(sr, vdi, () -> {
            datapaths.retryLeaked(dbg, sr, vdi, vm);
            smVdi().epochEnd(dbg, sr, vdi, vm);
        });
    }

    @Override
    public void destroy(String dbg, String sr, String vdi) {
        vdiLocked(sr, vdi, () -> {
            datapaths.removeDatapaths(dbg, sr, vdi, null, h -> true);
            smVdi().destroy(dbg, sr, vdi);
        });
    }

    @Override
    public void dataDestroy(String dbg, String sr, String vdi) {
        vdiLocked(sr, vdi, () -> {
            datapaths.removeDatapaths(dbg, sr, vdi, null, h -> true);
            smVdi().dataDestroy(dbg, sr, vdi);
        });
    }

    // ===== VDI: pass-through (some under the VDI lock) ==============================================

    @Override
    public VdiInfo create(String dbg, String sr, VdiInfo vdiInfo) {
        VdiInfo made = smVdi().create(dbg, sr, vdiInfo);
        if (made.virtualSize() < vdiInfo.virtualSize()) {
            // as upstream, the smaller VDI is left in place
            throw new StorageException(new StorageError.BackendError("SR_BACKEND_FAILURE", List.of("Disk too small",
                    Long.toString(vdiInfo.virtualSize()), Long.toString(made.virtualSize()))));
        }
        return made;
    }

    @Override
    public VdiInfo snapshot(String dbg, String sr, VdiInfo vdiInfo) {
        return vdiLocked(sr, vdiInfo.vdi(), () -> smVdi().snapshot(dbg, sr, vdiInfo));
    }

    @Override
    public VdiInfo clone(String dbg, String sr, VdiInfo vdiInfo) {
        return vdiLocked(sr, vdiInfo.vdi(), () -> smVdi().clone(dbg, sr, vdiInfo));
    }

    @Override
    public void setNameLabel(String dbg, String sr, String vdi, String newNameLabel) {
        vdiLocked(sr, vdi, () -> smVdi().setNameLabel(dbg, sr, vdi, newNameLabel));
    }

    @Override
    public void setNameDescription(String dbg, String sr, String vdi, String newNameDescription) {
        vdiLocked(sr, vdi, () -> smVdi().setNameDescription(dbg, sr, vdi, newNameDescription));
    }

    @Override
    public long resize(String dbg, String sr, String vdi, long newSize) {
        return vdiLocked(sr, vdi, () -> smVdi().resize(dbg, sr, vdi, newSize));
    }

    @Override
    public void setPersistent(String dbg, String sr, String vdi, boolean persistent) {
        vdiLocked(sr, vdi, () -> smVdi().setPersistent(dbg, sr, vdi, persistent));
    }

    @Override
    public void enableCbt(String dbg, String sr, String vdi) {
        vdiLocked(sr, vdi, () -> smVdi().enableCbt(dbg, sr, vdi));
    }

    @Override
    public void disableCbt(String dbg, String sr, String vdi) {
        vdiLocked(sr, vdi, () -> smVdi().disableCbt(dbg, sr, vdi));
    }

    @Override
    public String listChangedBlocks(String dbg, String sr, String vdiFrom, String vdiTp) {
        return vdiLocked(sr, vdiTp, () -> smVdi().listChangedBlocks(dbg, sr, vdiFrom, vdiTp));
    }

    @Override
    public VdiInfo stat(String dbg, String sr, String vdi) {
        return smVdi().stat(dbg, sr, vdi);
    }

    @Override
    public VdiInfo introduce(String dbg, String sr, String uuid, Map<String, String> smConfig, String location) {
        return smVdi().introduce(dbg, sr, uuid, smConfig, location);
    }

    @Override
    public String getUrl(String dbg, String sr, String vdi) {
        return smVdi().getUrl(dbg, sr, vdi);
    }

    @Override
    public List<VdiInfo> similarContent(String dbg, String sr, String vdi) {
        return smVdi().similarContent(dbg, sr, vdi);
    }

    @Override
    public VdiInfo getByName(String dbg, String sr, String name) {
        return smVdi().getByName(dbg, sr, name);
    }

    @Override
    public void setContentId(String dbg, String sr, String vdi, String contentId) {
        smVdi().setContentId(dbg, sr, vdi, contentId);
    }

    @Override
    public void compose(String dbg, String sr, String vdi1, String vdi2) {
        smVdi().compose(dbg, sr, vdi1, vdi2);
    }

    @Override
    public void addToSmConfig(String dbg, String sr, String vdi, String key, String value) {
        smVdi().addToSmConfig(dbg, sr, vdi, key, value);
    }

    @Override
    public void removeFromSmConfig(String dbg, String sr, String vdi, String key) {
        smVdi().removeFromSmConfig(dbg, sr, vdi, key);
    }

    @Override
    public void addTags(String dbg, String sr, String vdi, String key) {
        smVdi().addTags(dbg, sr, vdi, key);
    }

    @Override
    public void removeTags(String dbg, String sr, String vdi, String key) {
        smVdi().removeTags(dbg, sr, vdi, key);
    }

    @Override
    public void revert(String dbg, String sr, VdiInfo snapshotInfo) {
        smVdi().revert(dbg, sr, snapshotInfo);
    }

    // ===== DP =======================================================================================

    @Override
    public String create(String dbg, String id) {
        return id;
    }

    /**
     * Tears {@code dp} down wherever it is held, ignoring sr/vdi/vm as upstream does (the dp id is what
     * counts, and each holder's own vm is used for the SM calls).
     */
    @Override
    public void destroy2(String dbg, String dp, String sr, String vdi, String vm, boolean allowLeak) {
        List<RuntimeException> failures = new ArrayList<>();
        for (String s : table.srList()) {
            List<String> holding = vdisHolding(s, dp, null);
            if (holding.size() > 1) {
                throw new StorageException(new StorageError.BackendError("INTERNAL_ERROR",
                        List.of("Expected 0 or 1 VDI with datapath, had " + holding.size())));
            }
            if (holding.isEmpty()) {
                continue;
            }
            String v = holding.get(0);
            try {
                vdiLocked(s, v, () -> {
                    String holderVm = table.find(s, v).flatMap(r -> r.holder(dp)).map(Holder::vm).orElse(vm);
                    datapaths.destroyDatapath(dbg, dp, s, v, holderVm, allowLeak);
                });
            } catch (RuntimeException e) {
                failures.add(e);
            }
            List<String> others = vdisHolding(s, dp, v);
            if (!others.isEmpty()) {
                throw new StorageException(new StorageError.BackendError("INTERNAL_ERROR", List.of(
                        "Datapath " + dp + " was taken by VDI(s) " + others + " of SR " + s
                                + " while it was being destroyed on VDI " + v)));
            }
        }
        if (failures.isEmpty()) {
            return;
        }
        if (!allowLeak) {
            LOG.error("Leaked datapath {}: {}", dp, failures.get(0).getMessage());
            throw failures.get(0);
        }
        LOG.warn("Forgetting leaked datapath {}", dp);
    }

    private List<String> vdisHolding(String sr, String dp, String except) {
        List<String> out = new ArrayList<>();
        table.vdis(sr).forEach((v, r) -> {
            if (!v.equals(except) && r.holder(dp).isPresent()) {
                out.add(v);
            }
        });
        return out;
    }

    @Override
    public Backend attachInfo(String dbg, String sr, String vdi, String dp, String vm) {
        if (!table.isAttached(sr)) {
            throw StorageException.internal("Not_found");
        }
        VdiRecord rec = table.find(sr, vdi).orElseThrow(() -> StorageException.internal("Not_found"));
        if (rec.stateOf(dp) instanceof DpState.Activated && rec.attachInfo().isPresent() && !rec.unconfirmed()) {
            return rec.attachInfo().get();
        }
        throw StorageException.internal("sr: " + sr + " vdi: " + vdi + " Datapath " + dp + " not attached");
    }

    @Override
    public String diagnostics() {
        return DiagnosticsText.render(table.snapshot());
    }

    @Override
    public DpStat statVdi(String dbg, String sr, String vdi) {
        return vdiLocked(sr, vdi, () -> {
            VdiRecord rec = table.vdi(sr, vdi);
            Map<String, DpState> dps = new LinkedHashMap<>();
            rec.holders().forEach(h -> dps.put(h.dp(), h.state()));
            return new DpStat(rec.superstate(), dps);
        });
    }

    // ===== DATA and DATA.MIRROR =====================================================================

    @Override
    public String copy(String dbg, String sr, String vdi, String vm, String url, String dest, boolean verifyDest) {
        return module(inner.data(), "DATA.copy").copy(dbg, sr, vdi, vm, url, dest, verifyDest);
    }

    /** Needs an activated dp; this daemon runs no tapdisk, so there is never an NBD server behind it. */
    @Override
    public String importActivate(String dbg, String dp, String sr, String vdi, String vm) {
        attachInfo(dbg, sr, vdi, dp, vm);
        throw noTapdisk();
    }

    @Override
    public String getNbdServer(String dbg, String dp, String sr, String vdi, String vm) {
        attachInfo(dbg, sr, vdi, dp, vm);
        throw noTapdisk();
    }

    private static StorageException noTapdisk() {
        return new StorageException(new StorageError.BackendError("INTERNAL_ERROR",
                List.of("No tapdisk attach info found")));
    }

    // ===== SR =======================================================================================

    /** The SR module: SR lifecycle under the SR lock; detach/destroy tear datapaths down first. */
    private final class SrModule implements SrApi {

        @Override
        public void attach(String dbg, String sr, Map<String, String> deviceConfig) {
            locks.withSr(sr, () -> {
                if (table.isAttached(sr)) {
                    LOG.debug("SR.attach {}: already attached, nothing to do", sr);
                    return null;
                }
                LOG.info("SR.attach {} device_config={}", sr, redacted(deviceConfig));
                sm().attach(dbg, sr, deviceConfig);
                table.addSr(sr);
                table.persist();
                return null;
            });
        }

        @Override
        public void detach(String dbg, String sr) {
            detachOrDestroy(dbg, sr, true);
        }

        @Override
        public void destroy(String dbg, String sr) {
            detachOrDestroy(dbg, sr, false);
        }

        private void detachOrDestroy(String dbg, String sr, boolean detach) {
            locks.withSr(sr, () -> locks.withMaster(sr, () -> {
                requireAttached(sr);
                for (String vdi : table.vdis(sr).keySet()) {
                    try {
                        datapaths.removeDatapaths(dbg, sr, vdi, null, h -> true);
                    } catch (RuntimeException ex) {
                        LOG.warn("SR.{} {}: tearing down the datapaths of VDI {} failed: {}",
                                detach ? "detach" : "destroy", sr, vdi, ex.getMessage());
                    }
                }
                Map<String, VdiRecord> left = table.vdis(sr);
                if (!left.isEmpty()) {
                    LOG.error("SR.{} {}: these datapaths have leaked: {}", detach ? "detach" : "destroy", sr,
                            left.values().stream().flatMap(r -> r.holders().stream()).map(Holder::dp).toList());
                }
                if (detach) {
                    sm().detach(dbg, sr);
                } else {
                    sm().destroy(dbg, sr);
                }
                table.removeSr(sr);
                table.persist();
                return null;
            }));
        }

        @Override
        public void reset(String dbg, String sr) {
            locks.withSr(sr, () -> {
                if (table.removeSr(sr)) {
                    LOG.warn("SR.reset {}: forgetting its datapaths without SM calls", sr);
                    table.persist();
                }
                return null;
            });
        }

        @Override
        public Map<String, String> create(String dbg, String sr, String nameLabel, String nameDescription,
                                          Map<String, String> deviceConfig, long physicalSize) {
            return locks.withSr(sr, () -> {
                if (table.isAttached(sr)) {
                    throw new StorageException(new StorageError.SrAttached(sr));
                }
                return sm().create(dbg, sr, nameLabel, nameDescription, deviceConfig, physicalSize);
            });
        }

        @Override
        public SrInfo stat(String dbg, String sr) {
            return locks.withSr(sr, () -> {
                requireAttached(sr);
                return sm().stat(dbg, sr);
            });
        }

        @Override
        @SuppressWarnings("deprecation")
        public List<VdiInfo> scan(String dbg, String sr) {
            return locks.withSr(sr, () -> {
                requireAttached(sr);
                return sm().scan(dbg, sr);
            });
        }

        @Override
        @SuppressWarnings("deprecation")
        public Scan2Result scan2(String dbg, String sr) {
            return locks.withSr(sr, () -> {
                requireAttached(sr);
                List<VdiInfo> vdis = sm().scan(dbg, sr);
                return new Scan2Result(vdis, sm().stat(dbg, sr));
            });
        }

        @Override
        public List<String> list(String dbg) {
            return table.srList();
        }

        @Override
        public ProbeResult probe(String dbg, String queue, Map<String, String> deviceConfig, Map<String, String> smConfig) {
            return sm().probe(dbg, queue, deviceConfig, smConfig);
        }

        @Override
        public void setNameLabel(String dbg, String sr, String newNameLabel) {
            sm().setNameLabel(dbg, sr, newNameLabel);
        }

        @Override
        public void setNameDescription(String dbg, String sr, String newNameDescription) {
            sm().setNameDescription(dbg, sr, newNameDescription);
        }

        @Override
        public void updateSnapshotInfoSrc(String dbg, String sr, String vdi, String url, String dest, String destVdi,
                                          Map<String, String> snapshotPairs, boolean verifyDest) {
            sm().updateSnapshotInfoSrc(dbg, sr, vdi, url, dest, destVdi, snapshotPairs, verifyDest);
        }

        @Override
        public void updateSnapshotInfoDest(String dbg, String sr, String vdi, VdiInfo srcVdi,
                                           Map<String, VdiInfo> snapshotPairs) {
            sm().updateSnapshotInfoDest(dbg, sr, vdi, srcVdi, snapshotPairs);
        }
    }

    /**
     * DATA.MIRROR: SMAPIv1 has no mirroring here; the legacy receiving side passes through, v25.11.0's
     * {@code DATA.MIRROR.import_activate/get_nbd_server} are this wrapper's {@code DATA} calls of the same
     * shape, every other call answers {@code Unimplemented} (the interface's defaults).
     */
    private final class MirrorModule implements DataMirrorApi {
        private DataMirrorApi mirrorApi(String what) {
            return module(inner.dataMirror(), what);
        }

        @Override
        @Deprecated
        public MirrorReceiveResult receiveStart(String dbg, String sr, VdiInfo vdiInfo, String id, List<String> similar) {
            return mirrorApi("DATA.MIRROR.receive_start").receiveStart(dbg, sr, vdiInfo, id, similar);
        }

        @Override
        @Deprecated
        public MirrorReceiveResult receiveStart2(String dbg, String sr, VdiInfo vdiInfo, String id, List<String> similar,
                                                 String vm) {
            return mirrorApi("DATA.MIRROR.receive_start2").receiveStart2(dbg, sr, vdiInfo, id, similar, vm);
        }

        @Override
        @Deprecated
        public void receiveFinalize(String dbg, String id) {
            mirrorApi("DATA.MIRROR.receive_finalize").receiveFinalize(dbg, id);
        }

        @Override
        @Deprecated
        public void receiveFinalize2(String dbg, String id) {
            mirrorApi("DATA.MIRROR.receive_finalize2").receiveFinalize2(dbg, id);
        }

        @Override
        @Deprecated
        public void receiveCancel(String dbg, String id) {
            mirrorApi("DATA.MIRROR.receive_cancel").receiveCancel(dbg, id);
        }

        /** v25.11.0's name for {@code DATA.import_activate}: the same call (upstream's wrapper served it so). */
        @Override
        @Deprecated
        public String mirrorImportActivate(String dbg, String dp, String sr, String vdi, String vm) {
            return importActivate(dbg, dp, sr, vdi, vm);
        }

        /** v25.11.0's name for {@code DATA.get_nbd_server}: the same call. */
        @Override
        @Deprecated
        public String mirrorGetNbdServer(String dbg, String dp, String sr, String vdi, String vm) {
            return getNbdServer(dbg, dp, sr, vdi, vm);
        }
    }}
