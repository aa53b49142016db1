package org.xenstorage.migrate.remote;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * How a client of a remote endpoint checks the server's certificate on {@code https} URLs (plain {@code http}
 * URLs ignore it). DATA.copy's {@code verify_dest} chooses: {@link #systemTrust()} when true (the certificate
 * must chain to a trusted CA and name the host), {@link #unverified()} when false (encrypted, any certificate,
 * as upstream without {@code verify_dest}). {@link #trusting} verifies against exactly the given certificates
 * (a pool's own CA bundle, or the certificate a test made).
 */
public final class RemoteTls {
    private final SSLContext context;
    private final boolean verifies;

    private RemoteTls(SSLContext context, boolean verifies) {
        this.context = context;
        this.verifies = verifies;
    }

    /** Verification against the JDK's default trust store, with host name checks. */
    public static RemoteTls systemTrust() {
        try {
            return new RemoteTls(SSLContext.getDefault(), true);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("no default TLS context: " + e, e);
        }
    }

    /** {@code verify_dest}: {@link #systemTrust()} when true, {@link #unverified()} when false. */
    public static RemoteTls forVerifyDest(boolean verifyDest) {
        return verifyDest ? systemTrust() : unverified();
    }

    /** Verification against exactly these certificates (CAs or the server's own), with host name checks. */
    public static RemoteTls trusting(Collection<X509Certificate> anchors) {
        if (anchors.isEmpty()) {
            throw new IllegalArgumentException("no certificate to trust");
        }
        try {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int n = 0;
            for (X509Certificate c : anchors) {
                store.setCertificateEntry("trusted-" + n++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return new RemoteTls(ctx, true);
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a TLS context: " + e, e);
        }
    }

    /** {@link #trusting} the certificates of a PEM file. */
    public static RemoteTls trustingPem(Path pem) throws IOException {
        return trusting(readCertificates(pem));
    }

    /** The certificates of a PEM (or DER) file. */
    public static List<X509Certificate> readCertificates(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new IOException(file + " holds no certificate");
            }
            return out;
        } catch (CertificateException e) {
            throw new IOException(file + " does not hold X.509 certificates: " + e.getMessage(), e);
        }
    }

    /** Encryption without verification: any certificate, any host name. */
    public static RemoteTls unverified() {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new TrustManager[] {new AcceptAny()}, null);
            return new RemoteTls(ctx, false);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot build a TLS context: " + e, e);
        }
    }

    /** Whether the server's certificate and name are checked. */
    public boolean verifies() {
        return verifies;
    }

    /** The JDK context (the SMAPIv2 client's HTTP client uses it). */
    SSLContext context() {
        return context;
    }

    /** A client engine for {@code host:port}; with verification, the certificate must name {@code host}. */
    SSLEngine clientEngine(String host, int port) {
        SSLEngine engine = context.createSSLEngine(host, port);
        engine.setUseClientMode(true);
        SSLParameters p = engine.getSSLParameters();
        p.setEndpointIdentificationAlgorithm(verifies ? "HTTPS" : null);
        engine.setSSLParameters(p);
        return engine;
    }

    @Override
    public String toString() {
        return verifies ? "RemoteTls(verified)" : "RemoteTls(unverified)";
    }

    /**
     * Trusts every chain. An extended trust manager, so the JDK adds no host name check of its own either
     * (it wraps only plain {@code X509TrustManager}s in one).
     */
    private static final class AcceptAny extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
