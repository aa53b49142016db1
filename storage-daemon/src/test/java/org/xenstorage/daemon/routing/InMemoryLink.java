package org.xenstorage.daemon.routing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.xenstorage.idl.rpc.StorageDispatcher;
import org.xenstorage.messageswitch.client.SwitchException;

/**
 * A {@link SwitchLink} that delivers request texts to dispatchers in this JVM: enough to test the mux's
 * routing rules as pure logic. (The end-to-end tests use the real switch.) A queue mapped to {@code null}
 * exists but nobody answers: calls to it wait until their timeout.
 */
final class InMemoryLink implements SwitchLink {
    final Map<String, StorageDispatcher> queues = new ConcurrentHashMap<>();
    final Map<String, Boolean> silent = new ConcurrentHashMap<>();
    /** When set, a queue listing answers only once this completes (a switch slow to list its queues). */
    volatile CompletableFuture<Void> listingGate;

    @Override
    public CompletableFuture<String> call(String queue, String body, Duration timeout) {
        if (silent.containsKey(queue)) {
            return new CompletableFuture<String>().orTimeout(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
                    .exceptionally(t -> {
                        throw new SwitchException(SwitchException.Kind.TIMEOUT, queue, "no reply");
                    });
        }
        StorageDispatcher d = queues.get(queue);
        if (d == null) {
            return CompletableFuture.failedFuture(new SwitchException(SwitchException.Kind.NO_SUCH_QUEUE, queue,
                    "no queue " + queue));
        }
        return d.dispatch(body);
    }

    @Override
    public CompletableFuture<List<String>> liveQueues(String prefix) {
        List<String> out = new ArrayList<>();
        queues.keySet().forEach(q -> {
            if (q.startsWith(prefix)) {
                out.add(q);
            }
        });
        silent.keySet().forEach(q -> {
            if (q.startsWith(prefix)) {
                out.add(q);
            }
        });
        CompletableFuture<Void> gate = listingGate;
        return gate == null ? CompletableFuture.completedFuture(out) : gate.thenApply(v -> out);
    }
}
