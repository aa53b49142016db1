package org.xenstorage.daemon.smctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.smctl.ExitStatus;
import org.xenstorage.testing.Soon;

/**
 * Follow one call end to end, as an operator does with {@code journalctl | grep <dbg>}: a real daemon process in
 * embedded mode (log-level DEBUG, the example LocalfileSR driver and simplefile plugin, each with a wrapper that
 * writes a line to stderr), {@code smctl --verbose vdi-attach3} on a localfile and a simplefile VDI; the log lines
 * holding the dbg smctl printed tell the whole story (mux arrival, backend arrival, the exec with its exit status
 * and its stderr line, the mux's reply) in order, carry it in their {@code dbg=} field, and no line of another call
 * (a later call on the same SRs, threads and drivers) carries it. Run with the mux calling its backends in-process
 * and over the switch. A dbg or an SR holding a forged log line cannot start a line of its own.
 */
class CallLogIT {
    static final String PREFIX = "org.xen.xapi.storage";
    static final Pattern VERBOSE = Pattern.compile("smctl: dbg=(\\S+) \\(queue " + Pattern.quote(PREFIX) + ", ");

    @TempDir
    Path dir;
    private Process daemon;
    private Path socket;
    private Path log;

    @AfterEach
    void stopDaemon() throws Exception {
        if (daemon != null) {
            daemon.destroy();
            if (!daemon.waitFor(Soon.millis(), TimeUnit.MILLISECONDS)) {
                daemon.destroyForcibly();
                Soon.exitOf(daemon);
            }
        }
    }

    @ParameterizedTest(name = "mux-in-process={0}")
    @ValueSource(booleans = {true, false})
    void oneAttachsLogLinesAllCarryItsDbgAndNoOtherLineDoes(boolean inProcess) throws Exception {
        startDaemon(inProcess);
        String setup = "calllog-setup";
        Path lfDir = Files.createDirectories(dir.resolve("srs/lf"));
        Path sfDir = Files.createDirectories(dir.resolve("srs/sf"));
        ok("--dbg", setup, "sr-create", "--type", "localfile", "--sr", "lf", "--name-label", "lf",
                "--device-config", "location=" + lfDir, "--physical-size", "0");
        ok("--dbg", setup, "sr-attach", "--sr", "lf", "--device-config", "location=" + lfDir);
        ok("--dbg", setup, "sr-create", "--type", "simplefile", "--sr", "sf", "--name-label", "sf",
                "--device-config", "path=" + sfDir, "--physical-size", "0");
        ok("--dbg", setup, "sr-attach", "--sr", "sf", "--device-config", "path=" + sfDir);
        String lfVdi = Json.parse(ok("--dbg", setup, "--json", "vdi-create", "--sr", "lf", "--vdi-info",
                "name_label=a", "--vdi-info", "virtual_size=1M").out()).get("vdi").asText();
        String sfVdi = Json.parse(ok("--dbg", setup, "--json", "vdi-create", "--sr", "sf", "--vdi-info",
                "name_label=b", "--vdi-info", "virtual_size=1M").out()).get("vdi").asText();

        // what the operator runs: the dbg is smctl's own (not --dbg), printed by --verbose
        String lf = dbgOf(ok("--verbose", "vdi-attach3", "--dp", "dp-lf", "--sr", "lf", "--vdi", lfVdi, "--vm", "0",
                "--read-write"));
        String sf = dbgOf(ok("--verbose", "vdi-attach3", "--dp", "dp-sf", "--sr", "sf", "--vdi", sfVdi, "--vm", "0",
                "--read-write"));
        assertTrue(lf.matches("smctl-[A-Za-z0-9.-]+-[0-9a-f]{8}") && !lf.equals(sf), lf + " / " + sf);
        // later calls on the same SRs, drivers and threads, each with a dbg of its own
        String lfLater = dbgOf(ok("--verbose", "vdi-detach", "--dp", "dp-lf", "--sr", "lf", "--vdi", lfVdi,
                "--vm", "0"));
        String sfLater = dbgOf(ok("--verbose", "vdi-detach", "--dp", "dp-sf", "--sr", "sf", "--vdi", sfVdi,
                "--vm", "0"));
        // a caller trying to forge a log line through its dbg
        String forgedLine = "2026-12-03T09:00:00.000Z INFO  [mux-worker-1] o.x.d.r.MuxServer queue=" + PREFIX
                + " dbg=victim call VDI.destroy";
        assertEquals(0, smctl("--dbg", "forged\r" + forgedLine + "\n" + forgedLine, "vdi-stat", "--sr", "lf",
                "--vdi", lfVdi).status());
        // ... or through another argument the daemon logs (here: the mux's "no storage plugin for SR <sr>")
        String forgedSr = "2026-12-03T09:00:01.000Z INFO  [mux-worker-2] o.x.d.r.Mux queue=" + PREFIX + " dbg=victim x";
        assertEquals(ExitStatus.STORAGE_ERROR, smctl("--dbg", "calllog-sr", "vdi-stat", "--sr", "nosr\n" + forgedSr,
                "--vdi", lfVdi).status());
        ok("--dbg", "calllog-last", "vdi-stat", "--sr", "sf", "--vdi", sfVdi);
        Soon.await("the daemon logged the last call's reply", () -> log().stream()
                .anyMatch(l -> l.contains("dbg=calllog-last reply VDI.stat")));

        List<String> lines = log();
        String lfQueue = PREFIX + ".localfile";
        String sfQueue = PREFIX + ".simplefile";
        story(lines, lf, "localfile", lfQueue, List.of(
                Pattern.quote("queue=" + lfQueue + " dbg=" + lf + " call VDI.attach3 sr=lf vdi=" + lfVdi),
                Pattern.quote("queue=" + lfQueue + " dbg=" + lf + " datapath dp-lf on lf/" + lfVdi
                        + ": attach(RW); VDI detached -> attached  RW, SM steps [attach(RW)]"),
                "queue=" + Pattern.quote(lfQueue + " dbg=" + lf) + " exec LocalfileSR vdi_attach .*: exit 0 in \\d+ ms "
                        + "\\(pid \\d+, .*/LocalfileSR\\), 1 stderr line$",
                Pattern.quote("queue=" + lfQueue + " dbg=" + lf + " stderr: stderr-wrapper: running LocalfileSR"),
                Pattern.quote("queue=" + lfQueue + " dbg=" + lf + " reply VDI.attach3 in ")));
        story(lines, sf, "simplefile", sfQueue, List.of(
                Pattern.quote("queue=" + sfQueue + " dbg=" + sf + " call VDI.attach3 sr=sf vdi=" + sfVdi),
                Pattern.quote("queue=" + sfQueue + " dbg=" + sf + " datapath dp-sf on sf/" + sfVdi
                        + " (u0_dp_sf): attach(RW); volume detached -> attached  RW, plugin steps [attach(RW)]"),
                "queue=" + Pattern.quote(sfQueue + " dbg=" + sf) + " exec file/Datapath.attach: exit 0 in \\d+ ms "
                        + "\\(pid \\d+, .*/Datapath.attach\\), 1 stderr line$",
                Pattern.quote("queue=" + sfQueue + " dbg=" + sf + " stderr: stderr-wrapper: running Datapath.attach"),
                Pattern.quote("queue=" + sfQueue + " dbg=" + sf + " reply VDI.attach3 in ")));
        // the later calls ran on the backends' threads and drivers under their own dbg
        for (String[] later : new String[][] {{lfLater, lfQueue, "LocalfileSR vdi_detach"},
                                               {sfLater, sfQueue, "file/Datapath.detach"}}) {
            assertTrue(lines.stream().anyMatch(l -> l.contains("queue=" + later[1] + " dbg=" + later[0] + " exec "
                    + later[2])), () -> later[2] + " under " + later[0] + "\n" + String.join("\n", lines));
        }
        assertTrue(lines.stream().anyMatch(l -> l.contains("queue=" + lfQueue + " dbg=" + lfLater
                + " stderr: stderr-wrapper: running LocalfileSR")), "the later driver's stderr under its own dbg");

        for (List<String> in : List.of(lines, Files.readAllLines(dir.resolve("daemon-file.log")))) {
            assertTrue(in.stream().noneMatch(l -> l.startsWith(forgedLine)), "a dbg cannot start a log line");
            assertTrue(in.stream().noneMatch(l -> l.startsWith(forgedSr)), "an argument cannot start a log line");
            assertTrue(in.stream().anyMatch(l -> l.contains("dbg=calllog-sr no storage plugin for SR nosr\\n"
                    + forgedSr)), () -> "the argument is logged escaped\n" + String.join("\n", in));
            assertTrue(in.stream().anyMatch(l -> l.contains(" dbg=" + lf + " reply VDI.attach3 in ")), "log-file too");
        }
        assertTrue(lines.stream().anyMatch(l -> l.contains(" dbg=forged\\r" + forgedLine + " call VDI.stat sr=lf")),
                () -> "the forged dbg's log part is logged escaped, on the call's line\n" + String.join("\n", lines));
    }

    /**
     * Checks one attach's story: its lines are exactly those between the mux's arrival line and its reply line
     * that carry its dbg, each carries it in its {@code dbg=} field and on the mux's or the backend's queue, and
     * the {@code expected} lines (regular expressions found in this order) are among them. Prints the story.
     */
    private static void story(List<String> lines, String dbg, String type, String backendQueue,
                              List<String> expected) {
        String all = String.join("\n", lines);
        List<Integer> mine = IntStream.range(0, lines.size()).filter(i -> lines.get(i).contains(dbg)).boxed()
                .toList();
        int first = index(lines, "queue=" + PREFIX + " dbg=" + dbg + " call VDI.attach3 ", all);
        int last = index(lines, "queue=" + PREFIX + " dbg=" + dbg + " reply VDI.attach3 in ", all);
        assertTrue(lines.get(last).matches(".* reply VDI.attach3 in \\d+ ms: ok$"), lines.get(last));
        System.out.println("---- " + type + ": grep " + dbg);
        mine.forEach(i -> System.out.println(lines.get(i)));
        for (int i : mine) {
            String l = lines.get(i);
            assertTrue(i >= first && i <= last, () -> "a line of another call carries " + dbg + ": " + l + "\n" + all);
            assertTrue(l.contains("queue=" + PREFIX + " dbg=" + dbg + " ")
                    || l.contains("queue=" + backendQueue + " dbg=" + dbg + " "), () -> "not in its dbg field: " + l);
        }
        List<String> story = mine.stream().map(lines::get).toList();
        int at = 0;
        List<String> wanted = new ArrayList<>(expected);
        wanted.add(0, Pattern.quote("queue=" + PREFIX + " dbg=" + dbg + " call VDI.attach3 "));
        for (String regex : wanted) {
            Pattern p = Pattern.compile(".*" + regex + ".*");
            int from = at;
            int found = IntStream.range(from, story.size()).filter(i -> p.matcher(story.get(i)).matches())
                    .findFirst().orElse(-1);
            assertTrue(found >= 0, () -> "no line matching " + regex + " after line " + from + " of the story:\n"
                    + String.join("\n", story));
            at = found + 1;
        }
    }

    private static int index(List<String> lines, String part, String all) {
        int i = IntStream.range(0, lines.size()).filter(n -> lines.get(n).contains(part)).findFirst().orElse(-1);
        assertTrue(i >= 0, () -> "no line with '" + part + "':\n" + all);
        return i;
    }

    private static String dbgOf(SmctlRun run) {
        Matcher m = VERBOSE.matcher(run.err());
        assertTrue(m.find(), () -> "--verbose printed the dbg: " + run);
        return m.group(1);
    }

    private void startDaemon(boolean inProcess) throws Exception {
        Path repo = Path.of("..").toAbsolutePath().normalize();
        Path sm = dir.resolve("conf/sm");
        Path plugins = dir.resolve("conf/plugins");
        Files.createDirectories(sm.getParent());
        cp(repo.resolve("examples/sm"), sm);
        cp(repo.resolve("examples/smapiv3"), plugins);
        wrap(sm.resolve("LocalfileSR"));
        wrap(plugins.resolve("datapath/file/Datapath.attach"));
        Path state = dir.resolve("state");
        socket = state.resolve("message-switch.sock");
        log = dir.resolve("daemon.log");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        // a long-lived child the test owns until it ends (ChildProcessRunner runs children to completion)
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:TieredStopAtLevel=1",
                // the packaged logging set-up (the test classpath's logback-test.xml would win otherwise)
                "-Dlogback.configurationFile=" + repo.resolve("storage-daemon/src/main/resources/logback.xml"),
                "-cp", cp, "org.xenstorage.daemon.StorageDaemon",
                "--mode=embedded", "--state-dir=" + state, "--plugin-root=" + plugins, "--sm-dir=" + sm,
                "--log-level=DEBUG", "--mux-in-process=" + inProcess, "--log-file=" + dir.resolve("daemon-file.log"))
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().remove("NOTIFY_SOCKET");
        daemon = pb.start();
        try {
            Soon.await("the daemon serves its mux and both backends", Soon.times(2), () -> {
                if (!daemon.isAlive()) {
                    throw new AssertionError("daemon exited with " + daemon.exitValue());
                }
                return Files.exists(socket) && smctl("--dbg", "calllog-ready", "types").out()
                        .equals("localfile\nsimplefile\n");
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\n" + Files.readString(log), e);
        }
    }

    /** Puts the stderr wrapper in front of {@code script}, which becomes {@code <script>.real}. */
    private static void wrap(Path script) throws IOException {
        Files.move(script, script.resolveSibling(script.getFileName() + ".real"),
                java.nio.file.LinkOption.NOFOLLOW_LINKS);
        try (InputStream in = CallLogIT.class.getResourceAsStream("/calllog/stderr-wrapper.py")) {
            Files.copy(in, script);
        }
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private static void cp(Path from, Path to) throws Exception {
        Process p = new ProcessBuilder("cp", "-a", from.toString(), to.toString()).inheritIO().start();
        assertEquals(0, Soon.exitOf(p), "cp -a " + from + " " + to);
    }

    private List<String> log() throws IOException {
        return Files.readAllLines(log);
    }

    private SmctlRun smctl(String... args) {
        List<String> all = new ArrayList<>(List.of("--switch-path", socket.toString(),
                "--timeout", String.valueOf(Soon.seconds())));
        all.addAll(List.of(args));
        return SmctlRun.run(all.toArray(String[]::new));
    }

    private SmctlRun ok(String... args) {
        SmctlRun r = smctl(args);
        assertEquals(0, r.status(), () -> String.join(" ", args) + ": " + r + "\n--- daemon log ---\n"
                + logText());
        return r;
    }

    private String logText() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
