package org.xenstorage.smapiv3;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.xenstorage.messageswitch.client.SwitchAddress;

/**
 * The bridge as its own process ({@code storage-daemon --role=smapiv3-bridge} runs this).
 *
 * <pre>
 * --root=DIR            plugin root holding volume/ and datapath/ (default /usr/libexec/xapi-storage-script)
 * --state-dir=DIR       where state.db is kept (default /var/run/nonpersistent/xapi-storage-script)
 * --switch-path=ADDR    message-switch: a socket path, unix:PATH or tcp:HOST:PORT (default /var/run/message-switch/sock)
 * --queue-prefix=P      serve &lt;P&gt;.&lt;plugin&gt; (default org.xen.xapi.storage)
 * --script-timeout=S    kill a script after S seconds (default 1200)
 * --max-concurrent=N    requests (so scripts) in flight at once (default 16)
 * --stdio               no switch: read "&lt;plugin&gt; &lt;JSON-RPC request&gt;" lines on stdin, print one reply line each
 * </pre>
 *
 * Exit status: 0 after SIGTERM or end of stdin (--stdio), 2 for bad options or an unusable root/state.
 */
public final class BridgeMain {
    private BridgeMain() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs until terminated; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Path root = Path.of("/usr/libexec/xapi-storage-script");
        Path stateDir = Path.of("/var/run/nonpersistent/xapi-storage-script");
        String switchPath = SwitchAddress.HOST_DEFAULT_SOCKET.toString();
        String prefix = Smapiv3Config.DEFAULT_QUEUE_PREFIX;
        Duration timeout = Smapiv3Config.DEFAULT_SCRIPT_TIMEOUT;
        int maxConcurrent = Smapiv3Config.DEFAULT_MAX_CONCURRENT;
        boolean stdio = false;
        List<String> bad = new ArrayList<>();
        try {
            for (String a : args) {
                String value = a.contains("=") ? a.substring(a.indexOf('=') + 1) : "";
                String name = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
                switch (name) {
                    case "--root" -> root = Path.of(value);
                    case "--state-dir" -> stateDir = Path.of(value);
                    case "--switch-path" -> switchPath = value;
                    case "--queue-prefix" -> prefix = value;
                    case "--script-timeout" -> timeout = Duration.ofSeconds(Long.parseLong(value));
                    case "--max-concurrent" -> maxConcurrent = Integer.parseInt(value);
                    case "--stdio" -> stdio = true;
                    case "--role" -> { } // accepted so the daemon can pass its own role flag through
                    default -> bad.add(a);
                }
            }
        } catch (NumberFormatException e) {
            bad.add(e.getMessage());
        }
        if (!bad.isEmpty()) {
            err.println("smapiv3-bridge: unknown or malformed options " + bad);
            err.println("options: --root=DIR --state-dir=DIR --switch-path=ADDR --queue-prefix=P"
                    + " --script-timeout=SECONDS --max-concurrent=N [--stdio]");
            return 2;
        }
        Smapiv3Bridge bridge;
        try {
            Smapiv3Config config = new Smapiv3Config(root, stateDir, prefix, timeout, maxConcurrent);
            bridge = Smapiv3Bridge.start(config, stdio ? null : SwitchAddress.parse(switchPath));
        } catch (RuntimeException e) {
            err.println("smapiv3-bridge: cannot start: " + e.getMessage());
            return 2;
        }
        if (stdio) {
            return serveStdio(bridge, out);
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            bridge.shutdown(Duration.ofSeconds(10));
            stopped.countDown();
        }, "smapiv3-bridge-shutdown"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    private static int serveStdio(Smapiv3Bridge bridge, PrintStream out) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            out.println("ready " + String.join(",", bridge.plugins()));
            out.flush();
            String line;
            while ((line = in.readLine()) != null) {
                int space = line.indexOf(' ');
                if (space <= 0) {
                    out.println("{\"result\":null,\"error\":[\"Internal_error\",\"expected: <plugin> <request>\"],\"id\":0}");
                } else {
                    out.println(bridge.dispatch(line.substring(0, space), line.substring(space + 1)).join());
                }
                out.flush();
            }
        } catch (java.io.IOException e) {
            return 1;
        } finally {
            bridge.shutdown(Duration.ofSeconds(5));
        }
        return 0;
    }
}
