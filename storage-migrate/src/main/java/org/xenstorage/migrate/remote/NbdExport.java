package org.xenstorage.migrate.remote;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.NbdInfo;

/**
 * An NBD export on a Unix socket, as an {@code Nbd} implementation names it: upstream's
 * {@code nbd:unix:<socket>:exportname=<name>} or libnbd's {@code nbd+unix:///<name>?socket=<socket>}.
 *
 * @param socket     the server's Unix socket
 * @param exportName the export's name ({@code ""} for the default export)
 */
public record NbdExport(String socket, String exportName) {
    /**
     * Parses either form.
     *
     * @throws IllegalArgumentException with upstream's wording when it is neither
     */
    public static NbdExport parse(String uri) {
        if (uri.startsWith("nbd+unix://")) {
            String rest = uri.substring("nbd+unix://".length());
            int q = rest.indexOf('?');
            String path = q < 0 ? rest : rest.substring(0, q);
            if (!path.isEmpty() && !path.startsWith("/")) {
                throw new IllegalArgumentException("Could not parse NBD URI returned from the storage backend: " + uri);
            }
            String name = path.isEmpty() ? "" : decode(path.substring(1));
            if (q >= 0) {
                for (String param : rest.substring(q + 1).split("&")) {
                    if (param.startsWith("socket=") && param.length() > "socket=".length()) {
                        return new NbdExport(decode(param.substring("socket=".length())), name);
                    }
                }
            }
            throw new IllegalArgumentException("Could not parse NBD URI returned from the storage backend (no socket): "
                    + uri);
        }
        NbdInfo.Export e = new NbdInfo(uri).export();
        return new NbdExport(e.socket(), e.exportName());
    }

    /**
     * The export a backend serves itself: its first {@code Nbd} implementation whose URI names a socket. A SMAPIv1
     * attach always lists an {@code Nbd} (upstream's tapdisk export), empty when the driver gave none; such an
     * entry does not count. Empty: the remote endpoint exports the {@code File}/{@code BlockDevice} with qemu-nbd,
     * under the default name. Both ends of the NBD upgrade choose with this method.
     */
    public static Optional<NbdExport> of(Backend backend) {
        for (Implementation i : backend.implementations()) {
            if (i instanceof Implementation.Nbd n) {
                try {
                    NbdExport e = parse(n.value().uri());
                    if (!e.socket().isEmpty()) {
                        return Optional.of(e);
                    }
                } catch (IllegalArgumentException e) {
                    // not an export we can reach: look further
                }
            }
        }
        return Optional.empty();
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }
}
