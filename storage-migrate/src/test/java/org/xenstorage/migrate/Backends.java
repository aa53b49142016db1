package org.xenstorage.migrate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.types.Backend;
import org.xenstorage.idl.types.Implementation;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.smapiv1.Smapiv1Backend;
import org.xenstorage.smapiv1.Smapiv1Config;
import org.xenstorage.smapiv3.Smapiv3Bridge;
import org.xenstorage.smapiv3.Smapiv3Config;
import org.xenstorage.testing.Soon;

/**
 * The real backends for the end-to-end copy tests, started in-process on a temp directory with the
 * example driver/plugins shipped in the repository: two SMAPIv3 SRs ({@code v3a}, {@code v3b}) on the
 * {@code simplefile} plugin, two SMAPIv1 SRs ({@code v1a}, {@code v1b}) on {@code LocalfileSR}.
 */
final class Backends implements AutoCloseable {
    /** What a test does with an attached VDI's path. */
    interface PathUser {
        void use(Path path) throws Exception;
    }

    /** One SR and what the tests need to know about its backend. */
    abstract static class Sr {
        private final String name;
        private final StorageService service;
        final Path dir;

        Sr(String name, StorageService service, Path dir) {
            this.name = name;
            this.service = service;
            this.dir = dir;
        }

        String name() {
            return name;
        }

        StorageService service() {
            return service;
        }

        Set<String> vdiKeys() {
            Set<String> keys = new TreeSet<>();
            service.sr().scan2("t", name).vdis().forEach(v -> keys.add(v.vdi()));
            return keys;
        }

        /** Attaches (and activates) the VDI on a fresh datapath, hands its path over, tears down. */
        void withPath(String vdi, boolean rw, PathUser user) throws Exception {
            String dp = "test-" + UUID.randomUUID();
            Backend b = service.vdi().attach3("t", dp, name, vdi, "0", rw);
            try {
                service.vdi().activate3("t", dp, name, vdi, "0");
                // LocalfileSR hands out its image as a "BlockDevice" (SMAPIv1 params), simplefile as a File
                Path p = b.implementations().stream().map(i -> i instanceof Implementation.File f ? f.value().path()
                                : i instanceof Implementation.BlockDevice d ? d.value().path() : null)
                        .filter(java.util.Objects::nonNull).map(Path::of).findFirst().orElseThrow();
                user.use(p);
            } finally {
                service.dp().destroy2("t", dp, name, vdi, "0", false);
            }
        }

        /** The backend has no datapath left on this VDI. */
        abstract void assertNothingAttached(String vdi) throws Exception;

        /** The backend has no datapath left on any VDI of this SR. */
        abstract void assertNoAttachLeft() throws Exception;

        /** Makes every later VDI call on this SR fail inside the backend. */
        abstract void breakIt() throws IOException;

        abstract void repair() throws IOException;
    }

    private final Smapiv3Bridge bridge;
    private final Smapiv1Backend v1backend;
    private final Path requestLog;
    private final Map<String, Sr> srs = new LinkedHashMap<>();

    private Backends(Smapiv3Bridge bridge, Smapiv1Backend v1backend, Path requestLog) {
        this.bridge = bridge;
        this.v1backend = v1backend;
        this.requestLog = requestLog;
    }

    static Backends start(Path tmp) throws IOException {
        Path root = Files.createDirectories(tmp.resolve("v3root"));
        Path examples = locate("examples/smapiv3");
        copyTree(examples.resolve("volume"), Files.createDirectories(root.resolve("volume")));
        copyTree(examples.resolve("datapath"), Files.createDirectories(root.resolve("datapath")));
        Path log = tmp.resolve("v3-requests.log");
        Map<String, String> env = new HashMap<>();
        env.put("PATH", "/usr/bin:/bin");
        env.put("SMAPIV3_REQUEST_LOG", log.toString());
        Smapiv3Bridge bridge = Smapiv3Bridge.start(Smapiv3Config.of(root, tmp.resolve("v3state"))
                .withScriptTimeout(Soon.timeout()).withMaxConcurrent(4), null, env);
        Path smDir = Files.createDirectories(tmp.resolve("sm"));
        Path driver = smDir.resolve("LocalfileSR");
        Files.copy(locate("examples/sm/LocalfileSR"), driver);
        Files.setPosixFilePermissions(driver, PosixFilePermissions.fromString("rwxr-xr-x"));
        Smapiv1Backend v1backend = Smapiv1Backend.start(new Smapiv1Config(smDir, tmp.resolve("v1state"),
                "org.xen.xapi.storage", Soon.timeout(), 8, Optional.empty()), null,
                Smapiv1Backend.Options.defaults());
        Backends b = new Backends(bridge, v1backend, log);
        StorageService v1 = v1backend.serviceFor("localfile");
        for (String name : List.of("v1a", "v1b")) {
            Path dir = tmp.resolve("sr-" + name);
            Map<String, String> config = Map.of("location", dir.toString());
            v1.sr().create("t", name, name, "", config, 0);
            v1.sr().attach("t", name, config);
            b.srs.put(name, b.new V1Sr(name, v1, dir));
        }
        String plugin = bridge.plugins().stream().filter(p -> p.contains("simplefile")).findFirst().orElseThrow(
                () -> new IllegalStateException("simplefile plugin not served: " + bridge.plugins()));
        StorageService v3 = bridge.serviceFor(plugin);
        for (String name : List.of("v3a", "v3b")) {
            Path dir = tmp.resolve("sr-" + name);
            Map<String, String> config = v3.sr().create("t", name, name, "", Map.of("path", dir.toString()), 0);
            v3.sr().attach("t", name, config);
            b.srs.put(name, b.new V3Sr(name, v3, dir));
        }
        return b;
    }

    List<Sr> srs() {
        return new ArrayList<>(srs.values());
    }

    Sr sr(String name) {
        return srs.get(name);
    }

    @Override
    public void close() {
        bridge.close();
        v1backend.close();
    }

    /** A LocalfileSR SR: the wrapper's DP.stat_vdi and the driver's own attach ledger must agree. */
    final class V1Sr extends Sr {
        V1Sr(String name, StorageService service, Path dir) {
            super(name, service, dir);
        }

        @Override
        void assertNothingAttached(String vdi) throws IOException {
            assertEquals(Map.of(), service().dp().statVdi("t", name(), vdi).dps(), "wrapper datapaths on " + vdi);
            JsonNode entry = Json.parse(Files.readString(dir.resolve(".attach-ledger.json"))).path(vdi);
            assertTrue(entry.isObject(), "the driver saw " + vdi + " attached at some point");
            assertEquals(false, entry.path("attached").asBoolean(true), "driver ledger of " + vdi + ": " + entry);
            assertEquals(false, entry.path("activated").asBoolean(true), "driver ledger of " + vdi + ": " + entry);
        }

        @Override
        void assertNoAttachLeft() throws IOException {
            Path ledger = dir.resolve(".attach-ledger.json");
            if (!Files.exists(ledger)) {
                return;
            }
            Json.parse(Files.readString(ledger)).fields().forEachRemaining(e -> {
                assertEquals(false, e.getValue().path("attached").asBoolean(true), "ledger " + e);
                assertEquals(false, e.getValue().path("activated").asBoolean(true), "ledger " + e);
            });
        }

        @Override
        void breakIt() throws IOException {
            Files.move(dir, dir.resolveSibling(dir.getFileName() + ".broken"));
        }

        @Override
        void repair() throws IOException {
            Files.move(dir.resolveSibling(dir.getFileName() + ".broken"), dir);
        }
    }

    /** A simplefile SR: datapath activity is read from the request log every plugin script appends to. */
    final class V3Sr extends Sr {
        V3Sr(String name, StorageService service, Path dir) {
            super(name, service, dir);
        }

        /** uri -> attach count minus detach count, and activate minus deactivate, from the request log. */
        private Map<String, int[]> balance() throws IOException {
            Map<String, int[]> out = new HashMap<>();
            if (!Files.exists(requestLog)) {
                return out;
            }
            for (String line : Files.readAllLines(requestLog)) {
                JsonNode n = Json.parse(line);
                String script = n.get("script").asText();
                if (!script.startsWith("datapath/")) {
                    continue;
                }
                String uri = Json.parse(n.get("stdin").asText()).path("uri").asText();
                int[] c = out.computeIfAbsent(uri, k -> new int[2]);
                if (script.endsWith("Datapath.attach")) {
                    c[0]++;
                } else if (script.endsWith("Datapath.detach")) {
                    c[0]--;
                } else if (script.endsWith("Datapath.activate") || script.endsWith("Datapath.activate_readonly")) {
                    c[1]++;
                } else if (script.endsWith("Datapath.deactivate")) {
                    c[1]--;
                }
            }
            return out;
        }

        @Override
        void assertNothingAttached(String vdi) throws IOException {
            balance().forEach((uri, c) -> {
                if (uri.endsWith("/" + vdi + ".raw")) {
                    assertEquals(0, c[0], "attach/detach balance of " + uri);
                    assertEquals(0, c[1], "activate/deactivate balance of " + uri);
                }
            });
            assertTrue(balance().keySet().stream().anyMatch(u -> u.endsWith("/" + vdi + ".raw")),
                    "the log shows datapath calls for " + vdi);
        }

        @Override
        void assertNoAttachLeft() throws IOException {
            balance().forEach((uri, c) -> {
                if (uri.startsWith("file://" + dir)) {
                    assertEquals(0, c[0], "attach/detach balance of " + uri);
                    assertEquals(0, c[1], "activate/deactivate balance of " + uri);
                }
            });
        }

        @Override
        void breakIt() throws IOException {
            Files.move(dir.resolve("sr.json"), dir.resolve("sr.json.broken"));
        }

        @Override
        void repair() throws IOException {
            Files.move(dir.resolve("sr.json.broken"), dir.resolve("sr.json"));
        }
    }

    static Path locate(String relative) {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            Path p = dir.resolve(relative);
            if (Files.exists(p)) {
                return p;
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException(relative + " not found above " + Path.of("").toAbsolutePath());
    }

    static void copyTree(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                if (d.getFileName().toString().equals("__pycache__")) {
                    return FileVisitResult.SKIP_SUBTREE;
                }
                Files.createDirectories(to.resolve(from.relativize(d).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Path target = to.resolve(from.relativize(file).toString());
                if (Files.isSymbolicLink(file)) {
                    Files.createSymbolicLink(target, Files.readSymbolicLink(file));
                } else {
                    Files.copy(file, target, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
