package org.xenstorage.messageswitch.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.xenstorage.messageswitch.protocol.Message;
import org.xenstorage.messageswitch.protocol.MessageId;
import org.xenstorage.messageswitch.protocol.MessageKind;
import org.xenstorage.messageswitch.protocol.Origin;
import org.xenstorage.messageswitch.protocol.SwitchResponse;

/** The broker's queue semantics, without sockets. */
class QueueTableTest {
    private final AtomicInteger persistentChanges = new AtomicInteger();
    private final QueueTable table = new QueueTable(0, persistentChanges::incrementAndGet);
    private static final Origin ME = new Origin.Name("me");

    private static Message req(String payload) {
        return new Message(payload, new MessageKind.Request("reply"));
    }

    @Test
    void sendingToAMissingQueueGivesNoIdAndStoresNothing() {
        QueueTable.Sent s = table.send("nope", ME, req("x"), 1);
        assertEquals(Optional.empty(), s.id());
        assertFalse(table.exists("nope"));
    }

    @Test
    void idsIncreaseAcrossTheWholeSwitchAndTransferReturnsOnlyNewerUnackedOnes() {
        table.create("a", null);
        table.create("b", null);
        MessageId a0 = table.send("a", ME, req("a0"), 1).id().orElseThrow();
        MessageId b1 = table.send("b", ME, req("b1"), 2).id().orElseThrow();
        MessageId a2 = table.send("a", ME, req("a2"), 3).id().orElseThrow();
        assertTrue(a0.id() < b1.id() && b1.id() < a2.id());
        List<SwitchResponse.Delivery> all = table.transfer(-1, List.of("a", "b"), 0, this);
        assertEquals(List.of(a0, b1, a2), all.stream().map(SwitchResponse.Delivery::id).toList());
        assertEquals(List.of(a2), table.transfer(b1.id(), List.of("a", "b"), 0, this).stream()
                .map(SwitchResponse.Delivery::id).toList());
        table.ack(a0);
        assertEquals(List.of(b1, a2), table.transfer(-1, List.of("a", "b"), 0, this).stream()
                .map(SwitchResponse.Delivery::id).toList());
    }

    @Test
    void creatingAnExistingQueueKeepsItsMessagesAndOwner() {
        table.create("q", "s1");
        table.send("q", ME, req("kept"), 1);
        table.create("q", null);
        assertEquals(1, table.transfer(-1, List.of("q"), 0, this).size());
        table.sessionGone("s1");
        assertFalse(table.exists("q"), "still owned by s1, so it goes with s1");
    }

    @Test
    void aSessionEndingRemovesOnlyItsTransientQueues() {
        table.create("mine", "s1");
        table.create("theirs", "s2");
        table.create("shared", null);
        table.sessionGone("s1");
        assertEquals(List.of("shared", "theirs"), table.list("", false));
    }

    @Test
    void aliveMeansPolledByAConnectionThatIsStillThere() {
        table.create("q", null);
        Object conn = new Object();
        assertEquals(List.of(), table.list("", true));
        table.transfer(-1, List.of("q"), 0, conn);
        assertEquals(List.of("q"), table.list("", true));
        table.pollerGone(conn, List.of("q"));
        assertEquals(List.of(), table.list("", true));
    }

    @Test
    void aSendWakesTheLongPollWaitingOnThatQueueOnce() {
        table.create("q", null);
        AtomicInteger woken = new AtomicInteger();
        assertTrue(table.await(-1, List.of("q"), woken::incrementAndGet));
        table.send("q", ME, req("x"), 1).woken().forEach(QueueTable.Waiter::wake);
        table.send("q", ME, req("y"), 2).woken().forEach(QueueTable.Waiter::wake);
        assertEquals(1, woken.get());
        assertFalse(table.await(-1, List.of("q"), woken::incrementAndGet), "messages are there: no need to wait");
    }

    @Test
    void onlyPersistentQueueChangesAskForASave() {
        table.create("t", "s");
        table.send("t", ME, req("x"), 1);
        assertEquals(0, persistentChanges.get());
        table.create("p", null);
        MessageId id = table.send("p", ME, req("x"), 1).id().orElseThrow();
        table.ack(id);
        table.destroy("p");
        assertEquals(4, persistentChanges.get());
        QueueTable.Persistent state = table.persistentState();
        assertTrue(state.queues().isEmpty());
        assertTrue(state.nextId() > id.id());
    }
}
