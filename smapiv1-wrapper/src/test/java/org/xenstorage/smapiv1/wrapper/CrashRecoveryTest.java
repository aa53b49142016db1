package org.xenstorage.smapiv1.wrapper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.automaton.VdiAutomaton;
import org.xenstorage.smapiv1.datapath.StateFile;

/**
 * The crash windows of the write-ahead scheme, simulated in one JVM: at a chosen SM call the state file
 * is copied exactly as it is on disk at that moment (before the call: intent written, call not made;
 * after it: call made, outcome not yet written), together with the backend's ledger. A new wrapper is
 * then started on the copy with that backend, as a restarted daemon would be after {@code kill -9}.
 */
class CrashRecoveryTest {
    @TempDir
    Path dir;

    /** Thrown inside the SM call to stop the "dead" wrapper; an Error so no error path handles it. */
    static final class Crash extends Error {
        Crash() {
            super("simulated kill -9");
        }
    }

    record Step(String name, Consumer<StorageService> call) {
        @Override
        public String toString() {
            return name;
        }
    }

    static final List<Step> LIFECYCLE = List.of(
            new Step("attach", s -> s.vdi().attach3("dbg", "A", "sr", "v", "vm", true)),
            new Step("activate", s -> s.vdi().activate3("dbg", "A", "sr", "v", "vm")),
            new Step("deactivate", s -> s.vdi().deactivate("dbg", "A", "sr", "v", "vm")),
            new Step("detach", s -> s.vdi().detach("dbg", "A", "sr", "v", "vm")));

    static Stream<Arguments> crashPoints() {
        List<Arguments> out = new ArrayList<>();
        for (int i = 0; i < LIFECYCLE.size(); i++) {
            out.add(Arguments.of(i, true));
            out.add(Arguments.of(i, false));
        }
        return out.stream();
    }

    /** Runs the lifecycle until SM call {@code at} and "kills" the wrapper before or after that call. */
    private Restarted crashAt(int at, boolean afterCall) throws Exception {
        Path live = dir.resolve("live/storage.db");
        Path frozen = dir.resolve("frozen/storage.db");
        RecordingSm sm = new RecordingSm();
        Wrapper w = new Wrapper(sm.service(), live);
        w.service().sr().attach("dbg", "sr", Map.of());
        Map<String, String> ledgerAtCrash = new HashMap<>();
        Consumer<String> freeze = c -> {
            try {
                Files.createDirectories(frozen.getParent());
                Files.copy(live, frozen, StandardCopyOption.REPLACE_EXISTING);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            ledgerAtCrash.putAll(sm.ledger);
            throw new Crash();
        };
        int[] seen = {0};
        Consumer<String> counting = c -> {
            if (seen[0]++ == at) {
                freeze.accept(c);
            }
        };
        if (afterCall) {
            sm.after = counting;
        } else {
            sm.during = counting;
        }
        for (int i = 0; i <= at; i++) {
            int step = i;
            if (step < at) {
                LIFECYCLE.get(step).call().accept(w.service());
            } else {
                assertThrows(Crash.class, () -> LIFECYCLE.get(step).call().accept(w.service()));
            }
        }
        // the intent of the interrupted call is on disk: that is the whole point
        assertEquals(1, StateFile.decode(Files.readString(frozen)).intents().size());
        RecordingSm backend = new RecordingSm();
        backend.ledger.putAll(ledgerAtCrash);
        Wrapper restarted = new Wrapper(backend.service(), frozen);
        return new Restarted(backend, restarted, frozen);
    }

    record Restarted(RecordingSm sm, Wrapper wrapper, Path file) {
        StorageService s() {
            return wrapper.service();
        }

        /** No leak: whatever the backend holds, the wrapper records at least as much. */
        void assertCoversLedger() {
            String held = sm.ledger.get("v");
            DpState recorded = s().dp().statVdi("dbg", "sr", "v").superstate();
            if (held != null) {
                assertTrue(!(recorded instanceof DpState.Detached), "backend holds " + held + " but state is detached");
                if (held.startsWith("activated")) {
                    assertTrue(recorded instanceof DpState.Activated, held + " vs " + recorded);
                }
            }
        }
    }

    @ParameterizedTest(name = "crash at SM call {0}, after the call: {1}; then DP.destroy2")
    @MethodSource("crashPoints")
    void destroyAfterRestartLeavesNothingAttached(int at, boolean afterCall) throws Exception {
        Restarted r = crashAt(at, afterCall);
        assertEquals(List.of(), r.sm().calls(), "no SM call at start-up");
        assertTrue(StateFile.decode(Files.readString(r.file())).intents().isEmpty(), "intents reconciled");
        r.assertCoversLedger();
        r.s().dp().destroy2("dbg", "A", "sr", "v", "vm", false);
        assertEquals(Map.of(), r.sm().ledger, "backend left attached: " + r.sm().calls());
        assertEquals(new DpState.Detached(), r.s().dp().statVdi("dbg", "sr", "v").superstate());
    }

    @ParameterizedTest(name = "crash at SM call {0}, after the call: {1}; then the caller retries")
    @MethodSource("crashPoints")
    void retryingTheInterruptedCallConverges(int at, boolean afterCall) throws Exception {
        Restarted r = crashAt(at, afterCall);
        for (int i = at; i < LIFECYCLE.size(); i++) {
            LIFECYCLE.get(i).call().accept(r.s());
            r.assertCoversLedger();
            DpState recorded = r.s().dp().statVdi("dbg", "sr", "v").superstate();
            String held = r.sm().ledger.get("v");
            assertEquals(recorded instanceof DpState.Detached ? null : VdiAutomaton.text(recorded).replace("  ", " "),
                    held, "after retrying " + LIFECYCLE.get(i) + ": " + r.sm().calls());
        }
        assertEquals(Map.of(), r.sm().ledger);
    }

    @Test
    void attachRetriedAfterACrashReturnsAFreshBackend() throws Exception {
        Restarted r = crashAt(0, true);
        // the crash lost the backend the driver returned; the state cannot hand it out ...
        assertThrows(Exception.class, () -> r.s().dp().attachInfo("dbg", "sr", "v", "A", "vm"));
        // ... so the retried attach re-runs SM attach (idempotent) and returns what it gives
        var backend = r.s().vdi().attach3("dbg", "A", "sr", "v", "vm", true);
        assertEquals(List.of("VDI.attach3 v rw=true"), r.sm().calls());
        assertTrue(backend.implementations().toString().contains("/dev/sm/sr/v#1"), backend.toString());
        r.s().vdi().activate3("dbg", "A", "sr", "v", "vm");
        assertEquals(backend, r.s().dp().attachInfo("dbg", "sr", "v", "A", "vm"));
    }

    @Test
    void stateWithoutIntentsIsTrustedAsItStands() throws Exception {
        Path file = dir.resolve("s/storage.db");
        RecordingSm sm = new RecordingSm();
        Wrapper w = new Wrapper(sm.service(), file);
        w.service().sr().attach("dbg", "sr", Map.of());
        w.service().vdi().attach3("dbg", "A", "sr", "v", "vm", true);
        w.service().vdi().activate3("dbg", "A", "sr", "v", "vm");
        var before = w.service().dp().statVdi("dbg", "sr", "v");
        String diagnostics = w.service().dp().diagnostics();

        RecordingSm after = new RecordingSm();
        Wrapper restarted = new Wrapper(after.service(), file);
        assertEquals(before, restarted.service().dp().statVdi("dbg", "sr", "v"));
        assertEquals(diagnostics, restarted.service().dp().diagnostics());
        assertEquals(List.of("sr"), restarted.service().sr().list("dbg"));
        assertEquals(List.of(), after.calls(), "acceptance 17: no SM call at start-up");
        // a repeat of the activate is free: the VDI is not unconfirmed
        restarted.service().vdi().activate3("dbg", "A", "sr", "v", "vm");
        assertEquals(List.of(), after.calls());
        restarted.service().dp().destroy2("dbg", "A", "sr", "v", "vm", false);
        assertEquals(List.of("VDI.deactivate v", "VDI.detach v"), after.calls());
    }

    @Test
    void corruptStateFileStartsEmptyAndServes() throws Exception {
        Path file = dir.resolve("c/storage.db");
        Files.createDirectories(file.getParent());
        for (String junk : List.of("", "{\"host\":", "null")) {
            Files.writeString(file, junk);
            RecordingSm sm = new RecordingSm();
            Wrapper w = new Wrapper(sm.service(), file);
            assertEquals(List.of(), w.service().sr().list("dbg"));
            w.service().sr().attach("dbg", "sr", Map.of());
            assertEquals(List.of("sr"), w.service().sr().list("dbg"));
            assertEquals(List.of("sr"), new Wrapper(sm.service(), file).service().sr().list("dbg"));
        }
    }
}
