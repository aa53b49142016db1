package org.xenstorage.messageswitch.client;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Calls named queues over a message-switch: login, a private transient reply queue, send the
 * request with {@code reply_to}, long-poll the reply queue, match the reply by message id, ack.
 * Thread-safe; one instance serves any number of concurrent callers. Reconnects with backoff when
 * the switch goes away; calls in flight at that moment fail with {@link SwitchException.Kind#DISCONNECTED}.
 *
 * <p>CONTRACT ONLY in this revision: implemented by issue 3.
 */
public final class SwitchRpcClient implements AutoCloseable {

    private SwitchRpcClient() {
    }

    /** Connects and logs in (the login token names this process, as upstream does). */
    public static SwitchRpcClient connect(SwitchAddress address, String clientName) {
        throw new UnsupportedOperationException("message-switch client: issue 3");
    }

    /**
     * Sends {@code body} to {@code queue} and completes with the reply payload, or exceptionally
     * with a {@link SwitchException} (no such queue, timeout, disconnected, closed).
     */
    public CompletableFuture<String> callAsync(String queue, String body, Duration timeout) {
        throw new UnsupportedOperationException("message-switch client: issue 3");
    }

    /** {@link #callAsync} and wait. @throws SwitchException as callAsync would complete with */
    public String call(String queue, String body, Duration timeout) {
        throw new UnsupportedOperationException("message-switch client: issue 3");
    }

    /** The queue names starting with {@code prefix}; with {@code aliveOnly}, only those someone polls. */
    public CompletableFuture<List<String>> list(String prefix, boolean aliveOnly) {
        throw new UnsupportedOperationException("message-switch client: issue 3");
    }

    @Override
    public void close() {
    }
}
