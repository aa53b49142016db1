package org.xenstorage.idl.wire;

/**
 * A JSON value does not have the shape the IDL type requires. The message follows rpclib's
 * wording where one exists, so logs read the same as upstream's.
 */
public final class WireException extends RuntimeException {
    public WireException(String message) {
        super(message, null, false, false);
    }
}
