package org.xenstorage.messageswitch.protocol;

import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * The switch's diagnostic dump ({@code GET /}): every queue with its unacked messages.
 * Times are ns since the epoch.
 */
public record Diagnostics(long startTime, long currentTime, Map<String, QueueState> permanentQueues,
                          Map<String, QueueState> transientQueues) {

    /** One queue's state: when a poller is next expected (ns), and its queued messages. */
    public record QueueState(OptionalLong nextTransferExpected, List<Queued> contents) {
    }

    /** One queued message with its id. */
    public record Queued(MessageId id, Entry entry) {
    }
}
