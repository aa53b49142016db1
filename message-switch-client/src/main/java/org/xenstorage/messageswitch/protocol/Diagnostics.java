package org.xenstorage.messageswitch.protocol;

import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * The switch's diagnostic dump ({@code GET /}): every queue with its unacked messages.
 *
 * <p>Every time in it (start, current, message entry, next transfer expected) is in nanoseconds on one
 * clock, whose origin depends on the switch: this project's switch counts from the Unix epoch;
 * upstream's counts from its own start ({@code start_time} is always 0, {@code current_time} is its
 * uptime), so only differences between these times mean anything for both. See {@link #clock()}.
 */
public record Diagnostics(long startTime, long currentTime, Map<String, QueueState> permanentQueues,
                          Map<String, QueueState> transientQueues) {

    /** What the times of a dump count from. */
    public enum Clock {
        /** Nanoseconds since the Unix epoch (this project's switch). */
        EPOCH,
        /** Nanoseconds since the switch started ({@code start_time} 0: upstream's message-switch). */
        SINCE_SWITCH_START
    }

    /** Upstream's switch always reports {@code start_time} 0; ours the epoch time it started. */
    public Clock clock() {
        return startTime == 0 ? Clock.SINCE_SWITCH_START : Clock.EPOCH;
    }

    /** One queue's state: when a poller is next expected (ns), and its queued messages. */
    public record QueueState(OptionalLong nextTransferExpected, List<Queued> contents) {
    }

    /** One queued message with its id. */
    public record Queued(MessageId id, Entry entry) {
    }
}
