package org.xenstorage.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Two "hosts" on one machine for storage-motion tests and benchmarks: two network namespaces ({@code ip netns},
 * as root) joined by a veth pair with two private addresses of a /30 picked at random per run, so traffic
 * between the hosts really crosses an interface whose byte counters can be read. A process runs on a host when
 * started with {@link Host#prefix()} in front of its argv ({@code ip netns exec <ns>}, which execs the program
 * itself, so its pid is the program's). Unix sockets are files, reachable from every namespace: a daemon's switch
 * and NBD sockets stay usable from the test's own namespace; its TCP ports are reachable only from its peer.
 *
 * <p>Where namespaces cannot be made (not root, no {@code ip}, EPERM in a container) the two hosts are the loopback
 * addresses {@code 127.0.0.2} and {@code 127.0.0.3} in the caller's namespace, and {@link #create} prints one line
 * saying so. {@link #close} deletes both namespaces (the veth goes with them); a JVM that dies without closing is
 * covered by a shutdown hook, and a killed one by the next {@link #create}, which deletes namespaces this class
 * made for a process that no longer runs.
 */
public final class TwoHosts implements AutoCloseable {
    /** Namespaces this class makes are named {@code sxm-<pid of the JVM>-<random>-a|b}. */
    private static final Pattern OURS = Pattern.compile("sxm-(\\d+)-[0-9a-f]+-[ab]");
    private static final SecureRandom RANDOM = new SecureRandom();
    /** System property: {@code loopback} makes {@link #create} take the fallback (to test it where root). */
    public static final String FORCE = "xenstorage.twohosts";

    /**
     * One host: its name ({@code a} or {@code b}), the address its services listen on, and when isolated its
     * namespace and its end of the veth.
     */
    public record Host(String name, String address, Optional<String> namespace, Optional<String> iface) {
        /** What goes in front of a program's argv to run it on this host (empty on the loopback fallback). */
        public List<String> prefix() {
            return namespace.map(ns -> List.of(ip().toString(), "netns", "exec", ns)).orElse(List.of());
        }

        /** {@code argv} run on this host. */
        public List<String> command(List<String> argv) {
            List<String> out = new ArrayList<>(prefix());
            out.addAll(argv);
            return out;
        }

        /** Bytes received on this host's interface so far (the veth end; {@code lo} on the fallback). */
        public long rxBytes() throws IOException, InterruptedException {
            return counter("rx_bytes");
        }

        /** Bytes sent on this host's interface so far (the veth end; {@code lo} on the fallback). */
        public long txBytes() throws IOException, InterruptedException {
            return counter("tx_bytes");
        }

        private long counter(String which) throws IOException, InterruptedException {
            String file = "/sys/class/net/" + iface.orElse("lo") + "/statistics/" + which;
            if (namespace.isEmpty()) {
                return Long.parseLong(Files.readString(Path.of(file)).strip());
            }
            // /sys shows the namespace's interfaces only to a process inside it
            return Long.parseLong(run(command(List.of("cat", file))).strip());
        }

        @Override
        public String toString() {
            return "host " + name + " (" + address + namespace.map(ns -> " in netns " + ns).orElse("") + ")";
        }
    }

    private final Host a;
    private final Host b;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread hook;

    private TwoHosts(Host a, Host b) {
        this.a = a;
        this.b = b;
        this.hook = new Thread(this::deleteNamespaces, "two-hosts-cleanup");
        if (a.namespace().isPresent()) {
            Runtime.getRuntime().addShutdownHook(hook);
        }
    }

    /**
     * Makes the two hosts: namespaces when possible, else the loopback fallback; prints one line saying which
     * (the fallback's line names why namespaces could not be made).
     */
    public static TwoHosts create() throws InterruptedException {
        return create(System.out);
    }

    /** {@link #create()}, saying which on {@code say} (a benchmark keeps its standard output for its tables). */
    public static TwoHosts create(java.io.PrintStream say) throws InterruptedException {
        String why = "-D" + FORCE + "=loopback";
        if (!"loopback".equals(System.getProperty(FORCE))) {
            try {
                TwoHosts made = makeNamespaces();
                say.println("two-hosts: network namespaces " + made.a.namespace().orElseThrow() + " ("
                        + made.a.address() + ") and " + made.b.namespace().orElseThrow() + " (" + made.b.address()
                        + ") joined by veth " + made.a.iface().orElseThrow() + "/" + made.b.iface().orElseThrow());
                return made;
            } catch (IOException e) {
                why = e.getMessage();
            }
        }
        say.println("two-hosts: FALLBACK to loopback addresses 127.0.0.2 and 127.0.0.3 in one network "
                + "namespace (network namespaces unavailable: " + why + ")");
        return new TwoHosts(new Host("a", "127.0.0.2", Optional.empty(), Optional.empty()),
                new Host("b", "127.0.0.3", Optional.empty(), Optional.empty()));
    }

    private static TwoHosts makeNamespaces() throws IOException, InterruptedException {
        if (!Files.isExecutable(ip())) {
            throw new IOException("no ip command (Debian package iproute2)");
        }
        sweepStale();
        String tag = ProcessHandle.current().pid() + "-" + HexFormat.of().formatHex(bytes(3));
        String nsA = "sxm-" + tag + "-a";
        String nsB = "sxm-" + tag + "-b";
        String hex = HexFormat.of().formatHex(bytes(4)); // interface names: at most 15 characters
        String ifA = "vsx" + hex + "a";
        String ifB = "vsx" + hex + "b";
        // a random /30 in 10.200.0.0-10.254.255.252: the .1 and .2 of it
        byte[] r = bytes(2);
        String net = "10." + (200 + Math.floorMod(r[0], 55)) + "." + (r[1] & 0xff) + ".";
        int base = 4 * RANDOM.nextInt(63);
        String addrA = net + (base + 1);
        String addrB = net + (base + 2);
        List<String> made = new ArrayList<>();
        try {
            run(List.of(ip().toString(), "netns", "add", nsA));
            made.add(nsA);
            run(List.of(ip().toString(), "netns", "add", nsB));
            made.add(nsB);
            run(List.of(ip().toString(), "link", "add", ifA, "type", "veth", "peer", "name", ifB));
            run(List.of(ip().toString(), "link", "set", ifA, "netns", nsA));
            run(List.of(ip().toString(), "link", "set", ifB, "netns", nsB));
            for (String[] end : new String[][] {{nsA, ifA, addrA}, {nsB, ifB, addrB}}) {
                run(List.of(ip().toString(), "-n", end[0], "addr", "add", end[2] + "/30", "dev", end[1]));
                run(List.of(ip().toString(), "-n", end[0], "link", "set", end[1], "up"));
                run(List.of(ip().toString(), "-n", end[0], "link", "set", "lo", "up"));
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            for (String ns : made) {
                deleteQuietly(ns);
            }
            // a veth left in the caller's namespace (it had not moved yet) goes too
            quietly(List.of(ip().toString(), "link", "del", ifA));
            throw e;
        }
        return new TwoHosts(new Host("a", addrA, Optional.of(nsA), Optional.of(ifA)),
                new Host("b", addrB, Optional.of(nsB), Optional.of(ifB)));
    }

    /** Deletes namespaces this class made for a JVM that no longer runs (killed before it could close them). */
    private static void sweepStale() throws InterruptedException {
        String list;
        try {
            list = run(List.of(ip().toString(), "netns", "list"));
        } catch (IOException e) {
            return;
        }
        for (String line : list.split("\n")) {
            String name = line.strip().split("\\s+")[0];
            Matcher m = OURS.matcher(name);
            if (m.matches() && !ProcessHandle.of(Long.parseLong(m.group(1))).map(ProcessHandle::isAlive)
                    .orElse(false)) {
                deleteQuietly(name);
            }
        }
    }

    /** Host A (the source, by convention). */
    public Host a() {
        return a;
    }

    /** Host B (the destination, by convention). */
    public Host b() {
        return b;
    }

    /** True when the hosts are network namespaces joined by a veth; false on the loopback fallback. */
    public boolean isolated() {
        return a.namespace().isPresent();
    }

    /**
     * Deletes both namespaces (the veth pair goes with them). Stop the processes running on the hosts first: a
     * namespace that still holds a process outlives its name until that process exits.
     */
    @Override
    public void close() {
        deleteNamespaces();
        if (a.namespace().isPresent()) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is already shutting down: the hook ran or runs
            }
        }
    }

    private void deleteNamespaces() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (Host h : List.of(a, b)) {
            h.namespace().ifPresent(TwoHosts::deleteQuietly);
        }
    }

    private static void deleteQuietly(String ns) {
        quietly(List.of(ip().toString(), "netns", "del", ns));
    }

    private static void quietly(List<String> argv) {
        try {
            run(argv);
        } catch (IOException e) {
            // best effort
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Path ip() {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            Path p = Path.of(dir, "ip");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return Path.of("/usr/sbin/ip");
    }

    private static byte[] bytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }

    /** Runs {@code argv} (no shell) to its end; its output, or an IOException with it when it fails. */
    static String run(List<String> argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(Soon.seconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", argv) + " did not end");
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", argv) + " failed (exit " + p.exitValue() + "): " + text.strip());
        }
        return text;
    }
}
