package org.xenstorage.smapiv1.wrapper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.idl.types.DpStat;
import org.xenstorage.idl.wire.Json;
import org.xenstorage.idl.wire.WireCodec;
import org.xenstorage.idl.automaton.VdiAutomaton;
import org.xenstorage.testing.Soon;

/**
 * The crash suite (issue 8, item 1): random SMAPIv2 sequences (VDI.attach3 RO/RW, activate3, deactivate,
 * detach, DP.destroy, SR.detach + SR.attach) over several VDIs of one LocalfileSR, run by a real backend
 * process ({@link CrashableBackendMain}: the example driver exec'd by the real {@code Smapiv1Backend}, under the
 * state {@link Wrapper}); each sequence ends with {@code kill -9} of that process and of any driver subprocess
 * it is running, in one of three modes: in a chosen SM-call window (held just before / just after an SM call,
 * including the SM calls made by DP.destroy and SR.detach teardown), at a random wall-clock delay after the
 * last call was sent (0 to twice that kind of call's mean duration so far), or between two calls. Once every
 * killed process is gone, a new process is started on the same state directory, and:
 * <ul>
 *   <li>for every VDI not touched by the interrupted call: driver ledger == model == backend's persisted
 *       state;</li>
 *   <li>for the VDIs of the interrupted call (in doubt): the persisted state covers the ledger (no leak: rank
 *       and mode) and is at most the maximum of the call's pre- and post-state (docs/smapiv1-state.md);</li>
 *   <li>the caller retries the interrupted call; it succeeds, and then ledger == persisted state for
 *       every VDI;</li>
 * </ul>
 * At the end everything is torn down (DP.destroy of every datapath, SR.detach) and the ledger holds no
 * attached or activated VDI. Sizes: {@code -Dreliability.full=true} runs 500 sequences (CI: 20);
 * {@code -Dreliability.crash.sequences=N} and {@code -Dreliability.seed=S} override. The seed is printed
 * and is in every assertion message.
 */
class CrashSuiteIT {
    static final boolean FULL = Boolean.getBoolean("reliability.full");
    static final int SEQUENCES = Integer.getInteger("reliability.crash.sequences", FULL ? 500 : 20);
    static final int VDIS = 4;

    @TempDir
    Path tmp;
    BackendKillIT.Child child;
    Path smDir;
    Path stateDir;
    Path location;
    String sr;
    long seed;

    /** The model: per VDI, level 0 detached / 1 attached / 2 activated, its mode and datapath. */
    static final class Vdi {
        final String uuid;
        int level;
        String mode = "";
        String dp;
        int generation;

        Vdi(String uuid) {
            this.uuid = uuid;
            this.dp = "dp-" + uuid + "-0";
        }

        String text() {
            return level == 0 ? "detached" : (level == 2 ? "activated " : "attached  ") + mode;
        }
    }

    /** One SMAPIv2 call of a sequence. */
    record Op(String kind, Vdi vdi, boolean rw) {
    }

    /** Per kind of op: total nanoseconds and count of completed calls, for the random delays. */
    final Map<String, long[]> durations = new java.util.HashMap<>();

    @AfterEach
    void killLeftovers() throws Exception {
        if (child != null) {
            child.kill();
        }
    }

    private BackendKillIT.Child start() throws IOException {
        child = new BackendKillIT.Child(smDir, stateDir, tmp.resolve("backend.log"));
        return child;
    }

    private JsonNode ledgerEntry(String vdi) throws IOException {
        Path file = location.resolve(".attach-ledger.json");
        return Files.exists(file) ? Json.MAPPER.readTree(file.toFile()).get(vdi) : null;
    }

    private String ledger(String vdi) throws IOException {
        JsonNode e = ledgerEntry(vdi);
        if (e == null || !e.get("attached").asBoolean()) {
            return "detached";
        }
        String mode = e.get("mode").asText().toUpperCase(Locale.ROOT);
        return e.get("activated").asBoolean() ? "activated " + mode : "attached  " + mode;
    }

    private String state(BackendKillIT.Child c, String vdi) throws IOException {
        DpStat stat = WireCodec.fromJson(c.ok("stat " + sr + " " + vdi), DpStat.class);
        return VdiAutomaton.text(stat.superstate());
    }

    /** True if the process's persisted state has the SR attached (false only after a completed SR.detach). */
    private boolean srAttached(BackendKillIT.Child c, String vdi) throws IOException {
        c.send("stat " + sr + " " + vdi);
        String l = c.line();
        assertTrue(l.startsWith("OK") || l.contains("Sr_not_attached"), "stat -> " + l);
        return l.startsWith("OK");
    }

    /** The mean duration of the completed calls of this kind so far (of all kinds if none yet), in ms. */
    private long typicalMillis(String kind) {
        long[] d = durations.get(kind);
        if (d == null) {
            d = durations.values().stream().reduce(new long[2], (a, b) -> new long[]{a[0] + b[0], a[1] + b[1]});
        }
        return d[1] == 0 ? 200 : TimeUnit.NANOSECONDS.toMillis(d[0] / d[1]);
    }

    private static int rank(String s) {
        return s.startsWith("activated") ? 2 : s.startsWith("attached") ? 1 : 0;
    }

    private String command(Op op) {
        Vdi v = op.vdi();
        return switch (op.kind()) {
            case "attach" -> "attach " + v.dp + " " + sr + " " + v.uuid + " " + op.rw();
            case "activate", "deactivate", "detach", "destroy" -> op.kind() + " " + v.dp + " " + sr + " " + v.uuid;
            default -> throw new IllegalArgumentException(op.kind());
        };
    }

    /** Runs an op to success, timing it, and updates the model. */
    private void run(BackendKillIT.Child c, Op op, List<Vdi> vdis) throws IOException {
        long start = System.nanoTime();
        apply(c, op, vdis, false);
        long[] d = durations.computeIfAbsent(op.kind(), k -> new long[2]);
        d[0] += System.nanoTime() - start;
        d[1]++;
    }

    /**
     * Runs an op to success (the SR.detach op is SR.detach then SR.attach) and updates the model. A retry
     * after a kill accepts {@code Sr_not_attached} from its SR.detach: the interrupted attempt's SR.detach
     * had completed.
     */
    private void apply(BackendKillIT.Child c, Op op, List<Vdi> vdis, boolean retry) throws IOException {
        if (op.kind().equals("sr-detach")) {
            c.send("sr-detach " + sr);
            String l = c.line();
            assertTrue(l.startsWith("OK") || retry && l.contains("Sr_not_attached"), "sr-detach -> " + l);
            c.ok("sr-attach " + sr + " " + location);
            for (Vdi v : vdis) {
                if (v.level > 0) {
                    down(v);
                }
            }
            return;
        }
        c.ok(command(op));
        Vdi v = op.vdi();
        switch (op.kind()) {
            case "attach" -> {
                v.level = 1;
                v.mode = op.rw() ? "RW" : "RO";
            }
            case "activate" -> v.level = 2;
            case "deactivate" -> v.level = 1;
            case "detach" -> {
                v.level = 0;
                v.mode = "";
            }
            case "destroy" -> down(v);
            default -> throw new IllegalArgumentException(op.kind());
        }
    }

    /** A destroyed datapath: the VDI is down and the next attach uses a new datapath name. */
    private static void down(Vdi v) {
        v.level = 0;
        v.mode = "";
        v.generation++;
        v.dp = "dp-" + v.uuid + "-" + v.generation;
    }

    /** A random valid next op. */
    private static Op next(Random rnd, List<Vdi> vdis) {
        if (rnd.nextInt(12) == 0) {
            return new Op("sr-detach", null, false);
        }
        Vdi v = vdis.get(rnd.nextInt(vdis.size()));
        return switch (v.level) {
            case 0 -> new Op("attach", v, rnd.nextInt(3) != 0);
            case 1 -> new Op(rnd.nextBoolean() ? "activate" : rnd.nextBoolean() ? "detach" : "destroy", v, false);
            default -> new Op(rnd.nextInt(3) != 0 ? "deactivate" : "destroy", v, false);
        };
    }

    /** The SM call in which the process can be held for this op, or null if it makes none. */
    private static String window(Op op, List<Vdi> vdis) {
        return switch (op.kind()) {
            case "attach" -> "VDI.attach3";
            case "activate" -> "VDI.activate3";
            case "deactivate" -> "VDI.deactivate";
            case "detach" -> "VDI.detach";
            case "destroy" -> op.vdi().level == 2 ? "VDI.deactivate" : "VDI.detach";
            case "sr-detach" -> vdis.stream().anyMatch(v -> v.level > 0) ? "VDI.detach" : null;
            default -> null;
        };
    }

    /** The VDIs whose state an interrupted op leaves in doubt, with the maximum rank allowed for each. */
    private static Map<Vdi, Integer> inDoubt(Op op, List<Vdi> vdis) {
        Map<Vdi, Integer> m = new LinkedHashMap<>();
        if (op.kind().equals("sr-detach")) {
            vdis.stream().filter(v -> v.level > 0).forEach(v -> m.put(v, v.level));
        } else {
            int post = switch (op.kind()) {
                case "attach", "deactivate" -> 1;
                case "activate" -> 2;
                default -> 0;
            };
            m.put(op.vdi(), Math.max(op.vdi().level, post));
        }
        return m;
    }

    @Test
    void randomSequencesWithKillNineNeverLoseOrLeakAnAttach() throws Exception {
        seed = Long.getLong("reliability.seed", System.nanoTime());
        System.out.println("CrashSuiteIT seed=" + seed + " sequences=" + SEQUENCES
                + " (rerun with -Dreliability.seed=" + seed + ")");
        Random rnd = new Random(seed);
        smDir = tmp.resolve("sm");
        stateDir = tmp.resolve("state");
        location = tmp.resolve("sr");
        sr = UUID.randomUUID().toString();
        Files.createDirectories(smDir);
        Path driver = smDir.resolve("LocalfileSR");
        Files.copy(BackendKillIT.locate("examples/sm/LocalfileSR"), driver, StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(driver, PosixFilePermissions.fromString("rwxr-xr-x"));

        BackendKillIT.Child c = start();
        c.ok("sr-create " + sr + " " + location);
        c.ok("sr-attach " + sr + " " + location);
        List<Vdi> vdis = new ArrayList<>();
        for (int i = 0; i < VDIS; i++) {
            vdis.add(new Vdi(c.ok("vdi-create " + sr + " crash-" + i)));
        }
        int calls = 0;
        int heldKills = 0;
        int randomKills = 0;
        int randomDriverKilled = 0;
        int randomAnswered = 0;
        int betweenKills = 0;
        int inDoubtSeen = 0;
        for (int seq = 0; seq < SEQUENCES; seq++) {
            String where = "seed " + seed + ", sequence " + seq + ": ";
            int length = rnd.nextInt(6);
            for (int i = 0; i < length; i++) {
                run(c, next(rnd, vdis), vdis);
                calls++;
            }
            Op last = next(rnd, vdis);
            String rpc = window(last, vdis);
            Map<Vdi, Integer> doubt = Map.of();
            // 1/3 each of window, random and between when the op makes an SM VDI call, else 1/2 random
            int mode = rpc != null ? rnd.nextInt(3) : 1 + rnd.nextInt(2);
            String cmd = last.kind().equals("sr-detach") ? "sr-detach " + sr : command(last);
            if (mode == 0) {
                String phase = rnd.nextBoolean() ? "before" : "after";
                doubt = inDoubt(last, vdis);
                c.killDuring(cmd, phase, rpc);
                heldKills++;
                where += "killed " + phase + " SM " + rpc + " in " + last.kind() + ": ";
            } else if (mode == 1) {
                long delay = (long) (rnd.nextDouble() * 2 * typicalMillis(last.kind()));
                doubt = inDoubt(last, vdis);
                c.send(cmd);
                if (last.kind().equals("sr-detach")) {
                    c.send("sr-attach " + sr + " " + location); // the whole op is in flight, as in run()
                }
                Thread.sleep(delay);
                int drivers = c.kill();
                randomKills++;
                randomDriverKilled += drivers > 0 ? 1 : 0;
                // what the process answered before it died: whether the kill landed after the whole op
                int answered = 0;
                for (String l = c.out.readLine(); l != null; l = c.out.readLine()) {
                    assertTrue(l.startsWith("OK"), where + cmd + " -> " + l);
                    answered++;
                }
                boolean complete = answered == (last.kind().equals("sr-detach") ? 2 : 1);
                randomAnswered += complete ? 1 : 0;
                where += "killed " + delay + " ms into " + last.kind() + " (" + drivers + " driver process(es) killed, "
                        + (complete ? "after its answer" : "before its answer") + "): ";
                System.out.println("CrashSuiteIT " + where + "mean " + last.kind() + " " + typicalMillis(last.kind())
                        + " ms");
            } else {
                run(c, last, vdis);
                calls++;
                last = null;
                c.kill();
                betweenKills++;
                where += "killed between calls: ";
            }
            c = start();
            // only a random kill after a completed SR.detach (before SR.attach) leaves the SR detached
            boolean srUp = srAttached(c, vdis.get(0).uuid);
            assertTrue(srUp || last != null && last.kind().equals("sr-detach") && mode == 1,
                    where + "SR not attached in the persisted state");
            for (Vdi v : vdis) {
                String held = ledger(v.uuid);
                String recorded = srUp ? state(c, v.uuid) : "detached";
                String at = where + "VDI " + v.uuid + " ";
                assertTrue(rank(recorded) >= rank(held), at + "state " + recorded + " < driver " + held + " (leak)");
                if (rank(held) > 0) {
                    assertEquals(held.substring(held.length() - 2), recorded.substring(recorded.length() - 2),
                            at + "mode");
                }
                Integer max = doubt.get(v);
                if (max == null) {
                    assertEquals(v.text(), held, at + "driver ledger differs from the model");
                    assertEquals(held, recorded, at + "persisted state differs from the driver ledger");
                } else {
                    assertTrue(rank(recorded) <= max, at + "state " + recorded + " above the in-doubt maximum");
                    if (!held.equals(recorded)) {
                        inDoubtSeen++;
                    }
                }
            }
            if (last != null) {
                apply(c, last, vdis, true); // the caller retries the interrupted call: it works, confirms the state
                calls++;
                for (Vdi v : vdis) {
                    assertEquals(v.text(), ledger(v.uuid), where + "after the retry, driver ledger vs model, " + v.uuid);
                    assertEquals(v.text(), state(c, v.uuid), where + "after the retry, state vs model, " + v.uuid);
                }
            }
        }
        // tear everything down: no attach left anywhere
        for (Vdi v : vdis) {
            if (v.level > 0) {
                run(c, new Op("destroy", v, false), vdis);
            }
        }
        c.ok("sr-detach " + sr);
        JsonNode all = Files.exists(location.resolve(".attach-ledger.json"))
                ? Json.MAPPER.readTree(location.resolve(".attach-ledger.json").toFile()) : Json.MAPPER.createObjectNode();
        long attaches = 0;
        long detaches = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = all.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            assertTrue(!e.getValue().get("attached").asBoolean() && !e.getValue().get("activated").asBoolean(),
                    "seed " + seed + ": VDI " + e.getKey() + " left attached after the teardown: " + e.getValue());
            attaches += e.getValue().get("attach").asLong();
            detaches += e.getValue().get("detach").asLong();
        }
        assertTrue(attaches > 0, "seed " + seed + ": the driver saw attaches");
        assertEquals(SEQUENCES, heldKills + randomKills + betweenKills);
        System.out.printf("CrashSuiteIT seed=%d: %d sequences, %d kill -9 (%d in an SM-call window, %d at a random delay"
                        + " [%d with a driver subprocess running, %d after the call's answer], %d between calls),"
                        + " %d calls completed, %d in-doubt states seen, driver SM attach=%d detach=%d%n",
                seed, SEQUENCES, heldKills + randomKills + betweenKills, heldKills, randomKills, randomDriverKilled,
                randomAnswered, betweenKills, calls, inDoubtSeen, attaches, detaches);
        c.send("");
        c.in.close();
        Soon.exitOf(c.process);
        child = null;
    }
}
