package org.xenstorage.bench.smapiv1;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import org.xenstorage.bench.Harness;
import org.xenstorage.idl.api.StorageService;
import org.xenstorage.idl.rpc.StorageClient;
import org.xenstorage.idl.types.VdiInfo;
import org.xenstorage.messageswitch.broker.EmbeddedSwitch;
import org.xenstorage.messageswitch.client.SwitchAddress;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.smapiv1.Smapiv1Backend;
import org.xenstorage.smapiv1.Smapiv1Config;
import org.xenstorage.smapiv1.catalogue.Catalogue;
import org.xenstorage.smapiv1.exec.SmCall;

/**
 * Per-call overhead of the SMAPIv1 backend over a bare {@code python3 LocalfileSR '<xml>'} exec of the
 * same driver command, measured interleaved in the same run: {@code VDI.stat} (one {@code vdi_update}
 * exec) and {@code VDI.attach3}+{@code VDI.detach} (two execs with their XenAPI callbacks), called
 * through {@code serviceFor(type)} (wrapper, translation, exec) and through the embedded
 * message-switch. Prints a markdown table of medians and the ratios.
 *
 * <p>Usage: {@code DriverExecBench [iterations] [path to examples/sm/LocalfileSR]}.
 */
public final class DriverExecBench {
    private DriverExecBench() {
    }

    public static void main(String[] args) throws Exception {
        ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
                .setLevel(ch.qos.logback.classic.Level.WARN);
        int iterations = args.length > 0 ? Integer.parseInt(args[0]) : 40;
        Path example = args.length > 1 ? Path.of(args[1]) : locate("examples/sm/LocalfileSR");
        Path tmp = Files.createTempDirectory("driverexec-bench");
        Path smDir = Files.createDirectories(tmp.resolve("sm"));
        Path driver = smDir.resolve("LocalfileSR");
        Files.copy(example, driver, StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(driver, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path sock = tmp.resolve("switch.sock");
        Smapiv1Config config = new Smapiv1Config(smDir, tmp.resolve("state"), "org.xen.xapi.storage",
                Duration.ofSeconds(60), 4, Optional.empty());
        try (EmbeddedSwitch sw = EmbeddedSwitch.start(Optional.of(sock), Optional.empty(), tmp.resolve("switch"));
             Smapiv1Backend backend = Smapiv1Backend.start(config, SwitchAddress.unix(sock));
             SwitchRpcClient client = SwitchRpcClient.connect(SwitchAddress.unix(sock), "bench")) {
            StorageService direct = backend.serviceFor("localfile");
            var translation = backend.translationFor("localfile");
            StorageService viaSwitch = StorageClient.of(t -> client.callAsync("org.xen.xapi.storage.localfile", t,
                    Duration.ofSeconds(60)));
            String sr = UUID.randomUUID().toString();
            Path location = tmp.resolve("srdir");
            direct.sr().create("bench", sr, "bench", "", Map.of("location", location.toString()), 0);
            direct.sr().attach("bench", sr, Map.of("location", location.toString()));
            VdiInfo vdi = direct.vdi().create("bench", sr, VdiInfo.defaults("", "bench").withSizes(1 << 20, 0));

            Catalogue cat = backend.catalogue().orElseThrow();
            String internal = cat.newInternalSession();
            String srRef = (String) cat.call("SR.get_by_uuid", List.of(internal, sr));
            String vdiRef = (String) cat.call("VDI.get_by_uuid", List.of(internal, vdi.uuid().orElseThrow()));
            Map<String, String> dc = Map.of("SRmaster", "true", "location", location.toString());
            Map<String, String> env = backend.driverEnvironment();
            Supplier<List<String>> bareUpdate = () -> bare(driver, env, vdiCall(cat, "vdi_update", List.of(), dc,
                    srRef, sr, vdiRef, vdi.vdi()));
            Runnable bareAttachDetach = () -> {
                bare(driver, env, vdiCall(cat, "vdi_attach", List.of("true"), dc, srRef, sr, vdiRef, vdi.vdi()));
                bare(driver, env, vdiCall(cat, "vdi_detach", List.of(), dc, srRef, sr, vdiRef, vdi.vdi()));
            };
            bareUpdate.get(); // fail early if the baseline command does not work

            List<Row> rows = new ArrayList<>();
            long[][] stat = measure(iterations,
                    () -> bareUpdate.get(),
                    () -> translation.stat("bench", sr, vdi.vdi()),
                    () -> direct.vdi().stat("bench", sr, vdi.vdi()),
                    () -> viaSwitch.vdi().stat("bench", sr, vdi.vdi()));
            rows.add(new Row("VDI.stat → vdi_update", stat));
            long[][] attach = measure(iterations / 2,
                    bareAttachDetach,
                    () -> {
                        translation.attach3("bench", "dp", sr, vdi.vdi(), "1", true);
                        translation.detach("bench", "dp", sr, vdi.vdi(), "1");
                    },
                    () -> {
                        direct.vdi().attach3("bench", "dp", sr, vdi.vdi(), "1", true);
                        direct.vdi().detach("bench", "dp", sr, vdi.vdi(), "1");
                    },
                    () -> {
                        viaSwitch.vdi().attach3("bench", "dp", sr, vdi.vdi(), "1", true);
                        viaSwitch.vdi().detach("bench", "dp", sr, vdi.vdi(), "1");
                    });
            rows.add(new Row("VDI.attach3 + VDI.detach → vdi_attach + vdi_detach", attach));
            print(rows, iterations);
        }
    }

    private record Row(String name, long[][] samples) {
    }

    /** Interleaves the variants {@code n} times in random order (after 3 warm-up rounds); ns per call. */
    private static long[][] measure(int n, Runnable... ops) {
        for (int w = 0; w < 3; w++) {
            for (Runnable op : ops) {
                op.run();
            }
        }
        long[][] out = new long[ops.length][n];
        List<Integer> order = new ArrayList<>();
        for (int k = 0; k < ops.length; k++) {
            order.add(k);
        }
        for (int i = 0; i < n; i++) {
            Collections.shuffle(order);
            for (int k : order) {
                long t0 = System.nanoTime();
                ops[k].run();
                out[k][i] = System.nanoTime() - t0;
            }
        }
        return out;
    }

    private static SmCall vdiCall(Catalogue cat, String command, List<String> args, Map<String, String> dc,
                                  String srRef, String srUuid, String vdiRef, String location) {
        return SmCall.of(cat.hostRef(), command, args, dc)
                .withSession(cat.newDriverSession(srRef), "OpaqueRef:" + UUID.randomUUID())
                .withSr(srRef, srUuid).withVdi(vdiRef, location, location, "persist", false);
    }

    /** The baseline: {@code python3 <driver> '<xml>'} with the same environment, stdout read in full. */
    private static List<String> bare(Path driver, Map<String, String> env, SmCall call) {
        try {
            ProcessBuilder pb = new ProcessBuilder("/usr/bin/python3", driver.toString(), call.toXml());
            pb.environment().clear();
            pb.environment().putAll(env);
            pb.redirectError(ProcessBuilder.Redirect.DISCARD);
            Process p = pb.start();
            byte[] out;
            try (InputStream in = p.getInputStream()) {
                out = in.readAllBytes();
            }
            if (p.waitFor() != 0 || !new String(out).contains("<params>")) {
                throw new IllegalStateException("baseline exec failed: " + new String(out));
            }
            Harness.consume(out);
            return List.of();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static double median(long[] xs) {
        long[] s = xs.clone();
        Arrays.sort(s);
        return s[s.length / 2] / 1e6;
    }

    private static double p90(long[] xs) {
        long[] s = xs.clone();
        Arrays.sort(s);
        return s[(int) Math.min(s.length - 1, Math.floor(s.length * 0.9))] / 1e6;
    }

    private static void print(List<Row> rows, int n) {
        System.out.println("### SMAPIv1 backend: per-call overhead over a bare driver exec");
        System.out.println();
        System.out.println("Machine: " + Harness.machine() + ". Interleaved, " + n
                + " iterations per variant (half for attach+detach), medians; driver = examples/sm/LocalfileSR."
                + " translation only = Smapiv1Translation without the state wrapper; serviceFor = wrapper + translation.");
        System.out.println();
        System.out.println("| call | bare `python3 LocalfileSR '<xml>'` ms | translation only ms (ratio) | "
                + "serviceFor(type) ms (ratio) | via message-switch ms (ratio) |");
        System.out.println("|---|---:|---:|---:|---:|");
        for (Row r : rows) {
            double bare = median(r.samples()[0]);
            StringBuilder line = new StringBuilder("| " + r.name() + String.format(Locale.ROOT, " | %.1f (p90 %.1f)",
                    bare, p90(r.samples()[0])));
            for (int k = 1; k < r.samples().length; k++) {
                double m = median(r.samples()[k]);
                line.append(String.format(Locale.ROOT, " | %.1f (%.3f×)", m, m / bare));
            }
            System.out.println(line.append(" |"));
        }
        // issue 5's target: the daemon's per-call overhead over the bare exec, ratios of medians as printed
        System.out.println();
        StringBuilder t = new StringBuilder("Against issue 5's target, <= 1.05× the bare exec:");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            double bare = median(r.samples()[0]);
            double service = median(r.samples()[2]) / bare;
            double viaSwitch = median(r.samples()[3]) / bare;
            t.append(String.format(Locale.ROOT, "%s %s: serviceFor %.3f× %s, via message-switch %.3f× %s",
                    i == 0 ? "" : ";", r.name(), service, atMost3(service, 1.05), viaSwitch, atMost3(viaSwitch, 1.05)));
        }
        System.out.println(t.append('.'));
    }

    /** Harness.atMost for a ratio printed with three decimals, as this table prints them. */
    private static String atMost3(double ratio, double target) {
        return Harness.verdict(Math.round(ratio * 1000) / 1000.0 <= target);
    }

    private static Path locate(String relative) {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            if (Files.exists(dir.resolve(relative))) {
                return dir.resolve(relative);
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException(relative + " not found; pass its path as the second argument");
    }

}
