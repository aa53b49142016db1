package org.xenstorage.messageswitch.protocol;

import java.util.Objects;

/** A queued message: an opaque payload (JSON-RPC text for xapi services) and its kind. */
public record Message(String payload, MessageKind kind) {
    public Message {
        Objects.requireNonNull(payload, "payload");
        Objects.requireNonNull(kind, "kind");
    }
}
