package org.xenstorage.daemon.routing;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.xenstorage.messageswitch.client.SwitchRpcClient;

/** {@link SwitchLink} over a real {@link SwitchRpcClient}: every mux → backend hop is a switch call. */
public final class SwitchRpcLink implements SwitchLink {
    private final SwitchRpcClient client;

    public SwitchRpcLink(SwitchRpcClient client) {
        this.client = client;
    }

    @Override
    public CompletableFuture<String> call(String queue, String body, Duration timeout) {
        try {
            return client.callAsync(queue, body, timeout);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<List<String>> liveQueues(String prefix) {
        try {
            return client.list(prefix, true);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }
}
