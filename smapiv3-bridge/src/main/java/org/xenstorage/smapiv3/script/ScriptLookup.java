package org.xenstorage.smapiv3.script;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds {@code <plugin dir>/<Iface.method>} without regard to case, as upstream does: per directory a
 * cache maps the lower-cased name to the real file name (the byte-wise smallest wins when several
 * differ only in case); a failed check re-reads the directory once before giving up. A script whose real
 * path (symlinks resolved) leaves the plugin root is never run, as SM drivers that leave their directory.
 */
final class ScriptLookup {

    /** What the lookup found. */
    sealed interface Found {
        Path path();
    }

    record Runnable(Path path) implements Found {
    }

    record Missing(Path path) implements Found {
    }

    record NotExecutable(Path path) implements Found {
    }

    record Unreadable(Path path, String reason) implements Found {
    }

    /** A script whose real path is {@code real}, outside the plugin root. */
    record Outside(Path path, Path real) implements Found {
    }

    private final Map<Path, Map<String, String>> cache = new ConcurrentHashMap<>();
    private final Path root;

    /** @param root the plugin root every script must really live in (null: no confinement) */
    ScriptLookup(Path root) {
        this.root = root;
    }

    Found find(Path dir, String method) {
        Found first = check(dir, cachedName(dir, method));
        if (first instanceof Runnable) {
            return first;
        }
        try {
            cache.put(dir, listing(dir));
        } catch (IOException e) {
            return new Unreadable(dir.resolve(method), e.toString());
        }
        return check(dir, cachedName(dir, method));
    }

    /** Forgets a directory's names (its plugin was removed or reloaded). */
    void forget(Path dir) {
        cache.remove(dir);
    }

    private String cachedName(Path dir, String method) {
        Map<String, String> names = cache.get(dir);
        String real = names == null ? null : names.get(method.toLowerCase(Locale.ROOT));
        return real == null ? method : real;
    }

    private Found check(Path dir, String name) {
        Path path = dir.resolve(name);
        // follows symlinks: the target must be a regular file, then executable by us
        if (!Files.isRegularFile(path)) {
            return new Missing(path);
        }
        if (root != null) {
            try {
                Path real = path.toRealPath();
                if (!real.startsWith(root.toRealPath())) {
                    return new Outside(path, real);
                }
            } catch (IOException e) {
                return new Unreadable(path, e.toString());
            }
        }
        if (!Files.isExecutable(path)) {
            return new NotExecutable(path);
        }
        return new Runnable(path);
    }

    private static Map<String, String> listing(Path dir) throws IOException {
        Map<String, String> names = new TreeMap<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                String real = entry.getFileName().toString();
                names.merge(real.toLowerCase(Locale.ROOT), real, (a, b) -> a.compareTo(b) <= 0 ? a : b);
            }
        }
        return names;
    }
}
