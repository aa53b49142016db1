package org.xenstorage.messageswitch.protocol;

import java.util.Optional;
import java.util.OptionalLong;

/**
 * One switch event as {@code /trace} reports it: a message entering/leaving a queue, or an ack.
 *
 * @param time           seconds since the epoch
 * @param input          the session that sent or acked, if any
 * @param output         the session that received the message through transfer, if any
 * @param processingTime for a delivered response: ns between the request's enqueue and now
 */
public record TraceEvent(double time, Optional<String> input, String queue, Optional<String> output,
                         Happening message, OptionalLong processingTime) {

    /** What happened (rpclib variant {@code Message of message_id * Message.t | Ack of message_id}). */
    public sealed interface Happening {
    }

    /** A message was sent or delivered. */
    public record Sent(MessageId id, Message message) implements Happening {
    }

    /** A message was acknowledged. */
    public record Acked(MessageId id) implements Happening {
    }
}
