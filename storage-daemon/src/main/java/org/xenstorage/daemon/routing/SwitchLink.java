package org.xenstorage.daemon.routing;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The mux's view of the message switch: send a request to a queue, list the live queues. Production uses
 * {@link SwitchRpcLink}; a unit test of the routing rules may use an in-memory one.
 */
public interface SwitchLink {
    /**
     * Sends {@code body} to {@code queue}; completes with the reply text or exceptionally with a
     * {@link org.xenstorage.messageswitch.client.SwitchException}.
     */
    CompletableFuture<String> call(String queue, String body, Duration timeout);

    /** Names of the queues starting with {@code prefix} that someone is serving right now. */
    CompletableFuture<List<String>> liveQueues(String prefix);
}
