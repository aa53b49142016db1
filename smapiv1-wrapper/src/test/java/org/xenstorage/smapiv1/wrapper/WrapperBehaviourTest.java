package org.xenstorage.smapiv1.wrapper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.AttachInfo;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.DpStat;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.DpState.Activated;
import org.xenstorage.idl.types.DpState.Attached;
import org.xenstorage.idl.types.RoRw;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.WireCodec;

/**
 * The wrapper's worked examples (spec 1.6, W1-W15) and acceptance tests 4-16 and 19 (section 6), with the
 * exact SM call sequences a recording layer below observes.
 */
class WrapperBehaviourTest {
    static final DpState ARO = new Attached(RoRw.RO);
    static final DpState ARW = new Attached(RoRw.RW);
    static final DpState XRO = new Activated(RoRw.RO);
    static final DpState XRW = new Activated(RoRw.RW);
    static final String ATTACH_RW = "VDI.attach3 v rw=true";
    static final String ATTACH_RO = "VDI.attach3 v rw=false";
    static final String ACTIVATE = "VDI.activate3 v";
    static final String DEACTIVATE = "VDI.deactivate v";
    static final String DETACH = "VDI.detach v";

    @TempDir
    Path dir;
    RecordingSm sm;
    Wrapper wrapper;
    StorageService s;
    Path stateFile;

    @BeforeEach
    void attachedSr() {
        sm = new RecordingSm();
        stateFile = dir.resolve("state/storage.db");
        wrapper = new Wrapper(sm.service(), stateFile);
        s = wrapper.service();
        s.sr().attach("dbg", "sr", Map.of("path", "/x", "password", "secret"));
        sm.clear();
    }

    Backend attach(String dp, boolean rw) {
        return s.vdi().attach3("dbg", dp, "sr", "v", "vm-" + dp, rw);
    }

    void activate(String dp) {
        s.vdi().activate3("dbg", dp, "sr", "v", "vm-" + dp);
    }

    void deactivate(String dp) {
        s.vdi().deactivate("dbg", dp, "sr", "v", "vm-" + dp);
    }

    void detach(String dp) {
        s.vdi().detach("dbg", dp, "sr", "v", "vm-" + dp);
    }

    DpStat stat() {
        return s.dp().statVdi("dbg", "sr", "v");
    }

    static DpStat stat(DpState superstate, Object... dpStates) {
        Map<String, DpState> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < dpStates.length; i += 2) {
            m.put((String) dpStates[i], (DpState) dpStates[i + 1]);
        }
        return new DpStat(superstate, m);
    }

    static StorageError error(Executable call) {
        return assertThrows(StorageException.class, call).error();
    }

    static void assertBadTransition(StorageError e) {
        StorageError.InternalError ie = assertInstanceOf(StorageError.InternalError.class, e);
        assertTrue(ie.message().contains("Bad_transition"), ie.message());
    }

    @Test
    void w1SingleHolderLifecycleWithStatAfterEachStep() {
        attach("A", true);
        assertEquals(stat(ARW, "A", ARW), stat());
        activate("A");
        assertEquals(stat(XRW, "A", XRW), stat());
        deactivate("A");
        assertEquals(stat(ARW, "A", ARW), stat());
        detach("A");
        assertEquals(stat(DpState.DETACHED), stat());
        assertEquals(List.of(ATTACH_RW, ACTIVATE, DEACTIVATE, DETACH), sm.calls());
        assertTrue(wrapper.table().find("sr", "v").isEmpty(), "VDI record removed");
    }

    @Test
    void w2SharedAttachReturnsTheFirstHoldersBackend() {
        Backend a = attach("A", true);
        Backend b = attach("B", false);
        assertEquals(a, b);
        assertEquals(List.of(ATTACH_RW), sm.calls());
        assertEquals(stat(ARW, "B", ARO, "A", ARW), stat());
    }

    @Test
    void w3NoUpgradeFromReadOnly() {
        attach("A", false);
        StorageError e = error(() -> attach("B", true));
        assertEquals(new StorageError.IllegalTransition(ARO, ARW), e);
        assertEquals("[\"Illegal_transition\",[[\"Attached\",\"RO\"],[\"Attached\",\"RW\"]]]",
                WireCodec.toJson(e, StorageError.class));
        assertEquals(List.of(ATTACH_RO), sm.calls());
        assertEquals(stat(ARO, "A", ARO), stat());
        String diag = s.dp().diagnostics();
        assertTrue(diag.contains("The following errors have been logged:\nB @ "), diag);
        assertTrue(diag.contains("sr:sr vdi:v error:Storage_error ([\"Illegal_transition\""), diag);
    }

    @Test
    void w4SameDatapathCannotUpgrade() {
        attach("A", false);
        assertBadTransition(error(() -> attach("A", true)));
        assertEquals(List.of(ATTACH_RO), sm.calls());
        assertEquals(stat(ARO, "A", ARO), stat());
    }

    @Test
    void w5OnlyFirstInAndLastOutTouchTheBackend() {
        attach("A", false);
        activate("A");
        attach("B", false);
        activate("B");
        assertEquals(List.of(ATTACH_RO, ACTIVATE), sm.calls());
        deactivate("A");
        detach("A");
        assertEquals(List.of(ATTACH_RO, ACTIVATE), sm.calls(), "acceptance 9: A leaving makes no SM call");
        assertEquals(stat(XRO, "B", XRO), stat());
        deactivate("B");
        detach("B");
        assertEquals(List.of(ATTACH_RO, ACTIVATE, DEACTIVATE, DETACH), sm.calls());
        assertEquals(stat(DpState.DETACHED), stat());
    }

    @Test
    void w6DowngradeOnDetachIsIllegal() {
        attach("A", true);
        attach("B", false);
        assertEquals(new StorageError.IllegalTransition(ARW, ARO), error(() -> detach("A")));
        assertEquals(List.of(ATTACH_RW), sm.calls());
        assertEquals(stat(ARW, "B", ARO, "A", ARW), stat());
    }

    @Test
    void w7ActivationAndRwFromDifferentDatapaths() {
        attach("A", true);
        attach("B", false);
        activate("B");
        assertEquals(stat(XRW, "B", XRO, "A", ARW), stat());
        assertEquals(new StorageError.IllegalTransition(XRW, XRO), error(() -> detach("A")));
        assertEquals(List.of(ATTACH_RW, ACTIVATE), sm.calls());
    }

    @Test
    void w8DestroyTearsDown() {
        attach("A", true);
        activate("A");
        s.dp().destroy2("dbg", "A", "sr", "v", "vm-A", false);
        assertEquals(List.of(ATTACH_RW, ACTIVATE, DEACTIVATE, DETACH), sm.calls());
        assertTrue(wrapper.table().find("sr", "v").isEmpty());
        // acceptance 10: an unknown dp succeeds with no SM call
        s.dp().destroy2("dbg", "nobody", "sr", "v", "vm", false);
        assertEquals(4, sm.calls().size());
    }

    @Test
    void w9ActivateWithoutAttach() {
        StorageError e = error(() -> activate("A"));
        assertEquals(new StorageError.InternalError("Vdi_automaton.Bad_transition(0, 2)"), e);
        assertEquals(List.of(), sm.calls());
    }

    @Test
    void w10DetachOfAStrangerIsFreeAndWritesNothing() throws Exception {
        long writes = wrapper.table().writes();
        byte[] before = Files.readAllBytes(stateFile);
        detach("A");
        deactivate("A");
        assertEquals(List.of(), sm.calls());
        assertEquals(writes, wrapper.table().writes(), "acceptance 8: state file not rewritten");
        assertEquals(new String(before), new String(Files.readAllBytes(stateFile)));
    }

    @Test
    void w11DetachOfAnActivatedDatapath() {
        attach("A", true);
        activate("A");
        StorageError e = error(() -> detach("A"));
        assertEquals(new StorageError.InternalError("Vdi_automaton.Bad_transition(_, 1)"), e);
        assertEquals(List.of(ATTACH_RW, ACTIVATE), sm.calls());
        assertEquals(stat(XRW, "A", XRW), stat());
    }

    @Test
    void w12LeakThenRetryBeforeTheNextAttach() {
        attach("A", true);
        activate("A");
        StorageError smError = new StorageError.BackendError("SR_BACKEND_FAILURE_46", List.of("", "busy", ""));
        sm.fail("VDI.detach", smError, 1);
        assertEquals(smError, error(() -> s.dp().destroy2("dbg", "A", "sr", "v", "vm-A", false)));
        assertEquals(List.of(ATTACH_RW, ACTIVATE, DEACTIVATE, DETACH), sm.calls());
        assertTrue(stat().dps().containsKey("A"), "A still listed");
        assertTrue(s.dp().diagnostics().contains("DP: A: attached  RW  ** LEAKED\n"), s.dp().diagnostics());
        sm.clear();
        attach("B", false);
        // we keep the deactivate's progress (permitted QUIRK fix), so the retry is the detach alone
        assertEquals(List.of(DETACH, ATTACH_RO), sm.calls());
        assertEquals(stat(ARO, "B", ARO), stat());
        assertFalse(s.dp().diagnostics().contains("LEAKED"));
    }

    @Test
    void acceptance11RetryFailingAgainBlocksTheAttach() {
        attach("A", true);
        activate("A");
        StorageError smError = new StorageError.BackendError("SR_BACKEND_FAILURE_46", List.of());
        sm.fail("VDI.detach", smError, 2);
        assertEquals(smError, error(() -> s.dp().destroy2("dbg", "A", "sr", "v", "vm-A", false)));
        sm.clear();
        assertEquals(smError, error(() -> attach("B", false)));
        assertEquals(List.of(DETACH), sm.calls(), "SM attach3 never called");
        assertEquals(stat(ARW, "A", ARW), stat());
    }

    @Test
    void w13AllowLeakForgets() {
        attach("A", true);
        activate("A");
        sm.fail("VDI.deactivate", new StorageError.BackendError("SR_BACKEND_FAILURE_1", List.of()), 1);
        s.dp().destroy2("dbg", "A", "sr", "v", "vm-A", true);
        assertEquals(List.of(ATTACH_RW, ACTIVATE, DEACTIVATE), sm.calls());
        assertEquals(stat(DpState.DETACHED), stat());
        assertTrue(wrapper.table().find("sr", "v").isEmpty());
    }

    @Test
    void w14VdiDestroyOnABusyVdi() {
        attach("A", true);
        activate("A");
        attach("B", true);
        s.vdi().destroy("dbg", "sr", "v");
        assertEquals(List.of(ATTACH_RW, ACTIVATE, DEACTIVATE, DETACH, "VDI.destroy v"), sm.calls());
        assertEquals(stat(DpState.DETACHED), stat());
    }

    @Test
    void w15RepeatsAreFree() {
        Backend first = attach("A", true);
        Backend again = attach("A", true);
        assertEquals(first, again);
        activate("A");
        activate("A");
        deactivate("A");
        deactivate("A");
        assertEquals(List.of(ATTACH_RW, ACTIVATE, DEACTIVATE), sm.calls());
    }

    @Test
    void w15RepeatAttachDoesNotRewriteState() {
        attach("A", true);
        long writes = wrapper.table().writes();
        attach("A", true);
        assertEquals(writes, wrapper.table().writes());
    }

    @Test
    void acceptance7IllegalPerDatapathOpsChangeNothing() {
        assertBadTransition(error(() -> activate("A")));
        attach("A", true);
        activate("A");
        assertBadTransition(error(() -> detach("A")));
        attach("B", false);
        assertBadTransition(error(() -> attach("B", true)));
        assertEquals(List.of(ATTACH_RW, ACTIVATE), sm.calls());
        assertEquals(stat(XRW, "B", ARO, "A", XRW), stat());
    }

    @Test
    void acceptance14SrLifecycle() {
        s.sr().attach("dbg", "sr", Map.of());
        assertEquals(List.of(), sm.calls(), "second SR.attach makes no SM call");
        assertEquals(List.of("sr"), s.sr().list("dbg"));
        assertEquals(new StorageError.SrAttached("sr"),
                error(() -> s.sr().create("dbg", "sr", "n", "d", Map.of(), 0)));
        StorageError notAttached = new StorageError.SrNotAttached("other");
        assertEquals(notAttached, error(() -> s.vdi().attach3("dbg", "A", "other", "v", "vm", true)));
        assertEquals(notAttached, error(() -> s.dp().statVdi("dbg", "other", "v")));
        assertEquals(notAttached, error(() -> s.sr().scan("dbg", "other")));
        assertEquals(notAttached, error(() -> s.sr().stat("dbg", "other")));
        assertEquals(notAttached, error(() -> s.sr().detach("dbg", "other")));
        assertEquals(List.of(), sm.calls());
        s.sr().create("dbg", "other", "n", "d", Map.of(), 0);
        assertEquals(List.of("SR.create other"), sm.calls());
    }

    @Test
    void acceptance15SrDetachTearsDownActiveVdis() {
        attach("A", true);
        activate("A");
        s.sr().detach("dbg", "sr");
        assertEquals(List.of(ATTACH_RW, ACTIVATE, DEACTIVATE, DETACH, "SR.detach sr"), sm.calls());
        assertEquals(List.of(), s.sr().list("dbg"));
        assertEquals(new StorageError.SrNotAttached("sr"), error(() -> attach("A", true)));
    }

    @Test
    void acceptance15SrDetachSucceedsWhenAVdiDetachFails() {
        attach("A", true);
        sm.fail("VDI.detach", new StorageError.BackendError("SR_BACKEND_FAILURE_46", List.of()), 1);
        s.sr().detach("dbg", "sr");
        assertEquals(List.of(ATTACH_RW, DETACH, "SR.detach sr"), sm.calls());
        assertEquals(List.of(), s.sr().list("dbg"));
    }

    @Test
    void acceptance15FailedSmSrDetachKeepsTheSr() {
        StorageError e = new StorageError.BackendError("SR_BACKEND_FAILURE_47", List.of());
        sm.fail("SR.detach", e, 1);
        assertEquals(e, error(() -> s.sr().detach("dbg", "sr")));
        assertEquals(List.of("sr"), s.sr().list("dbg"));
    }

    @Test
    void srDestroyTearsDownThenDestroys() {
        attach("A", false);
        s.sr().destroy("dbg", "sr");
        assertEquals(List.of(ATTACH_RO, DETACH, "SR.destroy sr"), sm.calls());
        assertEquals(List.of(), s.sr().list("dbg"));
    }

    @Test
    void acceptance16SrResetForgetsWithoutSmCalls() throws Exception {
        attach("A", true);
        activate("A");
        sm.clear();
        s.sr().reset("dbg", "sr");
        assertEquals(List.of(), sm.calls());
        assertEquals(List.of(), s.sr().list("dbg"));
        assertFalse(Files.readString(stateFile).contains("\"sr\""), Files.readString(stateFile));
        s.sr().reset("dbg", "never-known");
    }

    @Test
    void acceptance19DeprecatedAttach() {
        AttachInfo info = s.vdi().attach("dbg", "A", "sr", "v", true);
        assertTrue(info.params().startsWith("/dev/sm/sr/v#"), info.params());
        assertTrue(info.oDirect());
        assertEquals("", info.oDirectReason());
        assertEquals(Map.of(), info.xenstoreData());
        assertEquals("0", wrapper.table().find("sr", "v").orElseThrow().holder("A").orElseThrow().vm());
    }

    @Test
    void acceptance19VdiCreateTooSmall() {
        sm.createdSize = 1000;
        VdiInfo req = VdiInfo.defaults("new", "disk").withSizes(4096, 0);
        StorageError e = error(() -> s.vdi().create("dbg", "sr", req));
        assertEquals(new StorageError.BackendError("SR_BACKEND_FAILURE", List.of("Disk too small", "4096", "1000")), e);
        sm.createdSize = -1;
        assertEquals(4096, s.vdi().create("dbg", "sr", req).virtualSize());
    }

    @Test
    void attachInfoOnlyForActivatedDatapaths() {
        assertEquals(new StorageError.InternalError("Not_found"),
                error(() -> s.dp().attachInfo("dbg", "sr", "v", "A", "vm")));
        Backend b = attach("A", true);
        assertEquals(new StorageError.InternalError("sr: sr vdi: v Datapath A not attached"),
                error(() -> s.dp().attachInfo("dbg", "sr", "v", "A", "vm")));
        activate("A");
        assertEquals(b, s.dp().attachInfo("dbg", "sr", "v", "A", "vm"));
        assertEquals(new StorageError.InternalError("Not_found"),
                error(() -> s.dp().attachInfo("dbg", "nosr", "v", "A", "vm")));
    }

    @Test
    void diagnosticsText() {
        assertEquals("The following SRs are attached:\n    SR sr\n\nNo errors have been logged.\n", s.dp().diagnostics());
        Backend b = attach("A", true);
        activate("A");
        attach("B", false);
        String expected = "The following SRs are attached:\n"
                + "    SR sr\n"
                + "        VDI v\n"
                + "            activated RW (device=Some " + WireCodec.toJson(b, Backend.class) + ")\n"
                + "                DP: B: attached  RO\n"
                + "                DP: A: activated RW\n"
                + "\n"
                + "No errors have been logged.\n";
        assertEquals(expected, s.dp().diagnostics());
    }

    @Test
    void dpCreateReturnsIdAndDpDestroyIsUnimplemented() {
        assertEquals("vbd/3/xvda", s.dp().create("dbg", "vbd/3/xvda"));
        assertInstanceOf(StorageError.Unimplemented.class, error(() -> s.dp().destroy("dbg", "x", false)));
    }

    @Test
    void teardownOfAVanishedVdiIsASuccess() {
        attach("A", true);
        sm.fail("VDI.detach", new StorageError.VdiDoesNotExist("v"), 1);
        detach("A");
        assertEquals(stat(DpState.DETACHED), stat());
    }

    @Test
    void unimplementedMirrorCallsAndMissingModules() {
        assertEquals(new StorageError.Unimplemented("DATA.MIRROR.list"), error(() -> s.dataMirror().list("dbg")));
        assertEquals(new StorageError.Unimplemented("DATA.mirror"),
                error(() -> s.data().mirror("dbg", "sr", "v", "vhd", "vm", "url")));
        assertEquals(new StorageError.Unimplemented("Query.query"), error(() -> s.query().query("dbg")));
        assertEquals(new StorageError.Unimplemented("TASK.list"), error(() -> s.task().list("dbg")));
        assertEquals(new StorageError.Unimplemented("Policy.get_backend_vm"),
                error(() -> s.policy().getBackendVm("dbg", "vm", "sr", "v")));
        assertEquals(new StorageError.Unimplemented("get_by_name"), error(() -> s.getByName().getByName("dbg", "n")));
    }

    @Test
    void epochCallsRetryLeakedDatapathsFirst() {
        attach("A", true);
        sm.fail("VDI.detach", new StorageError.BackendError("SR_BACKEND_FAILURE_46", List.of()), 1);
        error(() -> s.dp().destroy2("dbg", "A", "sr", "v", "vm-A", false));
        sm.clear();
        s.vdi().epochBegin("dbg", "sr", "v", "vm", true);
        assertEquals(List.of(DETACH, "VDI.epoch_begin v"), sm.calls());
    }

    @Test
    void srAttachIsRecordedOnlyOnSuccess() {
        StorageError e = new StorageError.BackendError("SR_BACKEND_FAILURE_1", List.of());
        sm.fail("SR.attach", e, 1);
        assertEquals(e, error(() -> s.sr().attach("dbg", "sr2", Map.of())));
        assertEquals(List.of("sr"), s.sr().list("dbg"));
        assertNotEquals(List.of(), sm.calls());
    }

    @Test
    void refusedDestroyIsNotALeakAndDoesNotBlockTheOtherHolder() {
        attach("A", true);
        attach("B", false);
        assertEquals(new StorageError.IllegalTransition(ARW, ARO),
                error(() -> s.dp().destroy2("dbg", "A", "sr", "v", "vm-A", false)));
        assertFalse(s.dp().diagnostics().contains("LEAKED"), s.dp().diagnostics());
        detach("B");
        s.dp().destroy2("dbg", "A", "sr", "v", "vm-A", false);
        assertEquals(List.of(ATTACH_RW, DETACH), sm.calls());
        assertEquals(stat(DpState.DETACHED), stat());
    }

    @Test
    void vdiDestroyRetriesTheRwHolderAfterTheRoHolderLeft() {
        attach("A", true);
        attach("B", false);
        attach("A", true); // a repeat: A is now the most recent holder, so it is torn down first
        assertEquals(stat(ARW, "A", ARW, "B", ARO), stat());
        s.vdi().destroy("dbg", "sr", "v");
        assertEquals(List.of(ATTACH_RW, DETACH, "VDI.destroy v"), sm.calls());
        assertEquals(stat(DpState.DETACHED), stat());
    }

    @Test
    void srDetachTearsDownEveryHolderWhateverTheirOrder() {
        attach("A", true);
        attach("B", false);
        attach("A", true);
        s.sr().detach("dbg", "sr");
        assertEquals(List.of(ATTACH_RW, DETACH, "SR.detach sr"), sm.calls());
    }

    /**
     * Issue 14.4: xen-api v25.11.0 names these two calls DATA.MIRROR.import_activate/get_nbd_server (its
     * wrapper served them); over the wire they answer exactly what the HEAD names answer, from the same checks.
     */
    @Test
    void v25MirrorNamesAnswerAsTheHeadDataCalls() {
        org.xenstorage.idl.rpc.StorageDispatcher wire = new org.xenstorage.idl.rpc.StorageDispatcher(s);
        attach("A", true);
        activate("A");
        for (String dp : List.of("A", "B")) { // activated (no tapdisk behind it) and unknown
            for (String[] names : List.of(new String[] {"DATA.import_activate", "DATA.MIRROR.import_activate"},
                    new String[] {"DATA.get_nbd_server", "DATA.MIRROR.get_nbd_server"})) {
                // v25.11.0's client emits the named members in reverse declaration order
                String params = "[{\"vm\":\"vm-A\",\"vdi\":\"v\",\"sr\":\"sr\",\"dp\":\"" + dp
                        + "\",\"dbg\":\"d\"}]";
                String head = wire.dispatch("{\"method\":\"" + names[0] + "\",\"params\":" + params + ",\"id\":1}").join();
                String v25 = wire.dispatch("{\"method\":\"" + names[1] + "\",\"params\":" + params + ",\"id\":1}").join();
                assertEquals(head, v25, names[1] + " on dp " + dp);
                assertTrue(head.contains(dp.equals("A") ? "No tapdisk attach info found" : "Datapath B not attached"), head);
            }
        }
    }
}
