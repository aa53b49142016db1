package org.xenstorage.idl.rpc;

import java.util.concurrent.CompletableFuture;

/** Carries one JSON-RPC request text to a server and brings back its reply text (e.g. over message-switch). */
@FunctionalInterface
public interface RpcTransport {
    CompletableFuture<String> call(String jsonRpcRequest);
}
