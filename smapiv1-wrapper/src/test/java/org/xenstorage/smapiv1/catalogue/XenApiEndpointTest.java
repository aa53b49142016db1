package org.xenstorage.smapiv1.catalogue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.smapiv1.xmlrpc.XmlRpcDateTime;
import org.xenstorage.testing.Soon;

/** The embedded XenAPI subset, over its real private socket, as a driver reaches it. */
class XenApiEndpointTest {
    @TempDir
    Path tmp;
    Catalogue catalogue;
    XenApiSocketServer server;
    RemoteXenApi api;

    @BeforeEach
    void start() throws Exception {
        catalogue = Catalogue.open(tmp.resolve("state/catalogue.json"));
        server = XenApiSocketServer.start(tmp.resolve("state/xenapi/xapi.sock"), catalogue, 4);
        api = new RemoteXenApi(server.socket());
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private Object call(String method, Object... args) throws XenApiFailure {
        return api.call(method, Arrays.asList(args));
    }

    private List<Object> introduceArgs(String session, String sr, String uuid) {
        return new ArrayList<>(List.of(session, uuid, "disk", "desc", sr, "user", false, false, Map.of(), uuid,
                Map.of(), Map.of("k", "v"), true, "1024", "0", "", false, XmlRpcDateTime.EPOCH, "", false));
    }

    @Test
    void theSocketAndItsDirectoryArePrivate() throws Exception {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(server.socket())));
        assertEquals("rwx------",
                PosixFilePermissions.toString(Files.getPosixFilePermissions(server.socket().getParent())));
        assertEquals("rw-------", PosixFilePermissions.toString(
                Files.getPosixFilePermissions(tmp.resolve("state/catalogue.json"))));
    }

    @Test
    void driverSessionsMayChangeOnlyTheirOwnSr() throws Exception {
        String srA = catalogue.ensureSr(UUID.randomUUID().toString(), "localfile", "a", "", Map.of("location", "/a"));
        String srB = catalogue.ensureSr(UUID.randomUUID().toString(), "localfile", "b", "", Map.of("location", "/b"));
        String session = catalogue.newDriverSession(srA);
        String uuid = UUID.randomUUID().toString();
        String vdi = (String) api.call("VDI.db_introduce", introduceArgs(session, srA, uuid));
        assertEquals(uuid, call("VDI.get_uuid", session, vdi));
        assertEquals(Map.of("k", "v"), call("VDI.get_sm_config", session, vdi));
        XenApiFailure denied = assertThrows(XenApiFailure.class,
                () -> api.call("VDI.db_introduce", introduceArgs(session, srB, UUID.randomUUID().toString())));
        assertEquals("PERMISSION_DENIED", denied.code());
        assertEquals("PERMISSION_DENIED", assertThrows(XenApiFailure.class,
                () -> call("SR.set_physical_size", session, srB, "1")).code());
        call("SR.set_physical_size", session, srA, "1000");
        assertEquals("1000", call("SR.get_physical_size", session, srA));
        // plain getters and setters of ordinary fields need no SR token
        call("VDI.set_name_label", session, vdi, "renamed");
        assertEquals("renamed", call("VDI.get_name_label", session, vdi));
        call("VDI.db_forget", session, vdi);
        assertEquals("HANDLE_INVALID", assertThrows(XenApiFailure.class,
                () -> call("VDI.get_record", session, vdi)).code());
        catalogue.destroySession(session);
        assertEquals("SESSION_INVALID", assertThrows(XenApiFailure.class,
                () -> call("SR.get_record", session, srA)).code());
    }

    @Test
    void genericAccessorsBehaveAsXapis() throws Exception {
        String sr = catalogue.ensureSr("sr-uuid", "localfile", "n", "", Map.of());
        String s = (String) call("session.login_with_password", "root", "", "1.0", "test");
        assertEquals(sr, call("SR.get_by_uuid", s, "sr-uuid"));
        assertEquals("UUID_INVALID", assertThrows(XenApiFailure.class, () -> call("SR.get_by_uuid", s, "x")).code());
        call("SR.add_to_other_config", s, sr, "dirty", "");
        XenApiFailure dup = assertThrows(XenApiFailure.class, () -> call("SR.add_to_other_config", s, sr, "dirty", ""));
        assertEquals(List.of("MAP_DUPLICATE_KEY", "SR", "other_config", sr, "dirty"), dup.description());
        call("SR.remove_from_other_config", s, sr, "dirty");
        assertEquals(Map.of(), call("SR.get_other_config", s, sr));
        Map<?, ?> where = (Map<?, ?>) call("PBD.get_all_records_where", s,
                "field \"SR\" = \"" + sr + "\" and field \"host\" = \"" + catalogue.hostRef() + "\"");
        assertEquals(1, where.size());
        assertEquals(0, ((Map<?, ?>) call("PBD.get_all_records_where", s, "field \"SR\" = \"nope\"")).size());
        Object[] vdis = (Object[]) ((Map<?, ?>) call("SR.get_record", s, sr)).get("VDIs");
        assertEquals(0, vdis.length);
        assertEquals("MESSAGE_METHOD_UNKNOWN", assertThrows(XenApiFailure.class,
                () -> call("VM.start", s, "x")).code());
        assertEquals("MESSAGE_METHOD_UNKNOWN", assertThrows(XenApiFailure.class,
                () -> call("SR.set_uuid", s, sr, "x")).code());
        assertTrue(call("message.create", s, "POST_ATTACH_SCAN_FAILED", "2", "SR", "sr-uuid", "body")
                .toString().startsWith("OpaqueRef:"));
    }

    @Test
    void recordsSurviveAReopenButSessionsDoNot() throws Exception {
        String sr = catalogue.ensureSr("sr-uuid", "localfile", "n", "", Map.of("location", "/x"));
        String session = catalogue.newDriverSession(sr);
        String vdi = (String) api.call("VDI.db_introduce", introduceArgs(session, sr, "vdi-uuid"));
        Catalogue again = Catalogue.open(tmp.resolve("state/catalogue.json"));
        assertEquals(catalogue.hostRef(), again.hostRef());
        String internal = again.newInternalSession();
        Map<?, ?> rec = (Map<?, ?>) again.call("VDI.get_record", List.of(internal, vdi));
        assertEquals("vdi-uuid", rec.get("uuid"));
        assertEquals(XmlRpcDateTime.EPOCH, rec.get("snapshot_time"));
        assertEquals("SESSION_INVALID", assertThrows(XenApiFailure.class,
                () -> again.call("SR.get_record", List.of(session, sr))).code());
    }

    @Test
    void aSilentConnectionIsClosedAndDoesNotStarveOthers() throws Exception {
        // the test waits the idle timeout out, so it is short; but a client that is merely slow (a busy machine,
        // a GC pause between its connect and its request) must not look idle, so not as short as 300 ms
        try (XenApiSocketServer small = XenApiSocketServer.start(tmp.resolve("small/xapi.sock"), catalogue, 1,
                Soon.timeout().dividedBy(20));
             SocketChannel silent = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            silent.connect(UnixDomainSocketAddress.of(small.socket()));
            // the only worker is held by the silent client until the server gives up on it
            assertEquals(-1, Channels.newInputStream(silent).read(), "server closed the idle connection");
            RemoteXenApi other = new RemoteXenApi(small.socket());
            assertTrue(other.call("session.login_with_password", List.of("root", "")).toString()
                    .startsWith("OpaqueRef:"));
        }
    }

    @Test
    void aHostileRequestGetsAFailureAndTheServerStaysUp() throws Exception {
        String body = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
                + "<methodCall><methodName>&e;</methodName><params/></methodCall>";
        String reply;
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(server.socket()));
            OutputStream out = Channels.newOutputStream(ch);
            out.write(("POST / HTTP/1.1\r\nContent-Length: " + body.length() + "\r\nConnection: close\r\n\r\n" + body)
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            reply = new String(Channels.newInputStream(ch).readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(reply.startsWith("HTTP/1.1 200"), reply);
        assertTrue(reply.contains("XMLRPC_UNMARSHAL_FAILURE"), reply);
        assertFalse(reply.contains("root:"), reply);
        assertTrue(call("session.login_with_password", "root", "").toString().startsWith("OpaqueRef:"));
    }
}
