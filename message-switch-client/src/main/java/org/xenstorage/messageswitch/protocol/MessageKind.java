package org.xenstorage.messageswitch.protocol;

import java.util.Objects;

/**
 * Whether a message is a request (carrying the queue to reply to) or a response (naming the
 * request it answers). rpclib variant: {@code ["Request", "reply"]} / {@code ["Response", ["q", 7]]}.
 */
public sealed interface MessageKind {

    /** A request; the reply goes to {@code replyTo}. */
    record Request(String replyTo) implements MessageKind {
        public Request {
            Objects.requireNonNull(replyTo, "replyTo");
        }
    }

    /** A response to the request {@code requestId}. */
    record Response(MessageId requestId) implements MessageKind {
        public Response {
            Objects.requireNonNull(requestId, "requestId");
        }
    }
}
