package org.xenstorage.messageswitch.client;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Serves one queue: long-polls it, hands each request payload to the handler with at most
 * {@code maxConcurrent} in flight, sends the handler's reply to the request's {@code reply_to},
 * and acks the request only after the reply was sent. Never blocks an event loop: the handler
 * returns a future and may complete it from any thread. Re-creates the queue and resumes
 * serving after a reconnect.
 *
 * <p>CONTRACT ONLY in this revision: implemented by issue 3.
 */
public final class SwitchQueueServer implements AutoCloseable {

    private SwitchQueueServer() {
    }

    /**
     * Creates (persistent) {@code queue} on the switch at {@code address} and starts serving it.
     * A handler that completes exceptionally or throws gets no reply sent; the caller's timeout
     * covers it, so handlers should turn their own failures into reply payloads.
     */
    public static SwitchQueueServer start(SwitchAddress address, String queue, int maxConcurrent,
                                          Function<String, CompletableFuture<String>> handler) {
        throw new UnsupportedOperationException("message-switch queue server: issue 3");
    }

    public String queue() {
        throw new UnsupportedOperationException("message-switch queue server: issue 3");
    }

    /** Stops taking new requests, waits up to {@code grace} for in-flight ones to reply, then closes. */
    public void shutdown(Duration grace) {
        throw new UnsupportedOperationException("message-switch queue server: issue 3");
    }

    @Override
    public void close() {
    }
}
