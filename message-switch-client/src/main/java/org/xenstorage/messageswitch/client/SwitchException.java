package org.xenstorage.messageswitch.client;

/**
 * A message-switch call that did not produce a reply, with the reason a caller can act on.
 * Every call through {@link SwitchRpcClient} either completes with the reply or fails with one
 * of these: none hangs and none is dropped silently.
 */
public final class SwitchException extends RuntimeException {

    /** Why the call has no reply. */
    public enum Kind {
        /** The destination queue does not exist on the switch: nobody serves it. */
        NO_SUCH_QUEUE,
        /** No reply arrived within the call's timeout. */
        TIMEOUT,
        /** The connection to the switch dropped (or could not be made) before the reply arrived. */
        DISCONNECTED,
        /** The switch answered something the protocol does not allow. */
        PROTOCOL,
        /** The client was closed while the call was in flight. */
        CLOSED
    }

    private final Kind kind;
    private final String queue;

    public SwitchException(Kind kind, String queue, String message) {
        super(message);
        this.kind = kind;
        this.queue = queue;
    }

    public SwitchException(Kind kind, String queue, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.queue = queue;
    }

    public Kind kind() {
        return kind;
    }

    /** The destination queue of the failed call, or null when the failure is not about one queue. */
    public String queue() {
        return queue;
    }
}
