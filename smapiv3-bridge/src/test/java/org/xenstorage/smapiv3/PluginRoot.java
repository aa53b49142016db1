package org.xenstorage.smapiv3;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.testing.Soon;

/**
 * A plugin root for tests: {@code volume/} and {@code datapath/} in a temp dir, the shipped example
 * plugins copied in (symlinks kept), fake scripts written on demand, and one request log every script
 * appends to (named by {@code SMAPIV3_REQUEST_LOG} in the scripts' environment).
 */
final class PluginRoot {
    /** python3, found on PATH; fakes run it with -S (no site import) to start faster. */
    static final String PYTHON = findPython();
    static final Path EXAMPLES = Path.of("..", "examples", "smapiv3").toAbsolutePath().normalize();

    final Path base;
    final Path root;
    final Path volume;
    final Path datapath;
    final Path state;
    final Path requestLog;
    private int logLinesSeen;

    PluginRoot(Path tmp) throws IOException {
        this.base = tmp;
        this.root = Files.createDirectories(tmp.resolve("root"));
        this.volume = Files.createDirectories(root.resolve("volume"));
        this.datapath = Files.createDirectories(root.resolve("datapath"));
        this.state = tmp.resolve("state");
        this.requestLog = tmp.resolve("requests.log");
    }

    private static String findPython() {
        // a real interpreter, not a version-manager shim (those are shell scripts, slow to start)
        for (String dir : ("/usr/bin:" + System.getenv().getOrDefault("PATH", "")).split(":")) {
            Path p = Path.of(dir, "python3");
            if (dir.contains("shims")) {
                continue;
            }
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return "/usr/bin/python3";
    }

    Map<String, String> environment() {
        Map<String, String> env = new java.util.HashMap<>();
        env.put("PATH", Path.of(PYTHON).getParent() + ":/usr/bin:/bin:" + System.getenv().getOrDefault("PATH", ""));
        env.put("SMAPIV3_REQUEST_LOG", requestLog.toString());
        return env;
    }

    Smapiv3Config config() {
        // scripts that should answer must not be timed out because the machine is busy
        return Smapiv3Config.of(root, state).withScriptTimeout(Soon.timeout()).withMaxConcurrent(4);
    }

    Smapiv3Bridge start() {
        return Smapiv3Bridge.start(config(), null, environment());
    }

    Path copyExamples() throws IOException {
        copyTree(EXAMPLES.resolve("volume"), volume);
        copyTree(EXAMPLES.resolve("datapath"), datapath);
        return volume.resolve("org.xen.xapi.storage.simplefile");
    }

    static void copyTree(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Files.createDirectories(to.resolve(from.relativize(dir).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (file.getFileName().toString().equals("__pycache__")) {
                    return FileVisitResult.CONTINUE;
                }
                Path target = to.resolve(from.relativize(file).toString());
                if (Files.isSymbolicLink(file)) {
                    Files.createSymbolicLink(target, Files.readSymbolicLink(file));
                } else {
                    Files.copy(file, target, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES,
                            LinkOption.NOFOLLOW_LINKS);
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }

    static void deleteTree(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /**
     * Writes an executable fake script: Python 3 that logs its argv and stdin to the request log, then
     * runs {@code body} (which sees {@code args}, the parsed stdin, and prints the result).
     */
    static Path fake(Path dir, String name, String body) throws IOException {
        Files.createDirectories(dir);
        String text = "#!" + PYTHON + " -S\n"
                + "import json, os, sys, time, signal\n"
                + "raw = sys.stdin.read()\n"
                + "log = os.environ.get('SMAPIV3_REQUEST_LOG')\n"
                + "if log:\n"
                + "    with open(log, 'a') as f:\n"
                + "        f.write(json.dumps({'script': os.path.basename(sys.argv[0]), 'argv': sys.argv,"
                + " 'stdin': raw}) + '\\n')\n"
                + "args = json.loads(raw) if raw else None\n"
                + body + "\n";
        Path p = dir.resolve(name);
        Files.writeString(p, text, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return p;
    }

    /** A fake printing a fixed JSON value. */
    static Path fakePrinting(Path dir, String name, String json) throws IOException {
        return fake(dir, name, "print(" + pyString(json) + ")");
    }

    static String pyString(String s) {
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    /** One logged script run. */
    record Request(String script, List<String> argv, String stdin) {
        JsonNode json() {
            try {
                return Json.parse(stdin);
            } catch (IOException e) {
                throw new AssertionError("stdin is not JSON: " + stdin, e);
            }
        }
    }

    /** The script runs logged since the last call. */
    List<Request> newRequests() throws IOException {
        List<Request> out = new ArrayList<>();
        if (!Files.exists(requestLog)) {
            return out;
        }
        List<String> lines = Files.readAllLines(requestLog);
        for (String line : lines.subList(logLinesSeen, lines.size())) {
            JsonNode n = Json.parse(line);
            List<String> argv = new ArrayList<>();
            n.get("argv").forEach(a -> argv.add(a.asText()));
            out.add(new Request(n.get("script").asText(), argv, n.get("stdin").asText()));
        }
        logLinesSeen = lines.size();
        return out;
    }
}
