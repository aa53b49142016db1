package org.xenstorage.migrate.mirror;

import java.util.Objects;

/**
 * A live mirror's id, upstream's form: {@code <sr>/<vdi>} of the source VDI (the VDI may itself contain
 * {@code /}; the SR is everything before the first one). The same id names the send on the source host and the
 * receive on the destination host. A copy's id ({@code copy/<sr>/<vdi>}, {@link CopyRecord#idOf}) is another
 * namespace.
 *
 * @param sr  the source SR
 * @param vdi the source VDI
 */
public record MirrorId(String sr, String vdi) {
    public MirrorId {
        Objects.requireNonNull(sr, "sr");
        Objects.requireNonNull(vdi, "vdi");
        if (sr.isEmpty() || sr.contains("/") || vdi.isEmpty()) {
            throw new IllegalArgumentException("a mirror id needs a non-empty SR without '/' and a non-empty VDI");
        }
    }

    /** The id of the mirror of {@code vdi} in {@code sr}. */
    public static String of(String sr, String vdi) {
        return new MirrorId(sr, vdi).toString();
    }

    /**
     * The SR and VDI an id names.
     *
     * @throws IllegalArgumentException when it has no {@code /}, or an empty part
     */
    public static MirrorId parse(String id) {
        Objects.requireNonNull(id, "id");
        int slash = id.indexOf('/');
        if (slash <= 0 || slash == id.length() - 1) {
            throw new IllegalArgumentException("a mirror id is <sr>/<vdi>");
        }
        return new MirrorId(id.substring(0, slash), id.substring(slash + 1));
    }

    @Override
    public String toString() {
        return sr + "/" + vdi;
    }
}
