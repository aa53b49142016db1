package org.xenstorage.smapiv3;

import java.time.Duration;
import java.util.Set;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.messageswitch.client.SwitchAddress;

/**
 * The SMAPIv3 bridge (xapi-storage-script's job): watches the plugin root and serves
 * {@code <prefix>.<plugin>} for every volume plugin.
 *
 * <p>CONTRACT ONLY in this revision: implemented by issue 6.
 */
public final class Smapiv3Bridge implements AutoCloseable {

    private Smapiv3Bridge() {
    }

    /** Discovers plugins, reloads the attached-SR table, starts watching and serving. */
    public static Smapiv3Bridge start(Smapiv3Config config, SwitchAddress switchAddress) {
        throw new UnsupportedOperationException("SMAPIv3 bridge: issue 6");
    }

    /** The volume plugins currently served. */
    public Set<String> plugins() {
        throw new UnsupportedOperationException("SMAPIv3 bridge: issue 6");
    }

    /** The in-process service behind one plugin's queue. */
    public StorageService serviceFor(String plugin) {
        throw new UnsupportedOperationException("SMAPIv3 bridge: issue 6");
    }

    /** Stops taking calls, lets in-flight ones finish for up to {@code grace}, then closes. */
    public void shutdown(Duration grace) {
        throw new UnsupportedOperationException("SMAPIv3 bridge: issue 6");
    }

    @Override
    public void close() {
    }
}
