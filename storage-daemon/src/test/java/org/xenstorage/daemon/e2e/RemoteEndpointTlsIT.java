package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.errors.StorageException;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.migrate.remote.NbdTunnel;
import org.xenstorage.migrate.remote.RemoteNbdPath;
import org.xenstorage.migrate.remote.RemoteStorage;
import org.xenstorage.migrate.remote.RemoteTls;
import org.xenstorage.testing.DebianTools;
import org.xenstorage.testing.DebianTools.Tool;
import org.xenstorage.testing.Soon;

/**
 * The endpoint over HTTPS with a certificate the test makes (keytool, for 127.0.0.1): SMAPIv2 and an NBD tunnel
 * work when the client trusts that certificate (or does not verify, as {@code verify_dest=false}), and a client
 * that verifies against the system's CAs is refused with a clear storage error.
 */
class RemoteEndpointTlsIT {
    @TempDir
    Path dir;

    /** A self-signed certificate for 127.0.0.1 and localhost: {PEM certificate, PEM PKCS#8 key}. */
    static Path[] makeCertificate(Path dir) throws Exception {
        Path store = dir.resolve("endpoint.p12");
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        RemoteEndpointIT.run(keytool, "-genkeypair", "-alias", "endpoint", "-keyalg", "EC", "-groupname",
                "secp256r1", "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2",
                "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass", "changeit", "-keypass",
                "changeit");
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(store)) {
            ks.load(in, "changeit".toCharArray());
        }
        Key key = ks.getKey("endpoint", "changeit".toCharArray());
        X509Certificate cert = (X509Certificate) ks.getCertificate("endpoint");
        Base64.Encoder pem = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));
        Path certFile = dir.resolve("cert.pem");
        Path keyFile = dir.resolve("key.pem");
        Files.writeString(certFile, "-----BEGIN CERTIFICATE-----\n" + pem.encodeToString(cert.getEncoded())
                + "\n-----END CERTIFICATE-----\n");
        Files.writeString(keyFile, "-----BEGIN PRIVATE KEY-----\n" + pem.encodeToString(key.getEncoded())
                + "\n-----END PRIVATE KEY-----\n");
        Files.setPosixFilePermissions(keyFile, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return new Path[] {certFile, keyFile};
    }

    @Test
    void httpsWithATrustedCertificateCarriesSmapiv2AndNbd() throws Exception {
        String nbdinfo = DebianTools.require(Tool.NBDINFO).toString();
        DebianTools.require(Tool.QEMU_NBD).toString();
        Path[] certAndKey = makeCertificate(dir);
        RemoteTls trusting = RemoteTls.trustingPem(certAndKey[0]);
        try (RemoteDaemon d = RemoteDaemon.start(dir, certAndKey, trusting)) {
            StorageService remote = d.storage();
            assertEquals("mux", remote.query().query("it").driver());
            assertEquals("mux", RemoteStorage.connect(d.url, RemoteTls.unverified()).query().query("it").driver(),
                    "verify_dest=false: encrypted, not verified");
            StorageException refused = assertThrows(StorageException.class,
                    () -> RemoteStorage.connect(d.url, RemoteTls.systemTrust()).query().query("it"));
            String why = assertInstanceOf(StorageError.InternalError.class, refused.error()).message();
            assertTrue(why.contains("TLS") && why.contains("https://127.0.0.1:" + d.port), why);

            String sr = UUID.randomUUID().toString();
            Path srDir = Files.createDirectories(dir.resolve("sr"));
            RemoteEndpointIT.register(d, sr, "localfile");
            remote.sr().create("it", sr, "tls SR", "", Map.of("location", srDir.toString()), 0);
            remote.sr().attach("it", sr, Map.of("location", srDir.toString()));
            VdiInfo vdi = remote.vdi().create("it", sr, VdiInfo.defaults("", "tls").withSizes(4 << 20, 0));
            remote.vdi().attach3("it", "dp-tls", sr, vdi.vdi(), "vm1", true);
            remote.vdi().activate3("it", "dp-tls", sr, vdi.vdi(), "vm1");
            try (NbdTunnel t = NbdTunnel.open(d.url, trusting, RemoteNbdPath.nbd("vm1", sr, vdi.vdi(), "dp-tls"),
                    Files.createDirectories(dir.resolve("t")))) {
                assertEquals(String.valueOf(4 << 20), RemoteEndpointIT.run(nbdinfo, "--size", t.nbdUri()).strip());
            }
            Soon.await("no qemu-nbd left", () -> d.qemuNbds().isEmpty());
            remote.vdi().deactivate("it", "dp-tls", sr, vdi.vdi(), "vm1");
            remote.vdi().detach("it", "dp-tls", sr, vdi.vdi(), "vm1");
        }
    }
}
