package org.xenstorage.smapiv1;

import java.time.Duration;
import java.util.Set;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.messageswitch.client.SwitchAddress;

/**
 * The SMAPIv1 backend: discovers SM drivers and serves {@code <prefix>.<type>} for each.
 *
 * <p>CONTRACT ONLY in this revision: implemented by issue 5.
 */
public final class Smapiv1Backend implements AutoCloseable {

    private Smapiv1Backend() {
    }

    /** Discovers drivers, recovers persisted state, and serves one queue per type on the switch. */
    public static Smapiv1Backend start(Smapiv1Config config, SwitchAddress switchAddress) {
        throw new UnsupportedOperationException("SMAPIv1 backend: issue 5");
    }

    /** The SR types discovered (lower-case driver prefixes). */
    public Set<String> types() {
        throw new UnsupportedOperationException("SMAPIv1 backend: issue 5");
    }

    /** The in-process service behind one type's queue (what the queue server dispatches to). */
    public StorageService serviceFor(String type) {
        throw new UnsupportedOperationException("SMAPIv1 backend: issue 5");
    }

    /** Rescans the driver directory, serving new types and dropping removed ones. */
    public void rescan() {
        throw new UnsupportedOperationException("SMAPIv1 backend: issue 5");
    }

    /** Stops taking calls, lets in-flight ones finish for up to {@code grace}, then closes. */
    public void shutdown(Duration grace) {
        throw new UnsupportedOperationException("SMAPIv1 backend: issue 5");
    }

    @Override
    public void close() {
    }
}
