package org.xenstorage.smctl;

import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchException;
import org.xenstorage.messageswitch.client.SwitchRpcClient;

/** A {@link SwitchLink} over the real message-switch client. */
final class MessageSwitchLink implements SwitchLink {
    private final SwitchRpcClient client;

    private MessageSwitchLink(SwitchRpcClient client) {
        this.client = client;
    }

    /** Connects, failing fast (no reconnect loop) when the switch is not there. */
    static SwitchLink connect(SwitchAddress address, Duration timeout) {
        if (address instanceof SwitchAddress.Unix unix && !Files.exists(unix.path())) {
            // the client would retry a missing socket with backoff; an operator wants to hear it at once
            throw new SwitchException(SwitchException.Kind.DISCONNECTED, null,
                    "no message-switch socket at " + unix.path());
        }
        String name = "smctl-" + ProcessHandle.current().pid();
        CompletableFuture<SwitchRpcClient> connecting = CompletableFuture.supplyAsync(
                () -> SwitchRpcClient.connect(address, name));
        try {
            return new MessageSwitchLink(connecting.get(timeout.toMillis(), TimeUnit.MILLISECONDS));
        } catch (TimeoutException e) {
            connecting.thenAccept(SwitchRpcClient::close);
            throw new SwitchException(SwitchException.Kind.TIMEOUT, null,
                    "no answer from the message-switch at " + address + " within " + timeout.toSeconds() + " s");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof SwitchException se) {
                throw se;
            }
            throw new SwitchException(SwitchException.Kind.DISCONNECTED, null,
                    "cannot connect to the message-switch at " + address + ": " + cause, cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SwitchException(SwitchException.Kind.CLOSED, null, "interrupted while connecting");
        }
    }

    @Override
    public CompletableFuture<String> call(String queue, String body, Duration timeout) {
        return client.callAsync(queue, body, timeout);
    }

    @Override
    public List<String> queues(String prefix, boolean aliveOnly, Duration timeout) {
        try {
            return client.list(prefix, aliveOnly).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new SwitchException(SwitchException.Kind.TIMEOUT, null, "the switch did not list its queues in time");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof SwitchException se) {
                throw se;
            }
            throw new SwitchException(SwitchException.Kind.PROTOCOL, null, "listing queues failed: " + e.getCause(),
                    e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SwitchException(SwitchException.Kind.CLOSED, null, "interrupted while listing queues");
        }
    }

    @Override
    public void close() {
        client.close();
    }
}
