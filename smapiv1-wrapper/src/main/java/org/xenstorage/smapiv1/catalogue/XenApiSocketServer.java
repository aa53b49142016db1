package org.xenstorage.smapiv1.catalogue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.smapiv1.xmlrpc.MethodCall;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcFormatException;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcParser;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcWriter;
import org.xenstorage.statefile.AtomicFile;
import org.xenstorage.threads.BurstPools;

/**
 * Serves a {@link XenApi} as XenAPI XML-RPC over HTTP/1.1 on a private Unix socket (the directory is
 * 0700, the socket 0600): what {@code XenAPI.xapi_local()} in an SM driver talks to. Each answer is
 * XenAPI's {@code {Status: Success, Value}} or {@code {Status: Failure, ErrorDescription}}.
 * Requests are parsed with the hardened {@link XmlRpcParser}; bodies are capped.
 */
public final class XenApiSocketServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(XenApiSocketServer.class);
    private static final int MAX_HEADER = 16 * 1024;
    private static final int MAX_BODY = 8 << 20;

    private final Path socket;
    private final XenApi api;
    private final ServerSocketChannel server;
    private final ExecutorService workers;
    private final Thread acceptor;
    private final java.time.Duration idleTimeout;
    private final java.util.concurrent.ScheduledExecutorService idleCloser =
            Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "xenapi-callback-idle");
                t.setDaemon(true);
                return t;
            });
    private volatile boolean closed;

    private XenApiSocketServer(Path socket, XenApi api, int maxConnections, java.time.Duration idleTimeout)
            throws IOException {
        this.socket = socket;
        this.api = api;
        this.idleTimeout = idleTimeout;
        AtomicFile.createPrivateDirectories(socket.toAbsolutePath().getParent());
        Files.deleteIfExists(socket);
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        // one thread per connection (each driver exec opens one); idle, they exit: a boot storm makes them all
        this.workers = BurstPools.bounded(maxConnections, BurstPools.KEEP_ALIVE,
                BurstPools.daemonThreads("xenapi-callback"));
        this.acceptor = new Thread(this::acceptLoop, "xenapi-callback-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Binds {@code socket} (replacing a stale one) and starts serving; idle connections close after 120 s. */
    public static XenApiSocketServer start(Path socket, XenApi api, int maxConnections) throws IOException {
        return new XenApiSocketServer(socket, api, maxConnections, java.time.Duration.ofSeconds(120));
    }

    /**
     * As {@link #start(Path, XenApi, int)}; a connection that does not complete a request within
     * {@code idleTimeout} is closed, so a silent client cannot hold a worker (Python's XML-RPC client
     * reconnects by itself when its kept-alive connection was closed).
     */
    public static XenApiSocketServer start(Path socket, XenApi api, int maxConnections,
                                           java.time.Duration idleTimeout) throws IOException {
        return new XenApiSocketServer(socket, api, maxConnections, idleTimeout);
    }

    public Path socket() {
        return socket;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel ch = server.accept();
                workers.execute(() -> serve(ch));
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("XenAPI callback socket accept failed: {}", e.toString());
                }
                return;
            }
        }
    }

    private void serve(SocketChannel ch) {
        try (ch; InputStream in = Channels.newInputStream(ch); OutputStream out = Channels.newOutputStream(ch)) {
            while (!closed) {
                Map<String, String> headers = new LinkedHashMap<>();
                java.util.concurrent.ScheduledFuture<?> idle = idleCloser.schedule(() -> {
                    try {
                        ch.close();
                    } catch (IOException e) {
                        LOG.debug("closing an idle callback connection: {}", e.toString());
                    }
                }, idleTimeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
                String requestLine;
                byte[] body;
                try {
                    requestLine = readHead(in, headers);
                    body = requestLine == null ? null : readBody(in, out, headers);
                } finally {
                    idle.cancel(false);
                }
                if (requestLine == null || body == null) {
                    return;
                }
                String[] parts = requestLine.split(" ");
                if (parts.length != 3 || !parts[0].equals("POST")) {
                    respond(out, 405, "Method Not Allowed", "text/plain", "POST XML-RPC only\n".getBytes(), false);
                    return;
                }
                boolean keepAlive = parts[2].equals("HTTP/1.1")
                        && !"close".equalsIgnoreCase(headers.getOrDefault("connection", ""));
                byte[] reply = handle(body).getBytes(StandardCharsets.US_ASCII);
                respond(out, 200, "OK", "text/xml", reply, keepAlive);
                if (!keepAlive) {
                    return;
                }
            }
        } catch (IOException e) {
            LOG.debug("XenAPI callback connection ended: {}", e.toString());
        }
    }

    /** The request body, or null (after answering) when its length is missing, bad or too large. */
    private static byte[] readBody(InputStream in, OutputStream out, Map<String, String> headers)
            throws IOException {
        long length;
        try {
            length = Long.parseLong(headers.getOrDefault("content-length", "-1").trim());
        } catch (NumberFormatException e) {
            length = -1;
        }
        if (length < 0 || length > MAX_BODY) {
            respond(out, 411, "Length Required", "text/plain", "bad Content-Length\n".getBytes(), false);
            return null;
        }
        byte[] body = in.readNBytes((int) length);
        return body.length == length ? body : null;
    }

    /** One XML-RPC request body to one XML-RPC response document. */
    String handle(byte[] body) {
        MethodCall call;
        try {
            call = XmlRpcParser.parseCall(body);
        } catch (XmlRpcFormatException e) {
            return XmlRpcWriter.methodResponse(failure(List.of("XMLRPC_UNMARSHAL_FAILURE", String.valueOf(e.getMessage()))));
        }
        Map<String, Object> result = new LinkedHashMap<>();
        try {
            Object value = api.call(call.methodName(), call.params());
            result.put("Status", "Success");
            result.put("Value", value == null ? "" : value);
        } catch (XenApiFailure f) {
            LOG.debug("XenAPI {} failed: {}", call.methodName(), f.description());
            return XmlRpcWriter.methodResponse(failure(f.description()));
        } catch (RuntimeException e) {
            LOG.warn("XenAPI {} raised", call.methodName(), e);
            return XmlRpcWriter.methodResponse(failure(List.of("INTERNAL_ERROR", e.toString())));
        }
        return XmlRpcWriter.methodResponse(result);
    }

    private static Map<String, Object> failure(List<String> description) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("Status", "Failure");
        m.put("ErrorDescription", description);
        return m;
    }

    /** Reads the request line and headers (lower-cased names); null at a clean end of stream. */
    private static String readHead(InputStream in, Map<String, String> headers) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(512);
        int state = 0;
        while (state < 4) {
            int b = in.read();
            if (b < 0) {
                if (buf.size() == 0) {
                    return null;
                }
                throw new IOException("connection closed inside the request head");
            }
            buf.write(b);
            if (buf.size() > MAX_HEADER) {
                throw new IOException("request head too large");
            }
            state = switch (state) {
                case 0, 2 -> b == '\r' ? state + 1 : 0;
                case 1, 3 -> b == '\n' ? state + 1 : (b == '\r' ? 1 : 0);
                default -> 0;
            };
        }
        String[] lines = buf.toString(StandardCharsets.ISO_8859_1).split("\r\n");
        for (String line : Arrays.asList(lines).subList(1, lines.length)) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
            }
        }
        return lines[0];
    }

    private static void respond(OutputStream out, int code, String reason, String type, byte[] body,
                                boolean keepAlive) throws IOException {
        String head = "HTTP/1.1 " + code + " " + reason + "\r\nContent-Type: " + type + "\r\nContent-Length: "
                + body.length + "\r\nConnection: " + (keepAlive ? "keep-alive" : "close") + "\r\n\r\n";
        out.write(head.getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            LOG.debug("closing {}: {}", socket, e.toString());
        }
        workers.shutdownNow();
        idleCloser.shutdownNow();
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.debug("removing {}: {}", socket, e.toString());
        }
    }
}
