package org.xenstorage.messageswitch.protocol;

/** Text that does not follow the message-switch wire protocol. */
public final class ProtocolException extends RuntimeException {
    public ProtocolException(String message) {
        super(message);
    }
}
