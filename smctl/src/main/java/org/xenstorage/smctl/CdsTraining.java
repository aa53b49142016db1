package org.xenstorage.smctl;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * The training run of smctl's class-data-sharing archive ({@code make-smctl-cds}): several smctl command lines
 * in one JVM, so that one {@code -XX:ArchiveClassesAtExit} archive holds the classes of both paths a run may
 * take: the fast path ({@code types}) and picocli with the IDL and the Netty client (an SMAPIv2 call, the
 * diagnostics, {@code --json}). JDK 17 archives what one process loaded; a training run of {@code types} alone
 * would leave every other command without the archive's help. Output is discarded; the exit status is the
 * first failing line's (0 when all succeeded).
 *
 * <p>Usage: {@code java -XX:ArchiveClassesAtExit=<file> -cp <smctl jar> org.xenstorage.smctl.CdsTraining
 * --switch-path <socket>}
 */
public final class CdsTraining {
    private CdsTraining() {
    }

    public static void main(String[] args) {
        System.setProperty("slf4j.provider", StderrLogging.class.getName());
        System.setProperty("slf4j.internal.verbosity", "WARN");
        PrintStream discard = new PrintStream(OutputStream.nullOutputStream());
        Terminal quiet = new Terminal(discard, discard, false);
        int status = 0;
        for (List<String> line : List.of(List.of("types"), List.of("sr-registry"), List.of("sr-list"),
                List.of("--json", "sr-list"), List.of("diagnostics"), List.of("--version"))) {
            List<String> all = new ArrayList<>(List.of(args));
            all.addAll(line);
            int s = Smctl.run(all.toArray(String[]::new), quiet);
            if (s != 0 && status == 0) {
                System.err.println("make-smctl-cds: smctl " + String.join(" ", line) + " exited " + s);
                status = s;
            }
        }
        System.exit(status);
    }
}
