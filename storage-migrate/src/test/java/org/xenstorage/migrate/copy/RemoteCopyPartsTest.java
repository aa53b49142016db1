package org.xenstorage.migrate.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.rpc.JsonRpc;
import org.xenstorage.idl.rpc.RpcTransport;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.migrate.DataService;
import org.xenstorage.migrate.mirror.CopyRecord;
import org.xenstorage.migrate.mirror.CopyRecords;
import org.xenstorage.migrate.remote.RedirectingTransport;
import org.xenstorage.migrate.remote.RemoteConnector;
import org.xenstorage.migrate.remote.RemoteUrl;

/**
 * The pure-logic parts of a copy to another host: which urls name this daemon, the redirect rule (transports here are
 * functions of the host, pure logic), and the copy record's handling of the url's token. The copy itself is proven by
 * storage-daemon's RemoteDataCopyIT between two real daemons.
 */
class RemoteCopyPartsTest {
    @TempDir
    Path dir;

    @Test
    void aLoopbackUrlNamesThisDaemonUnlessItsPortIsAnotherDaemons() {
        OptionalInt own = OptionalInt.of(8098);
        assertTrue(DataService.isLocalUrl("", own));
        assertTrue(DataService.isLocalUrl("http://127.0.0.1/services/SM?session_id=x", own), "xapi's local form");
        assertTrue(DataService.isLocalUrl("http://127.0.0.1:80/services/SM", own), "the scheme's default port");
        assertTrue(DataService.isLocalUrl("https://localhost:443/services/SM", own));
        assertTrue(DataService.isLocalUrl("http://[::1]:8098/services/SM?session_id=x", own), "our own endpoint");
        assertFalse(DataService.isLocalUrl("http://127.0.0.1:8099/services/SM?session_id=x", own),
                "another daemon on this machine");
        assertFalse(DataService.isLocalUrl("http://127.0.0.1:8098/services/SM", OptionalInt.empty()),
                "no endpoint here: a port names another daemon");
        assertFalse(DataService.isLocalUrl("http://10.0.0.2/services/SM?session_id=x", own));
        assertFalse(DataService.isLocalUrl("http://127.0.0.2/services/SM?session_id=x", own),
                "another loopback address is another host (the two-address test fixture)");
    }

    @Test
    void withHostKeepsSchemePortAndTokenAndRefusesAnUnusableHost() {
        RemoteUrl u = RemoteUrl.parse("https://10.0.0.1:8098/services/SM?session_id=s3cr3t-token");
        RemoteUrl v = u.withHost("10.0.0.9");
        assertEquals("https://10.0.0.9:8098/services/SM?session_id=(hidden)", v.redacted());
        assertEquals(RemoteUrl.HIDDEN, v.scrub("s3cr3t-token"), "the same token");
        assertEquals("https://[fe80::1]:8098/services/SM?session_id=(hidden)", u.withHost("[fe80::1]").redacted());
        for (String bad : List.of("", "a b", "x/y", "h?session_id=1", "user@h")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> u.withHost(bad), bad);
            assertFalse(e.getMessage().contains("s3cr3t"), e.getMessage());
        }
    }

    /** A transport per host: each answers with {@code answer(host, request)}; calls are logged as {@code host}. */
    private static RedirectingTransport hosts(RemoteUrl url, List<String> calls,
                                              java.util.function.BiFunction<String, JsonNode, String> answer) {
        return new RedirectingTransport(url, u -> (RpcTransport) request -> {
            calls.add(u.host());
            try {
                return CompletableFuture.completedFuture(answer.apply(u.host(), Json.parse(request).get("id")));
            } catch (Exception e) {
                return CompletableFuture.failedFuture(e);
            }
        });
    }

    @Test
    void aRedirectWithAnAddressIsFollowedOnceToThatHost() {
        RemoteUrl url = RemoteUrl.parse("http://10.0.0.1:8098/services/SM?session_id=tok-123");
        List<String> calls = new ArrayList<>();
        StorageService s = StorageClient.of(hosts(url, calls, (host, id) -> host.equals("10.0.0.1")
                ? JsonRpc.failure(new StorageError.Redirect(Optional.of("10.0.0.9")), id)
                : JsonRpc.success(Json.NODES.arrayNode().add("sr-on-9"), id)));
        assertEquals(List.of("sr-on-9"), s.sr().list("t"));
        assertEquals(List.of("10.0.0.1", "10.0.0.9"), calls);
    }

    @Test
    void aSecondRedirectIsTheAnswerAndARedirectWithoutAddressIsNotFollowed() {
        RemoteUrl url = RemoteUrl.parse("http://10.0.0.1:8098/services/SM?session_id=tok-123");
        List<String> calls = new ArrayList<>();
        StorageService loop = StorageClient.of(hosts(url, calls, (host, id) -> JsonRpc.failure(
                new StorageError.Redirect(Optional.of(host.equals("10.0.0.1") ? "10.0.0.2" : "10.0.0.1")), id)));
        StorageException e = assertThrows(StorageException.class, () -> loop.sr().list("t"));
        assertEquals(new StorageError.Redirect(Optional.of("10.0.0.1")), e.error());
        assertEquals(List.of("10.0.0.1", "10.0.0.2"), calls, "followed once, no loop");

        calls.clear();
        StorageService none = StorageClient.of(hosts(url, calls,
                (host, id) -> JsonRpc.failure(new StorageError.Redirect(Optional.empty()), id)));
        assertThrows(StorageException.class, () -> none.sr().list("t"));
        assertEquals(List.of("10.0.0.1"), calls);
    }

    @Test
    void theCopyRecordKeepsTheTokenOnlyInItsPrivateFile() throws Exception {
        String url = "https://10.0.0.1:8098/services/SM?session_id=tok-secret";
        CopyRecord r = new CopyRecord("copy/sr/v", "7", "sr", "v", "leaf", "remote", "dest", "copy", url, "0", true);
        assertFalse(r.toString().contains("tok-secret"), r.toString());
        Path file = dir.resolve("copies.json");
        CopyRecords records = CopyRecords.persistedAt(file);
        records.add(r);
        records.keepForReclaim("7"); // a remote that could not be released: left for the next start
        assertEquals(List.of(), records.active());
        assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(file));
        CopyRecords next = CopyRecords.persistedAt(file);
        assertEquals(List.of(r), next.stale(), "the url (token included) and verify_dest survive a restart");
    }

    @Test
    void aRecordWrittenBeforeVerifyDestExistedReadsAsNotVerifying() throws Exception {
        Path file = dir.resolve("copies.json");
        Files.writeString(file, "{\"copies\":[{\"id\":\"copy/sr/v\",\"task\":\"1\",\"source_sr\":\"sr\","
                + "\"source_vdi\":\"v\",\"leaf_dp\":\"l\",\"remote_dp\":\"r\",\"dest_sr\":\"d\",\"copy_vdi\":\"c\","
                + "\"url\":\"\",\"vm\":\"0\"}]}", StandardCharsets.UTF_8);
        List<CopyRecord> stale = CopyRecords.persistedAt(file).stale();
        assertEquals(List.of(new CopyRecord("copy/sr/v", "1", "sr", "v", "l", "r", "d", "c", "", "0")), stale);
    }

    @Test
    void aMalformedUrlFailsWithItsReasonAndNotItsText() {
        StorageException e = assertThrows(StorageException.class,
                () -> RemoteVdiCopy.parseUrl("http://h:1/elsewhere?session_id=hush-hush"));
        assertTrue(e.error() instanceof StorageError.InternalError, e.toString());
        assertFalse(String.valueOf(e.error()).contains("hush-hush"), String.valueOf(e.error()));
        assertTrue(String.valueOf(e.error()).contains("/services/SM"), String.valueOf(e.error()));
    }

    @Test
    void verifyDestChoosesTheCertificateCheck() throws Exception {
        RemoteConnector none = new RemoteConnector(Optional.empty(), dir, org.xenstorage.migrate.remote.RemoteStorage
                .Options.defaults(), org.xenstorage.migrate.remote.NbdTunnel.Options.defaults());
        assertFalse(none.tls(false).verifies(), "verify_dest=false: encrypted, any certificate");
        assertTrue(none.tls(true).verifies(), "verify_dest=true without remote-ca-bundle: the JVM's CAs");
        Path notPem = dir.resolve("bundle.pem");
        Files.writeString(notPem, "not a certificate\n");
        RemoteConnector broken = new RemoteConnector(Optional.of(notPem), dir, org.xenstorage.migrate.remote
                .RemoteStorage.Options.defaults(), org.xenstorage.migrate.remote.NbdTunnel.Options.defaults());
        assertFalse(broken.tls(false).verifies(), "the bundle is read only when verifying");
        StorageException e = assertThrows(StorageException.class, () -> broken.tls(true));
        assertTrue(String.valueOf(e.error()).contains("remote-ca-bundle"), String.valueOf(e.error()));
    }
}
