package org.xenstorage.smapiv1.catalogue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xenstorage.smapiv1.xmlrpc.MethodResponse;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcFormatException;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcParser;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcWriter;

/**
 * XenAPI over a local Unix socket (host mode: xapi's {@code /var/lib/xcp/xapi}): one HTTP/1.1 POST
 * per call on a fresh connection, the answer's {@code {Status, Value}} unwrapped.
 */
public final class RemoteXenApi implements XenApi {
    private static final int MAX_REPLY = 64 << 20;
    private final Path socket;

    public RemoteXenApi(Path socket) {
        this.socket = socket;
    }

    @Override
    public Object call(String method, List<Object> params) throws XenApiFailure {
        byte[] body = XmlRpcWriter.methodCall(method, params).getBytes(StandardCharsets.US_ASCII);
        byte[] reply;
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            OutputStream out = Channels.newOutputStream(ch);
            out.write(("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nConnection: close\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            reply = readBody(Channels.newInputStream(ch));
        } catch (IOException e) {
            throw new XenApiFailure("XENAPI_TRANSPORT_FAILURE", socket.toString(), e.toString());
        }
        MethodResponse r;
        try {
            r = XmlRpcParser.parseResponse(reply);
        } catch (XmlRpcFormatException e) {
            throw new XenApiFailure("XENAPI_TRANSPORT_FAILURE", socket.toString(), String.valueOf(e.getMessage()));
        }
        if (r instanceof MethodResponse.Fault f) {
            throw new XenApiFailure("XMLRPC_FAULT", String.valueOf(f.code()), f.message());
        }
        Object v = ((MethodResponse.Success) r).value();
        if (!(v instanceof Map<?, ?> m) || !(m.get("Status") instanceof String status)) {
            throw new XenApiFailure("XENAPI_TRANSPORT_FAILURE", socket.toString(), "reply without Status");
        }
        if (status.equals("Success")) {
            return m.get("Value");
        }
        List<String> description = new ArrayList<>();
        if (m.get("ErrorDescription") instanceof Object[] a) {
            for (Object o : a) {
                description.add(String.valueOf(o));
            }
        }
        throw new XenApiFailure(description.isEmpty() ? List.of("UNKNOWN") : description);
    }

    private static byte[] readBody(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed inside the reply head");
            }
            head.write(b);
            matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
            if (head.size() > 64 * 1024) {
                throw new IOException("reply head too large");
            }
        }
        long length = -1;
        for (String line : head.toString(StandardCharsets.ISO_8859_1).split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                length = Long.parseLong(line.substring(15).trim());
            }
        }
        if (length > MAX_REPLY) {
            throw new IOException("reply too large");
        }
        return length >= 0 ? in.readNBytes((int) length) : in.readNBytes(MAX_REPLY);
    }
}
