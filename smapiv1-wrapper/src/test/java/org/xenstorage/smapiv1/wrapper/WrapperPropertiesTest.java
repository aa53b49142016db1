package org.xenstorage.smapiv1.wrapper;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.automaton.VdiAutomaton;

/**
 * Random sequences of datapath calls from three datapaths on one VDI, with SM failures injected at random:
 * after every call, whether it succeeded or not, what the backend holds (the recording layer's ledger)
 * equals the superstate the wrapper records, and the wrapper's state survives a reload unchanged. At the
 * end, with failures switched off, destroying every datapath leaves the backend empty.
 */
class WrapperPropertiesTest {
    enum Kind { ATTACH_RO, ATTACH_RW, ACTIVATE, DEACTIVATE, DETACH, DESTROY, VDI_DESTROY }

    record Action(Kind kind, int dp, String failRpc) {
    }

    static final List<String> FAILABLE = List.of("VDI.attach3", "VDI.activate3", "VDI.deactivate", "VDI.detach");

    @Provide
    Arbitrary<List<Action>> actions() {
        Arbitrary<String> fail = Arbitraries.oneOf(Arbitraries.just((String) null), Arbitraries.just((String) null),
                Arbitraries.just((String) null), Arbitraries.of(FAILABLE));
        Arbitrary<Action> one = Combinators.combine(Arbitraries.of(Kind.class), Arbitraries.integers().between(0, 2),
                fail).as(Action::new);
        return one.list().ofMinSize(1).ofMaxSize(14);
    }

    @Property(tries = 200)
    void backendAlwaysMatchesTheRecordedSuperstate(@ForAll("actions") List<Action> actions) throws IOException {
        Path dir = Files.createTempDirectory(Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm")
                : Path.of(System.getProperty("java.io.tmpdir")), "wrapper-prop");
        try {
            RecordingSm sm = new RecordingSm();
            Path file = dir.resolve("storage.db");
            Wrapper wrapper = new Wrapper(sm.service(), file);
            StorageService s = wrapper.service();
            s.sr().attach("dbg", "sr", Map.of());
            for (Action a : actions) {
                if (a.failRpc() != null) {
                    sm.fail(a.failRpc(), new StorageError.BackendError("SR_BACKEND_FAILURE_46", List.of()), 1);
                }
                try {
                    run(s, a);
                } catch (StorageException expected) {
                    // illegal transitions, injected SM failures, leaked-retry failures: all allowed
                }
                assertEquals(ledger(sm), recorded(s), "after " + a + " in " + actions + "; SM calls " + sm.calls());
                assertEquals(wrapper.table().snapshot().srs(), new Wrapper(new RecordingSm().service(), file).table()
                        .snapshot().srs(), "reload after " + a);
            }
            sm.clearFailures();
            // the last RW holder cannot leave before an RO holder (no downgrade): a few rounds converge
            for (int round = 0; round < 3; round++) {
                for (int dp = 0; dp < 3; dp++) {
                    try {
                        s.dp().destroy2("dbg", "dp" + dp, "sr", "v", "vm", false);
                    } catch (StorageException e) {
                        assertEquals(StorageError.IllegalTransition.class, e.error().getClass(), e.getMessage());
                    }
                }
            }
            assertEquals(Map.of(), sm.ledger, "SM calls " + sm.calls());
            assertEquals(DpState.DETACHED, s.dp().statVdi("dbg", "sr", "v").superstate());
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void run(StorageService s, Action a) {
        String dp = "dp" + a.dp();
        switch (a.kind()) {
            case ATTACH_RO -> s.vdi().attach3("dbg", dp, "sr", "v", "vm", false);
            case ATTACH_RW -> s.vdi().attach3("dbg", dp, "sr", "v", "vm", true);
            case ACTIVATE -> s.vdi().activate3("dbg", dp, "sr", "v", "vm");
            case DEACTIVATE -> s.vdi().deactivate("dbg", dp, "sr", "v", "vm");
            case DETACH -> s.vdi().detach("dbg", dp, "sr", "v", "vm");
            case DESTROY -> s.dp().destroy2("dbg", dp, "sr", "v", "vm", false);
            case VDI_DESTROY -> s.vdi().destroy("dbg", "sr", "v");
        }
    }

    private static String ledger(RecordingSm sm) {
        return sm.ledger.getOrDefault("v", "detached");
    }

    private static String recorded(StorageService s) {
        return VdiAutomaton.text(s.dp().statVdi("dbg", "sr", "v").superstate()).replace("  ", " ");
    }
}
