package org.xenstorage.daemon.updates;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.idl.types.DynamicId;
import org.xenstorage.idl.types.UpdatesResult;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.testing.Soon;

/** The update log's rules (spec wrapper-mux 4.4/4.5), as upstream's updates tests state them. */
class UpdateLogTest {
    final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    final UpdateLog log = new UpdateLog(1, scheduler);
    static final DynamicId T0 = new DynamicId.Task("0");
    static final DynamicId T1 = new DynamicId.Task("1");

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
    }

    @Test
    void aKeyChangedManyTimesComesBackOnceInOrderOfItsLatestChange() {
        log.add(T0);
        log.add(T1);
        log.add(T0);
        log.add(T0);
        UpdateLog.Changes c = log.get(0);
        assertEquals(List.of(T1, T0), c.updates());
        assertEquals(4, c.last());
        assertTrue(log.get(c.last()).isEmpty());
        assertEquals(c.last(), log.get(c.last()).last(), "an empty answer keeps the token");
    }

    @Test
    void removeDropsTheKeyWithoutAnEventAndFilterKeepsMatches() {
        log.add(T0);
        log.add(T1);
        log.remove(T0);
        assertEquals(List.of(T1), log.get(0).updates());
        log.add(new DynamicId.Mirror("m"));
        log.filter(k -> k instanceof DynamicId.Mirror);
        assertEquals(List.of(new DynamicId.Mirror("m")), log.get(0).updates());
        assertEquals(5, log.lastId());
    }

    @Test
    void barriersSnapshotTheMatchingKeysAndAreReturnedOldestFirst() {
        log.add(T0);
        log.add(new DynamicId.Vdi("v"));
        log.injectBarrier(1, k -> k instanceof DynamicId.Task);
        log.injectBarrier(2, k -> true);
        UpdateLog.Changes c = log.get(0);
        assertEquals(2, c.barriers().size());
        assertEquals(1, c.barriers().get(0).id());
        assertEquals(java.util.Set.of(T0), c.barriers().get(0).snapshot().keySet());
        assertEquals(2, c.barriers().get(1).snapshot().size());
        assertEquals(List.of(2), log.get(c.barriers().get(0).eventId()).barriers().stream().map(b -> b.id()).toList());
        log.removeBarrier(1);
        assertEquals(List.of(2), log.get(0).barriers().stream().map(b -> b.id()).toList());
    }

    @Test
    void aWaitingPollerWakesOnTheNextChangeAndHoldsNoThread() throws Exception {
        // the poll's own timeout outlasts any delay before the change: only the change can end it
        CompletableFuture<UpdateLog.Changes> f = log.await(log.lastId(), Optional.of(Soon.times(2)));
        assertFalse(f.isDone());
        log.add(T0);
        assertEquals(List.of(T0), Soon.get(f).updates());
        assertEquals(0, log.waiting());
    }

    @Test
    void aPollerTimesOutWithNothingAndTheSameToken() throws Exception {
        UpdateLog.Changes c = Soon.get(log.await(0, Optional.of(Duration.ofMillis(100))));
        assertTrue(c.isEmpty());
        assertEquals(0, c.last());
        assertTrue(log.await(0, Optional.of(Duration.ZERO)).isDone(), "timeout 0 answers at once");
    }

    @Test
    void thousandsOfIdlePollersAreFuturesNotThreads() throws Exception {
        int threadsBefore = Thread.activeCount();
        List<CompletableFuture<UpdateLog.Changes>> polls = new ArrayList<>();
        for (int i = 0; i < 5000; i++) {
            polls.add(log.await(0, i % 2 == 0 ? Optional.empty() : Optional.of(Duration.ofMinutes(5))));
        }
        assertEquals(5000, log.waiting());
        assertTrue(Thread.activeCount() <= threadsBefore + 2, "no thread per poller");
        log.add(T1);
        for (CompletableFuture<UpdateLog.Changes> p : polls) {
            assertEquals(List.of(T1), Soon.get(p).updates());
        }
        assertEquals(0, log.waiting());
    }

    @Test
    void aCancelledPollerLeavesTheWaitList() {
        CompletableFuture<UpdateLog.Changes> f = log.await(0, Optional.empty());
        assertEquals(1, log.waiting());
        f.cancel(false);
        assertEquals(0, log.waiting());
    }

    @Test
    void updatesGetOnTheWireIsAPairWithADecimalToken() throws Exception {
        log.add(T0);
        StorageDispatcher d = new StorageDispatcher(StorageService.of(new UpdatesService(log)));
        JsonNode r = Json.parse(Soon.get(d.dispatch("{\"method\":\"UPDATES.get\",\"params\":[{\"dbg\":\"x\","
                + "\"from\":\"\",\"timeout\":1}],\"id\":1}")));
        assertEquals(Json.parse("[[[\"Task\",\"0\"]],\"1\"]"), r.get("result"));
        JsonNode empty = Json.parse(Soon.get(d.dispatch("{\"method\":\"UPDATES.get\",\"params\":[{\"dbg\":\"x\","
                + "\"from\":\"1\",\"timeout\":0}],\"id\":2}")));
        assertEquals(Json.parse("[[],\"1\"]"), empty.get("result"));
    }

    @Test
    void tokensThatAreNotDecimalMeanFromTheStart() throws Exception {
        log.add(T0);
        UpdatesResult r = Soon.get(new UpdatesService(log).get("x", "garbage", Optional.of(0)));
        assertEquals(List.of(T0), r.ids());
        assertEquals(0, UpdatesService.parseToken(""));
        assertEquals(42, UpdatesService.parseToken("42"));
    }
}
