package org.xenstorage.smctl;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.xenstorage.messageswitch.client.SwitchAddress;

/** What smctl needs of a message-switch: call a queue, list queues. */
interface SwitchLink extends AutoCloseable {

    /** Sends a request to a queue; completes with the reply text or a {@code SwitchException}. */
    CompletableFuture<String> call(String queue, String body, Duration timeout);

    /** Queue names starting with {@code prefix}; with {@code aliveOnly}, only those someone serves. */
    List<String> queues(String prefix, boolean aliveOnly, Duration timeout);

    @Override
    void close();

    /** Opens links; the real one connects to a message-switch, tests may serve calls in-process. */
    @FunctionalInterface
    interface Connector {
        /** @throws org.xenstorage.messageswitch.client.SwitchException when the switch cannot be reached */
        SwitchLink connect(SwitchAddress address, Duration timeout);
    }
}
