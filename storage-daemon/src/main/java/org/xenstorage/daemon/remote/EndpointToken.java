package org.xenstorage.daemon.remote;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The remote endpoint's only credential, read once at start from {@code remote-token-file}. The file must be
 * private (no permission for group or others); the token is 16 to 4096 visible ASCII characters (a trailing
 * newline is ignored), e.g. {@code openssl rand -hex 32}. It is compared in constant time and never shown:
 * {@link #toString()} hides it and {@link #scrub} removes it from any text about to be logged.
 */
final class EndpointToken {
    static final int MIN_LENGTH = 16;
    static final int MAX_LENGTH = 4096;
    private static final Set<PosixFilePermission> NOT_PRIVATE = EnumSet.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

    private final String token;
    private final byte[] digest;

    private EndpointToken(String token) {
        this.token = token;
        this.digest = sha256(token.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Reads and checks the token file.
     *
     * @throws IOException naming the file and what is wrong with it (never its content)
     */
    static EndpointToken load(Path file) throws IOException {
        PosixFileAttributes attrs;
        try {
            attrs = Files.readAttributes(file, PosixFileAttributes.class);
        } catch (IOException e) {
            throw new IOException("remote-token-file " + file + " cannot be read: " + e, e);
        }
        if (!attrs.isRegularFile()) {
            throw new IOException("remote-token-file " + file + " is not a regular file");
        }
        Set<PosixFilePermission> loose = EnumSet.copyOf(NOT_PRIVATE);
        loose.retainAll(attrs.permissions());
        if (!loose.isEmpty()) {
            throw new IOException("remote-token-file " + file + " is not private (mode "
                    + java.nio.file.attribute.PosixFilePermissions.toString(attrs.permissions())
                    + "): chmod 600 it, the token is the endpoint's only credential");
        }
        if (attrs.size() > MAX_LENGTH + 2) {
            throw new IOException("remote-token-file " + file + " is longer than a token (" + MAX_LENGTH
                    + " characters)");
        }
        List<String> lines = List.of(Files.readString(file, StandardCharsets.US_ASCII).split("\r?\n", -1));
        String token = lines.get(0);
        if (lines.size() > 2 || lines.size() == 2 && !lines.get(1).isEmpty()) {
            throw new IOException("remote-token-file " + file + " must hold one line, the token");
        }
        return of(token, "remote-token-file " + file);
    }

    /** A token from its text; {@code where} names it in errors. */
    static EndpointToken of(String token, String where) throws IOException {
        if (token.length() < MIN_LENGTH || token.length() > MAX_LENGTH) {
            throw new IOException(where + ": the token must be " + MIN_LENGTH + " to " + MAX_LENGTH
                    + " characters long, not " + token.length());
        }
        if (!token.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw new IOException(where + ": the token must be visible ASCII characters (no spaces)");
        }
        return new EndpointToken(token);
    }

    /**
     * Whether {@code candidate} is the token. Both sides are hashed first, so the comparison takes the same time
     * whatever the candidate's content or length.
     */
    boolean matches(String candidate) {
        if (candidate == null) {
            return false;
        }
        return MessageDigest.isEqual(digest, sha256(candidate.getBytes(StandardCharsets.UTF_8)));
    }

    /** {@code text} with the token (as is or percent-encoded) replaced, for a log line. */
    String scrub(String text) {
        String out = text.replace(token, "(hidden)");
        String encoded = URLEncoder.encode(token, StandardCharsets.UTF_8);
        return out.replace(encoded, "(hidden)");
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no SHA-256 in this JVM", e);
        }
    }

    @Override
    public String toString() {
        return "EndpointToken(hidden)";
    }
}
