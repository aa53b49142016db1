package org.xenstorage.daemon.e2e;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.xenstorage.daemon.routing.RecordingBackend;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.messageswitch.broker.EmbeddedSwitch;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchOptions;
import org.xenstorage.messageswitch.client.SwitchQueueServer;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/** The real embedded broker on a Unix socket, test backends served on it, and a client. */
final class SwitchFixture implements AutoCloseable {
    /**
     * Options for the test's own clients and queue servers: their first connection (login, queue creation)
     * may take what a busy machine takes, where the default gives up after 5 s.
     */
    static final SwitchOptions PATIENT = SwitchOptions.defaults().withConnectTimeout(Soon.timeout());

    final Path socket;
    final SwitchAddress address;
    final EmbeddedSwitch broker;
    final SwitchRpcClient client;
    private final List<SwitchQueueServer> servers = new ArrayList<>();

    SwitchFixture(Path dir) {
        socket = dir.resolve("switch.sock");
        broker = EmbeddedSwitch.start(Optional.of(socket), Optional.empty(), dir.resolve("switch-state"));
        address = SwitchAddress.unix(socket);
        client = SwitchRpcClient.connect(address, "test", PATIENT);
    }

    SwitchQueueServer serve(String queue, RecordingBackend backend) {
        var dispatcher = backend.dispatcher();
        SwitchQueueServer s = SwitchQueueServer.start(address, queue, 64, dispatcher::dispatch, PATIENT);
        servers.add(s);
        return s;
    }

    /** SMAPIv2 client proxies for {@code queue}. */
    StorageService storage(String queue, Duration timeout) {
        return StorageClient.of(text -> client.callAsync(queue, text, timeout));
    }

    @Override
    public void close() {
        servers.forEach(SwitchQueueServer::close);
        client.close();
        broker.close();
    }
}
