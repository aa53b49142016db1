package org.xenstorage.daemon.routing;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.xenstorage.messageswitch.client.InProcessQueues;

/**
 * The mux's link when some backends run in this JVM: a call to a queue this JVM serves goes straight to its
 * handler (the same request text in, the same reply text out, the same window and timeout), any other call goes
 * over the switch. Liveness still comes from the switch, where the in-JVM queues stay served for every other
 * caller (xapi, smctl, other daemons), so a backend that stops serving is seen the same way on both paths.
 */
public final class InProcessFirstLink implements SwitchLink {
    private final InProcessQueues local;
    private final SwitchLink overSwitch;

    public InProcessFirstLink(InProcessQueues local, SwitchLink overSwitch) {
        this.local = local;
        this.overSwitch = overSwitch;
    }

    @Override
    public CompletableFuture<String> call(String queue, String body, Duration timeout) {
        return local.call(queue, body, timeout).orElseGet(() -> overSwitch.call(queue, body, timeout));
    }

    @Override
    public CompletableFuture<List<String>> liveQueues(String prefix) {
        return overSwitch.liveQueues(prefix);
    }
}
