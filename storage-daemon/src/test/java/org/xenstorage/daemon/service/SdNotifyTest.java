package org.xenstorage.daemon.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.testing.Soon;

/** sd_notify against a real Unix datagram socket, bound by a Python receiver (what systemd does). */
class SdNotifyTest {
    @TempDir
    Path dir;

    static final String RECEIVER = String.join("\n",
            "import socket, sys",
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
            "addr = sys.argv[1]",
            "s.bind('\\0' + addr[1:] if addr.startswith('@') else addr)",
            "print('bound', flush=True)",
            "s.settimeout(float(sys.argv[2]))",
            "for _ in range(2):",
            "    print(s.recv(4096).decode().replace('\\n', '|'), flush=True)");

    String receive(String address, Runnable send) throws Exception {
        Process p = new ProcessBuilder("python3", "-c", RECEIVER, address, String.valueOf(Soon.seconds()))
                .redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            assertEquals("bound", out.readLine());
            send.run();
            String first = out.readLine();
            String second = out.readLine();
            return first + "\n" + second;
        } finally {
            p.waitFor(Soon.millis(), TimeUnit.MILLISECONDS);
            p.destroyForcibly();
        }
    }

    @Test
    void readyAndStoppingReachAPathSocket() throws Exception {
        String sock = dir.resolve("notify.sock").toString();
        SdNotify n = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", sock));
        assertTrue(n.enabled());
        String got = receive(sock, () -> {
            n.ready("serving");
            n.stopping();
        });
        assertTrue(got.startsWith("READY=1|STATUS=serving|MAINPID=" + ProcessHandle.current().pid()), got);
        assertTrue(got.endsWith("STOPPING=1|STATUS=stopping"), got);
    }

    @Test
    void abstractNamespaceSocketsWork() throws Exception {
        String name = "@xsd-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        SdNotify n = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", name));
        String got = receive(name, () -> {
            n.watchdog();
            n.status("hello");
        });
        assertEquals("WATCHDOG=1\nSTATUS=hello", got);
    }

    @Test
    void withoutNotifySocketNothingIsSentAndWatchdogFollowsTheEnvironment() {
        SdNotify n = SdNotify.fromEnvironment(Map.of());
        assertFalse(n.enabled());
        n.ready("x"); // no-op, no failure
        assertEquals(Optional.of(Duration.ofSeconds(30)), SdNotify.watchdogInterval(Map.of("WATCHDOG_USEC", "30000000")));
        assertEquals(Optional.empty(), SdNotify.watchdogInterval(Map.of("WATCHDOG_USEC", "30000000",
                "WATCHDOG_PID", "1")));
    }
}
