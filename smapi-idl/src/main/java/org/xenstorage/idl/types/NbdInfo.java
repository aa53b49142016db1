package org.xenstorage.idl.types;

import java.util.Objects;

/** {@code nbd}: an NBD export, {@code nbd:unix:<socket>:exportname=<name>}. */
public record NbdInfo(String uri) {
    public NbdInfo {
        Objects.requireNonNull(uri, "uri");
    }

    /** The parsed URI, or an error with upstream's wording. */
    public Export export() {
        String[] parts = uri.split(":", -1);
        if (parts.length != 4 || !parts[0].equals("nbd") || !parts[1].equals("unix")
                || !parts[3].startsWith("exportname=")) {
            throw new IllegalArgumentException("Could not parse NBD URI returned from the storage backend: " + uri);
        }
        return new Export(parts[2], parts[3].substring("exportname=".length()));
    }

    /** A parsed NBD URI. */
    public record Export(String socket, String exportName) {
    }
}
