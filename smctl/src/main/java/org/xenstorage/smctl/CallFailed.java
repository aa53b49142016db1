package org.xenstorage.smctl;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A call answered with a SMAPIv2 error; the message is the error line built from the error exactly as it
 * came on the wire, so an error tag this build does not know is still shown by name.
 */
final class CallFailed extends RuntimeException {
    CallFailed(JsonNode wireError) {
        super(ErrorText.of(wireError), null, false, false);
    }
}
