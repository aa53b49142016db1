package org.xenstorage.migrate.remote;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import javax.net.ssl.SSLException;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.RpcTransport;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.wire.Json;

/**
 * SMAPIv2 on a remote storage daemon: each call is the project's JSON-RPC text POSTed to the endpoint's
 * {@code /services/SM} (the token in the query, as xapi's URL form puts it), the reply body is the JSON-RPC
 * reply. Errors the remote answers come back as the same {@link StorageException} a local call throws (the one
 * codec, {@link StorageClient}, decodes them); a call that never got a reply (connection refused, TLS refused,
 * timeout, an HTTP error status) is an {@code Internal_error} naming the redacted URL.
 *
 * <p>Upstream's storage_migrate speaks XML-RPC to xapi's {@code /services/SM}; the endpoint this talks to is
 * our own daemon's, which takes the JSON-RPC every other hop of this project uses.
 */
public final class RemoteStorage implements RpcTransport {
    /** A reply body larger than this is refused (an SR.scan of thousands of VDIs is a few MiB). */
    static final int MAX_REPLY_BYTES = 64 << 20;

    /**
     * @param connectTimeout how long connecting (TCP and TLS) may take
     * @param callTimeout    how long one call may take, reply included (as the mux's {@code call-timeout})
     */
    public record Options(Duration connectTimeout, Duration callTimeout) {
        public Options {
            Objects.requireNonNull(connectTimeout, "connectTimeout");
            Objects.requireNonNull(callTimeout, "callTimeout");
        }

        /** 30 s to connect, 1200 s per call (the daemon's default {@code call-timeout}). */
        public static Options defaults() {
            return new Options(Duration.ofSeconds(30), Duration.ofSeconds(1200));
        }
    }

    private final RemoteUrl url;
    private final Options options;
    private final HttpClient http;

    private RemoteStorage(RemoteUrl url, RemoteTls tls, Options options) {
        this.url = Objects.requireNonNull(url, "url");
        this.options = Objects.requireNonNull(options, "options");
        HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(options.connectTimeout()).followRedirects(HttpClient.Redirect.NEVER);
        if (url.tls()) {
            b.sslContext(Objects.requireNonNull(tls, "tls").context());
        }
        this.http = b.build();
    }

    /** The transport alone (for a caller that forwards raw JSON-RPC text). */
    public static RemoteStorage transport(RemoteUrl url, RemoteTls tls, Options options) {
        return new RemoteStorage(url, tls, options);
    }

    /** Typed SMAPIv2 proxies of every module of the remote daemon. */
    public static StorageService connect(RemoteUrl url, RemoteTls tls, Options options) {
        return StorageClient.of(transport(url, tls, options));
    }

    /** {@link #connect} with {@link Options#defaults()}. */
    public static StorageService connect(RemoteUrl url, RemoteTls tls) {
        return connect(url, tls, Options.defaults());
    }

    /** The endpoint this talks to, redacted. */
    public RemoteUrl url() {
        return url;
    }

    @Override
    public CompletableFuture<String> call(String jsonRpcRequest) {
        String method = methodOf(jsonRpcRequest);
        HttpRequest request = HttpRequest.newBuilder(url.serviceUri())
                .timeout(options.callTimeout())
                .header("Content-Type", "application/json")
                .header("User-Agent", "xenstorage-remote-storage")
                .POST(HttpRequest.BodyPublishers.ofString(jsonRpcRequest, StandardCharsets.UTF_8))
                .build();
        CompletableFuture<HttpResponse<String>> sent;
        try {
            sent = http.sendAsync(request, info -> new BoundedText(MAX_REPLY_BYTES));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(failure(method, e));
        }
        return sent.handle((response, error) -> {
            if (error != null) {
                throw failure(method, error);
            }
            if (response.statusCode() != 200) {
                throw refusal(method, response);
            }
            return response.body();
        });
    }

    /** The JSON-RPC method of a request, for error texts ("?" when it has none). */
    private static String methodOf(String request) {
        try {
            return Json.parse(request).path("method").asText("?");
        } catch (Exception e) {
            return "?";
        }
    }

    private StorageException refusal(String method, HttpResponse<String> response) {
        int code = response.statusCode();
        String why = switch (code) {
            case 403 -> "refused the token (HTTP 403): is session_id the endpoint's token?";
            case 404 -> "has no " + RemoteUrl.SERVICE_PATH + " (HTTP 404): is this a storage daemon's remote endpoint?";
            default -> "answered HTTP " + code + firstLine(response.body());
        };
        return StorageException.internal("remote storage " + url.redacted() + " " + why + " (call " + method + ")");
    }

    private static String firstLine(String body) {
        if (body == null || body.isBlank()) {
            return "";
        }
        String line = body.strip().lines().findFirst().orElse("");
        line = line.length() > 200 ? line.substring(0, 200) + "…" : line;
        return ": " + line;
    }

    private StorageException failure(String method, Throwable error) {
        Throwable e = error;
        while (e instanceof CompletionException && e.getCause() != null) {
            e = e.getCause();
        }
        if (e instanceof StorageException s) {
            return s;
        }
        String what;
        if (e instanceof HttpConnectTimeoutException) {
            what = "did not accept a connection within " + options.connectTimeout().toSeconds() + " s";
        } else if (e instanceof HttpTimeoutException) {
            what = "did not answer " + method + " within " + options.callTimeout().toSeconds() + " s";
        } else if (e instanceof ConnectException) {
            what = "refused the connection" + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")");
        } else if (tlsFailure(e) != null) {
            what = "failed the TLS handshake: " + tlsFailure(e).getMessage();
        } else {
            what = "failed: " + e;
        }
        // the JDK's texts do not carry the request URI, but a credential must not leak through a later change
        StorageException out = StorageException.internal(url.scrub("remote storage " + url.redacted() + " " + what
                + (e instanceof HttpTimeoutException ? "" : " (call " + method + ")")));
        out.addSuppressed(new IOException(url.scrub(String.valueOf(e))));
        return out;
    }

    /** The TLS failure in {@code e}'s cause chain, if any. */
    private static SSLException tlsFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SSLException ssl) {
                return ssl;
            }
        }
        return null;
    }

    /** The reply body as text, refused past {@code limit} bytes (a broken or hostile peer cannot exhaust memory). */
    private static final class BoundedText implements HttpResponse.BodySubscriber<String> {
        private final int limit;
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final CompletableFuture<String> result = new CompletableFuture<>();
        private Flow.Subscription subscription;

        BoundedText(int limit) {
            this.limit = limit;
        }

        @Override
        public CompletionStage<String> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (result.isDone()) {
                return;
            }
            for (ByteBuffer b : items) {
                if (bytes.size() + b.remaining() > limit) {
                    subscription.cancel();
                    result.completeExceptionally(new IOException("the reply is larger than " + limit + " bytes"));
                    return;
                }
                byte[] chunk = new byte[b.remaining()];
                b.get(chunk);
                bytes.write(chunk, 0, chunk.length);
            }
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            result.complete(bytes.toString(StandardCharsets.UTF_8));
        }
    }
}
