package org.xenstorage.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xenstorage.testing.TwoHosts;

/**
 * The two-host test bed itself ({@link TwoHosts}, {@link HostDaemon}): two daemons, each in its own network
 * namespace with its own switch, state and remote endpoint, reached by the test through their switch sockets; a
 * call from host A to host B's endpoint really crosses the veth (its byte counters rise on both ends), host A
 * and each daemon runs in a namespace of its own, and closing the bed leaves no namespace.
 */
class TwoHostsIT {
    /** A JSON-RPC call to a URL from inside a host: Python's stdlib, no shell. Prints the reply body. */
    static final String POST = String.join("\n",
            "import sys, urllib.request",
            "req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST',",
            "                             headers={'Content-Type': 'application/json'})",
            "print(urllib.request.urlopen(req, timeout=60).read().decode())");

    @TempDir
    Path dir;

    @Test
    void twoDaemonsOnTwoHostsTalkAcrossTheVeth() throws Exception {
        List<String> namespaces = new ArrayList<>();
        try (TwoHosts hosts = TwoHosts.create();
             HostDaemon a = HostDaemon.start(hosts.a(), dir.resolve("a"));
             HostDaemon b = HostDaemon.start(hosts.b(), dir.resolve("b"))) {
            hosts.a().namespace().ifPresent(namespaces::add);
            hosts.b().namespace().ifPresent(namespaces::add);
            assertEquals("mux", a.mux().query().query("it").driver(), "host A's mux, through its switch socket");
            assertEquals("mux", b.mux().query().query("it").driver(), "host B's mux, through its switch socket");

            long rxB = hosts.b().rxBytes();
            long txA = hosts.a().txBytes();
            String body = "{\"method\":\"Query.query\",\"params\":[{\"dbg\":\"from-a\"}],\"id\":1}";
            String reply = RemoteEndpointIT.run(hosts.a().command(List.of("python3", "-c", POST, b.url(), body))
                    .toArray(String[]::new));
            assertTrue(reply.contains("\"driver\":\"mux\""), "host B's mux answered host A: " + reply);
            long crossedIn = hosts.b().rxBytes() - rxB;
            long crossedOut = hosts.a().txBytes() - txA;
            System.out.println("two-hosts: one call from A to B: " + crossedOut + " bytes out of A, " + crossedIn
                    + " bytes into B (" + (hosts.isolated() ? "veth" : "lo") + ")");
            assertTrue(crossedIn >= body.length() && crossedOut >= body.length(),
                    "the call crossed the interface: " + crossedOut + " bytes out of A, " + crossedIn + " into B");
            if (hosts.isolated()) {
                // each daemon runs in a network namespace of its own, neither of them the test's
                String self = netns(ProcessHandle.current().pid());
                String nsA = netns(a.process().process.pid());
                String nsB = netns(b.process().process.pid());
                assertTrue(!nsA.equals(nsB) && !nsA.equals(self) && !nsB.equals(self),
                        "namespaces: test " + self + ", A " + nsA + ", B " + nsB);
            }
            assertFalse(a.output().contains(a.token) || b.output().contains(b.token), "tokens are never logged");
        }
        if (!namespaces.isEmpty()) {
            String left = RemoteEndpointIT.run("ip", "netns", "list");
            for (String ns : namespaces) {
                assertFalse(left.contains(ns), "namespace " + ns + " deleted at close: " + left);
            }
        }
    }

    /** The network namespace of process {@code pid} (the link's text names its inode). */
    static String netns(long pid) throws java.io.IOException {
        return java.nio.file.Files.readSymbolicLink(Path.of("/proc", String.valueOf(pid), "ns", "net")).toString();
    }
}
