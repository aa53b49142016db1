package org.xenstorage.smapiv1.wrapper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.exec.ProcessTree;
import org.xenstorage.idl.types.DpStat;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.idl.automaton.VdiAutomaton;
import org.xenstorage.testing.Soon;

/**
 * {@code kill -9} of a real backend process (the shipped example driver, the embedded XenAPI catalogue, the
 * translation under the state wrapper) in each window of a VDI lifecycle: just before and just after each of
 * SM attach, activate, deactivate, detach, and between steps. After the restart, the driver's own attach
 * ledger is compared with the backend's persisted state:
 * <ul>
 *   <li>at once: the state covers the ledger (whatever the driver holds, the state records; no leak).
 *       It equals the ledger except where the recorded upper bound is above what the driver did: before
 *       an attach/activate ran, or after a deactivate/detach ran;</li>
 *   <li>after the caller retries the interrupted call and finishes the lifecycle, or destroys the
 *       datapath: the ledger equals the state after every step, and nothing is left attached.</li>
 * </ul>
 * One process chain: each restarted process checks the previous crash, then runs the next scenario on a
 * fresh VDI of the same SR until it is killed in turn.
 */
class BackendKillIT {
    static final String[] STEPS = {"attach", "activate", "deactivate", "detach"};
    static final String[] RPC = {"VDI.attach3", "VDI.activate3", "VDI.deactivate", "VDI.detach"};

    @TempDir
    Path tmp;
    Child child;

    @AfterEach
    void killLeftovers() throws Exception {
        if (child != null) {
            child.kill();
        }
    }

    static final class Child {
        final Process process;
        final BufferedReader out;
        final Writer in;
        final String smDir;

        Child(Path smDir, Path stateDir, Path log) throws IOException {
            this.smDir = smDir.toString();
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-XX:TieredStopAtLevel=1",
                    "-D" + Soon.PROPERTY + "=" + Soon.seconds(), "-cp",
                    System.getProperty("java.class.path"), CrashableBackendMain.class.getName(), smDir.toString(),
                    stateDir.toString());
            pb.redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
            process = pb.start();
            out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            assertEquals("READY", line());
        }

        String line() throws IOException {
            String l = out.readLine();
            if (l == null) {
                throw new IOException("backend process ended");
            }
            return l;
        }

        void send(String command) throws IOException {
            in.write(command + "\n");
            in.flush();
        }

        /** Runs a command that must succeed; returns its value. */
        String ok(String command) throws IOException {
            send(command);
            String l = line();
            assertTrue(l.startsWith("OK"), command + " -> " + l);
            return l.length() > 3 ? l.substring(3) : "";
        }

        /** Sends a command armed to hold, waits until the process is held in the window, then kills it. */
        void killDuring(String command, String phase, String rpc) throws Exception {
            ok("arm " + phase + " " + rpc);
            send(command);
            assertEquals("HELD " + phase + " " + rpc, line());
            kill();
        }

        /**
         * {@code kill -9} of the backend JVM and of every process it started (a driver subprocess still
         * running), as systemd's default KillMode=control-group ends the whole cgroup on a host; returns once
         * all of them are gone, so nothing writes the driver's ledger after this returns.
         *
         * @return how many processes besides the JVM were killed
         */
        int kill() throws IOException, InterruptedException {
            // ProcessTree freezes the tree before it kills it, so a driver spawn the JVM began after a listing
            // cannot leave an orphan (a jspawnhelper, whose argv does not name the SM dir) that execs the driver
            // after the search for strays below. Through the handle, unlike Process.destroyForcibly, the process's
            // stdout stays readable: what it answered before it died can still be read.
            List<ProcessHandle> victims = new ArrayList<>(ProcessTree.kill(process.toHandle()));
            int others = victims.size();
            Soon.exitOf(process);
            // a process of this test's driver that left the tree (re-parented when its parent exited) is found
            // by its argv, which names this test's own driver copy
            List<ProcessHandle> strays = ProcessHandle.allProcesses()
                    .filter(p -> !victims.contains(p) && namesSmDir(p) && !ProcessTree.gone(p)).toList();
            for (ProcessHandle stray : strays) {
                victims.addAll(ProcessTree.kill(stray));
            }
            victims.addAll(strays);
            others += strays.size();
            assertTrue(ProcessTree.awaitGone(victims, Soon.timeout()), "a process survived SIGKILL");
            return others;
        }

        private boolean namesSmDir(ProcessHandle p) {
            return p.pid() != ProcessHandle.current().pid() && p.info().arguments()
                    .map(args -> java.util.Arrays.stream(args).anyMatch(a -> a.startsWith(smDir))).orElse(false);
        }
    }

    Path smDir;
    Path stateDir;
    Path location;
    String sr;

    private Child start() throws IOException {
        child = new Child(smDir, stateDir, tmp.resolve("backend.log"));
        return child;
    }

    /** The ledger's view of one VDI, as a superstate text ("detached", "attached  RW", "activated RO"). */
    private String ledger(String vdi) throws IOException {
        Path file = location.resolve(".attach-ledger.json");
        if (!Files.exists(file)) {
            return "detached";
        }
        JsonNode e = Json.MAPPER.readTree(file.toFile()).get(vdi);
        if (e == null || !e.get("attached").asBoolean()) {
            return "detached";
        }
        String mode = e.get("mode").asText().toUpperCase(java.util.Locale.ROOT);
        return e.get("activated").asBoolean() ? "activated " + mode : "attached  " + mode;
    }

    private DpStat stat(Child c, String vdi) throws IOException {
        return WireCodec.fromJson(c.ok("stat " + sr + " " + vdi), DpStat.class);
    }

    private String state(Child c, String vdi) throws IOException {
        return VdiAutomaton.text(stat(c, vdi).superstate());
    }

    private static String rank(String s) {
        return s.startsWith("activated") ? "2" : s.startsWith("attached") ? "1" : "0";
    }

    private String command(int step, String vdi) {
        return STEPS[step] + " dp-" + vdi + " " + sr + " " + vdi + (step == 0 ? " true" : "");
    }

    record Scenario(int step, String phase, boolean destroyAfter) {
    }

    @Test
    void killNineInEveryWindowNeverLeaksAnAttach() throws Exception {
        smDir = tmp.resolve("sm");
        stateDir = tmp.resolve("state");
        location = tmp.resolve("sr");
        sr = UUID.randomUUID().toString();
        Files.createDirectories(smDir);
        Path driver = smDir.resolve("LocalfileSR");
        Files.copy(locate("examples/sm/LocalfileSR"), driver, StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(driver, PosixFilePermissions.fromString("rwxr-xr-x"));

        List<Scenario> scenarios = new ArrayList<>();
        for (int step = 0; step < STEPS.length; step++) {
            scenarios.add(new Scenario(step, "before", false));
            scenarios.add(new Scenario(step, "after", false));
        }
        scenarios.add(new Scenario(0, "after", true));
        scenarios.add(new Scenario(1, "after", true));
        scenarios.add(new Scenario(1, "between", true)); // killed after activate completed

        Child c = start();
        c.ok("sr-create " + sr + " " + location);
        c.ok("sr-attach " + sr + " " + location);
        String previousVdi = null;
        Scenario previous = null;
        for (Scenario sc : scenarios) {
            if (previous != null) {
                c = start();
                checkAfterRestart(c, previous, previousVdi);
            }
            String vdi = c.ok("vdi-create " + sr + " crash-" + sc.step() + "-" + sc.phase());
            for (int i = 0; i < sc.step(); i++) {
                c.ok(command(i, vdi));
            }
            if (sc.phase().equals("between")) {
                c.ok(command(sc.step(), vdi));
                c.kill();
            } else {
                c.killDuring(command(sc.step(), vdi), sc.phase(), RPC[sc.step()]);
            }
            previous = sc;
            previousVdi = vdi;
        }
        c = start();
        checkAfterRestart(c, previous, previousVdi);
        c.send("");
        c.in.close();
        Soon.exitOf(c.process);
        child = null;
    }

    private void checkAfterRestart(Child c, Scenario sc, String vdi) throws Exception {
        String recorded = state(c, vdi);
        String held = ledger(vdi);
        String where = "after a kill " + sc.phase() + " SM " + STEPS[sc.step()] + ": ";
        // no leak: the state records at least what the driver holds, in the driver's mode
        assertTrue(rank(recorded).compareTo(rank(held)) >= 0, where + "state " + recorded + " < driver " + held);
        if (!held.equals("detached")) {
            assertEquals(held.substring(held.length() - 2), recorded.substring(recorded.length() - 2), where);
        }
        // the state is exactly the driver's when the window is not in doubt for what the state records:
        // the upper bound is the post-state of attach/activate and the pre-state of deactivate/detach
        boolean bringsUp = sc.step() < 2;
        if (sc.phase().equals("between") || sc.phase().equals("after") == bringsUp) {
            assertEquals(held, recorded, where + "state and driver ledger differ");
        }
        if (sc.destroyAfter()) {
            c.ok("destroy dp-" + vdi + " " + sr + " " + vdi);
            assertEquals("detached", ledger(vdi), where + "destroy left the driver attached");
            assertEquals(new DpStat(DpState.DETACHED, java.util.Map.of()), stat(c, vdi));
            return;
        }
        // the caller retries the interrupted call, then finishes the lifecycle
        for (int i = sc.step(); i < STEPS.length; i++) {
            c.ok(command(i, vdi));
            assertEquals(ledger(vdi), state(c, vdi), where + "after " + STEPS[i]);
        }
        assertEquals("detached", ledger(vdi));
    }

    /** {@code relative} under the nearest directory up from the working directory that has it (the repo root). */
    static Path locate(String relative) {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            if (Files.exists(dir.resolve(relative))) {
                return dir.resolve(relative);
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException(relative + " not found");
    }
}
