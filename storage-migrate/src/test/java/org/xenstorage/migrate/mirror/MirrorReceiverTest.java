package org.xenstorage.migrate.mirror;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.types.MirrorReceiveResult;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.testsr.FileSrDouble;

/**
 * A receive whose sender goes away (its NBD connection ends without receive_finalize3 or receive_cancel2) is
 * reported failed once the grace has passed, against {@link FileSrDouble}, a TEST DOUBLE of a backend, and a clock
 * the test moves.
 */
class MirrorReceiverTest {
    private static final Duration GRACE = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private final AtomicLong now = new AtomicLong();
    private FileSrDouble backend;
    private MirrorReceiver receiver;
    private String id;
    private MirrorReceiveResult.Smapiv3 received;

    @BeforeEach
    void setUp() throws Exception {
        backend = new FileSrDouble(dir.resolve("srs"));
        backend.addSr("a");
        backend.addSr("b");
        backend.offerOnlyNbd();
        VdiInfo src = backend.service().vdi().create("t", "a", VdiInfo.defaults("", "disk").withSizes(1 << 20, 0));
        receiver = new MirrorReceiver(backend.service(), MirrorRecords.inMemory(), GRACE, now::get);
        id = "a/" + src.vdi();
        received = assertInstanceOf(MirrorReceiveResult.Smapiv3Mirror.class,
                receiver.receiveStart3("t", "b", src, id, "vm1")).value();
    }

    private void later(Duration d) {
        now.addAndGet(d.toNanos());
    }

    @Test
    void aSenderThatNeverConnectedOrIsConnectedIsNotLost() {
        assertFalse(receiver.senderLost(id), "before the sender connects");
        receiver.senderConnected("b", received.mirrorDatapath());
        later(GRACE.multipliedBy(10));
        assertFalse(receiver.senderLost(id), "connected, however long");
    }

    @Test
    void aSenderGoneLongerThanTheGraceIsLostAndANewConnectionClearsIt() {
        receiver.senderConnected("b", received.mirrorDatapath());
        receiver.senderDisconnected("b", received.mirrorDatapath());
        later(GRACE.minusMillis(1));
        assertFalse(receiver.senderLost(id), "within the grace (a clean switch-over's finalize is on its way)");
        later(Duration.ofMillis(1));
        assertTrue(receiver.senderLost(id), "gone past the grace");
        receiver.senderConnected("b", received.mirrorDatapath());
        assertFalse(receiver.senderLost(id), "the sender came back");
    }

    @Test
    void oneOfTwoConnectionsEndingIsNotLoss() {
        receiver.senderConnected("b", received.mirrorDatapath());
        receiver.senderConnected("b", received.mirrorDatapath());
        receiver.senderDisconnected("b", received.mirrorDatapath());
        later(GRACE.multipliedBy(2));
        assertFalse(receiver.senderLost(id));
    }

    @Test
    void finalizeOrCancelEndsTheWatchAndOtherDatapathsDoNotCount() {
        receiver.senderDisconnected("b", "another-datapath");
        receiver.senderDisconnected("a", received.mirrorDatapath());
        later(GRACE.multipliedBy(2));
        assertFalse(receiver.senderLost(id), "connections of other datapaths or SRs are not this receive's");
        receiver.senderConnected("b", received.mirrorDatapath());
        receiver.senderDisconnected("b", received.mirrorDatapath());
        receiver.receiveFinalize("t", id);
        later(GRACE.multipliedBy(2));
        assertFalse(receiver.senderLost(id), "a finalized receive is not failed");
    }
}
