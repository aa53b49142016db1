package org.xenstorage.messageswitch.broker;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The embedded message-switch broker: the upstream wire protocol on a Unix socket and/or TCP
 * (loopback by default), so the daemon runs on a machine without xapi and tests have a real switch.
 *
 * <p>CONTRACT ONLY in this revision: implemented by issue 3.
 */
public final class EmbeddedSwitch implements AutoCloseable {

    private EmbeddedSwitch() {
    }

    /**
     * Starts listening.
     *
     * @param unixSocket where to listen on a Unix socket (mode 0600), or empty for none
     * @param tcp        where to listen on TCP, or empty for none
     * @param stateDir   where persistent queues are kept across restarts
     */
    public static EmbeddedSwitch start(Optional<Path> unixSocket, Optional<InetSocketAddress> tcp, Path stateDir) {
        throw new UnsupportedOperationException("embedded message-switch: issue 3");
    }

    /** The TCP port actually bound (useful with port 0), or -1 when not listening on TCP. */
    public int tcpPort() {
        throw new UnsupportedOperationException("embedded message-switch: issue 3");
    }

    @Override
    public void close() {
    }
}
