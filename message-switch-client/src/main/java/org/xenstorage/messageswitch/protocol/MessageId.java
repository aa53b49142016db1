package org.xenstorage.messageswitch.protocol;

import java.util.Objects;

/**
 * A message's identity on the switch: the queue it was sent to and its int64 number.
 * On the wire (rpclib tuple) it is {@code ["queue", 42]}.
 */
public record MessageId(String queue, long id) {
    public MessageId {
        Objects.requireNonNull(queue, "queue");
    }
}
