package org.xenstorage.daemon.smctl;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A call answered with a SMAPIv2 error. Keeps the error exactly as it came on the wire, so an error tag
 * this build does not know is still shown by name.
 */
final class CallFailed extends RuntimeException {
    private final transient JsonNode wireError;

    CallFailed(String context, JsonNode wireError) {
        super(context == null ? ErrorText.of(wireError) : context + ": " + ErrorText.of(wireError), null, false, false);
        this.wireError = wireError;
    }

    JsonNode wireError() {
        return wireError;
    }
}
