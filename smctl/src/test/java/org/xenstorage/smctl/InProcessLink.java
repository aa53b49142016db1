package org.xenstorage.smctl;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.xenstorage.messageswitch.client.SwitchException;

/**
 * A {@link SwitchLink} that hands each request straight to an in-process queue handler: smctl's parsing,
 * encoding, decoding and printing without a switch. Unknown queues fail as the switch would.
 */
final class InProcessLink implements SwitchLink {
    private final Map<String, TinyStorage> queues;

    InProcessLink(Map<String, TinyStorage> queues) {
        this.queues = queues;
    }

    @Override
    public CompletableFuture<String> call(String queue, String body, Duration timeout) {
        TinyStorage s = queues.get(queue);
        if (s == null) {
            return CompletableFuture.failedFuture(
                    new SwitchException(SwitchException.Kind.NO_SUCH_QUEUE, queue, "no queue " + queue));
        }
        return s.handle(body);
    }

    @Override
    public List<String> queues(String prefix, boolean aliveOnly, Duration timeout) {
        return queues.keySet().stream().filter(q -> q.startsWith(prefix)).sorted().toList();
    }

    @Override
    public void close() {
    }
}
