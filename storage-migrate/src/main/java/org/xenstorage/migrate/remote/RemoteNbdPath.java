package org.xenstorage.migrate.remote;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The datapath an NBD upgrade reaches, and the endpoint path that names it. Upstream xapi serves two
 * forms (both answered the same way by our endpoint):
 * <ul>
 *   <li>{@code /services/SM/nbd/<vm>/<sr>/<vdi>/<dp>} ({@link Kind#NBD}; also the older {@code /nbd/<sr>/<vdi>/<dp>},
 *       vm {@code 0}), which storage_migrate's SMAPIv1 mirror hands to tapdisk;</li>
 *   <li>{@code /services/SM/nbdproxy/import/<vm>/<sr>/<vdi>/<dp>} ({@link Kind#NBD_PROXY_IMPORT}; also
 *       {@code /nbdproxy/<vm>/<sr>/<vdi>/<dp>}), which storage_smapiv3_migrate's NBD proxy and sparse_dd use.</li>
 * </ul>
 * Each segment is percent-encoded, so a dp such as {@code vbd/3/xvda} survives the trip (upstream splits the
 * raw path on {@code /} and cannot carry one).
 *
 * @param kind which of the two paths
 * @param vm   the VM the datapath was attached for
 * @param sr   the SR
 * @param vdi  the VDI
 * @param dp   the datapath, attached (and activated) beforehand
 */
public record RemoteNbdPath(Kind kind, String vm, String sr, String vdi, String dp) {
    /** The two upgrade paths. */
    public enum Kind {
        NBD("nbd"),
        NBD_PROXY_IMPORT("nbdproxy/import");

        private final String prefix;

        Kind(String prefix) {
            this.prefix = prefix;
        }
    }

    public RemoteNbdPath {
        Objects.requireNonNull(kind, "kind");
        for (String s : List.of(vm, sr, vdi, dp)) {
            if (s == null || s.isEmpty()) {
                throw new IllegalArgumentException("vm, sr, vdi and dp must be non-empty");
            }
        }
    }

    /** {@code /services/SM/nbd/<vm>/<sr>/<vdi>/<dp>} for this datapath. */
    public static RemoteNbdPath nbd(String vm, String sr, String vdi, String dp) {
        return new RemoteNbdPath(Kind.NBD, vm, sr, vdi, dp);
    }

    /** {@code /services/SM/nbdproxy/import/<vm>/<sr>/<vdi>/<dp>} for this datapath. */
    public static RemoteNbdPath nbdProxyImport(String vm, String sr, String vdi, String dp) {
        return new RemoteNbdPath(Kind.NBD_PROXY_IMPORT, vm, sr, vdi, dp);
    }

    /** The raw (encoded) path, without the query. */
    public String path() {
        return RemoteUrl.SERVICE_PATH + "/" + kind.prefix + "/" + encode(vm) + "/" + encode(sr) + "/" + encode(vdi)
                + "/" + encode(dp);
    }

    /**
     * The datapath a raw request path names, if it is one of the upgrade paths.
     *
     * @return empty for any other path, or a segment that is empty or badly escaped
     */
    public static Optional<RemoteNbdPath> parse(String rawPath) {
        String base = RemoteUrl.SERVICE_PATH + "/";
        if (rawPath == null || !rawPath.startsWith(base)) {
            return Optional.empty();
        }
        String[] s = rawPath.substring(base.length()).split("/", -1);
        try {
            if (s[0].equals("nbd") && s.length == 5) {
                return Optional.of(nbd(decode(s[1]), decode(s[2]), decode(s[3]), decode(s[4])));
            }
            if (s[0].equals("nbd") && s.length == 4) {
                return Optional.of(nbd("0", decode(s[1]), decode(s[2]), decode(s[3])));
            }
            if (s[0].equals("nbdproxy") && s.length == 6 && s[1].equals("import")) {
                return Optional.of(nbdProxyImport(decode(s[2]), decode(s[3]), decode(s[4]), decode(s[5])));
            }
            if (s[0].equals("nbdproxy") && s.length == 5) {
                return Optional.of(nbdProxyImport(decode(s[1]), decode(s[2]), decode(s[3]), decode(s[4])));
            }
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    /** Percent-encodes every byte outside RFC 3986's unreserved set. */
    static String encode(String segment) {
        StringBuilder b = new StringBuilder();
        for (byte x : segment.getBytes(StandardCharsets.UTF_8)) {
            int c = x & 0xff;
            if (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.'
                    || c == '_' || c == '~') {
                b.append((char) c);
            } else {
                b.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return b.toString();
    }

    /** Strict percent-decoding of one segment ({@code +} is a plus: this is a path, not a query). */
    static String decode(String segment) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(segment.length());
        for (int i = 0; i < segment.length(); i++) {
            char c = segment.charAt(i);
            if (c == '%') {
                if (i + 2 >= segment.length()) {
                    throw new IllegalArgumentException("truncated escape");
                }
                int hi = Character.digit(segment.charAt(i + 1), 16);
                int lo = Character.digit(segment.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    throw new IllegalArgumentException("bad escape");
                }
                out.write(hi << 4 | lo);
                i += 2;
            } else if (c > 0x20 && c < 0x7f) {
                out.write(c);
            } else {
                throw new IllegalArgumentException("character outside a URL path");
            }
        }
        String s = out.toString(StandardCharsets.UTF_8);
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty segment");
        }
        return s;
    }

    @Override
    public String toString() {
        return path();
    }
}
