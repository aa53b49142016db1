package org.xenstorage.migrate.remote;

import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.idl.rpc.RpcTransport;
import org.xenstorage.idl.wire.WireCodec;

/**
 * SMAPIv2 calls to a remote endpoint that follow a {@code Redirect(Some ip)} answer once: the same call is sent to
 * the same URL with {@code ip} as its host (same scheme, port and token), and that host's answer is final, a second
 * redirect included. This is upstream's redirectable RPC (the mux answers {@code Redirect} for a snapshot of a VDI
 * active on another host of the pool), bounded so that two hosts naming each other cannot loop.
 */
public final class RedirectingTransport implements RpcTransport {
    private static final Logger LOG = LoggerFactory.getLogger(RedirectingTransport.class);

    private final RemoteUrl url;
    private final RpcTransport first;
    private final Function<RemoteUrl, RpcTransport> transports;

    /**
     * @param url        where every call goes first
     * @param transports makes the transport for a URL (the first one is made at once and kept)
     */
    public RedirectingTransport(RemoteUrl url, Function<RemoteUrl, RpcTransport> transports) {
        this.url = Objects.requireNonNull(url, "url");
        this.transports = Objects.requireNonNull(transports, "transports");
        this.first = transports.apply(url);
    }

    @Override
    public CompletableFuture<String> call(String jsonRpcRequest) {
        return first.call(jsonRpcRequest).thenCompose(reply -> {
            Optional<String> ip = redirectOf(reply);
            if (ip.isEmpty()) {
                return CompletableFuture.completedFuture(reply);
            }
            RemoteUrl there;
            try {
                there = url.withHost(ip.get());
            } catch (IllegalArgumentException e) {
                LOG.warn("remote storage {} redirected a call to an unusable host: answering the redirect", url);
                return CompletableFuture.completedFuture(reply);
            }
            LOG.info("remote storage {} redirected a call to {}: following it once", url, there);
            return transports.apply(there).call(jsonRpcRequest);
        });
    }

    /** The host a JSON-RPC reply redirects to: its error is {@code Redirect} with an address. */
    static Optional<String> redirectOf(String reply) {
        try {
            JsonRpc.Response response = JsonRpc.parseResponse(reply);
            if (response.error().isEmpty()) {
                return Optional.empty();
            }
            StorageError error = WireCodec.decode(response.error().get(), StorageError.class);
            return error instanceof StorageError.Redirect r ? r.ip().filter(s -> !s.isBlank()) : Optional.empty();
        } catch (RuntimeException e) {
            return Optional.empty(); // not a reply we understand: the client's decoder reports it
        }
    }
}
