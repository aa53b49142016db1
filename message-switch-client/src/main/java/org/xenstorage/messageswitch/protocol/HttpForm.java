package org.xenstorage.messageswitch.protocol;

import java.util.Objects;

/**
 * A switch request as HTTP: method, percent-encoded path and body (empty for GET).
 */
public record HttpForm(String method, String path, String body) {
    public HttpForm {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(body, "body");
    }
}
