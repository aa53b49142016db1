package org.xenstorage.daemon.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the configuration: defaults, then {@code /etc/xapi-storage-daemon.conf} ({@code key=value}, {@code #}
 * comments), then every {@code /etc/xapi-storage-daemon.conf.d/*.conf} in name order, then command-line
 * flags {@code --key=value} (or {@code --key value}). A later source wins.
 *
 * <p>Flags win over files (upstream's xcp-service lets the file win): an operator who types a flag on the
 * command line, or a systemd drop-in's {@code ExecStart}, expects that flag to take effect, and the file
 * stays the place for the host's settled configuration.
 *
 * <p>{@code mode} defaults to {@code embedded} when the main config file does not exist and to
 * {@code host} when it does; the path defaults depend on the mode.
 */
public final class ConfigLoader {
    public static final Path DEFAULT_CONFIG = Path.of("/etc/xapi-storage-daemon.conf");

    /** {@code sm-env.<NAME>} keys: one driver environment variable each. */
    public static final String SM_ENV_PREFIX = "sm-env.";

    /** Every key, with a one-line description (also the {@code --help} text). */
    public static final Map<String, String> KEYS;

    static {
        Map<String, String> k = new LinkedHashMap<>();
        k.put("mode", "embedded | host (default: embedded when no config file exists, else host)");
        k.put("role", "all | smapiv3-bridge (default all)");
        k.put("state-dir", "state that outlives a reboot: SR registry, catalogue, copies "
                + "(embedded: ./var, host: /var/lib/xapi-storage-daemon)");
        k.put("run-dir", "attach state (datapaths, DP_info, attached SRs), meaningless after a reboot "
                + "(embedded: <state-dir>, host: /var/run/nonpersistent/xapi-storage-daemon)");
        k.put("boot-id-file", "the current boot's id; attach state of another boot is set aside "
                + "(default /proc/sys/kernel/random/boot_id)");
        k.put("switch-path", "message-switch Unix socket (embedded: <state-dir>/message-switch.sock, served; "
                + "host: /var/run/message-switch/sock, connected to)");
        k.put("sm-dir", "SMAPIv1 driver directory (embedded: examples/sm, host: /usr/libexec/sm/drivers)");
        k.put("plugin-root", "SMAPIv3 plugin root (embedded: examples/smapiv3, host: /usr/libexec/xapi-storage-script); "
                + "--root is the same key (xapi-storage-script's name)");
        k.put("state", "the SMAPIv3 bridge's state.db, datapaths.json beside it (default <run-dir>/smapiv3/state.db; "
                + "role smapiv3-bridge in host mode: /var/run/nonpersistent/xapi-storage-script/state.db, as "
                + "xapi-storage-script)");
        k.put("queue-prefix", "queue name prefix (default org.xen.xapi.storage)");
        k.put("smapiv1", "serve SMAPIv1 drivers: true | false (default true)");
        k.put("smapiv3", "serve SMAPIv3 plugins: true | false (default true)");
        k.put("call-timeout", "how long the mux waits for a backend's reply (default 1200s)");
        k.put("fanout-timeout", "how long SR.list and Query.diagnostics wait for each backend (default 30s)");
        k.put("driver-timeout", "an SM driver exec running longer is killed (default 1200s)");
        k.put("script-timeout", "a SMAPIv3 script running longer is killed (default 1200s)");
        k.put("kill-on-timeout", "kill a driver/script past its timeout: true | false (embedded: true; host: false, "
                + "as upstream, which never kills an SM driver: a WARN every few minutes instead)");
        k.put("workers", "threads running blocking mux calls (fan-out, DP_info, registry) (default 64)");
        k.put("max-inflight", "requests the mux queue accepts at once, long-polls included (default 4096)");
        k.put("mux-in-process", "the mux calls backends served by this same process directly, not over the switch: "
                + "true | false (default true; their queues stay on the switch for other callers)");
        k.put("backend-concurrency", "driver execs / SMAPIv3 requests in flight per SR (default 16)");
        k.put("discovery-interval", "how often the live backend queues are listed (default 5s)");
        k.put("shutdown-grace", "on SIGTERM, how long in-flight calls may take to finish (default 30s)");
        k.put("xapi-socket", "host mode: the xapi socket SM drivers call back (default /var/lib/xcp/xapi)");
        k.put("backend-domain", "what Policy.get_backend_vm answers (default: CONTROL_DOMAIN_UUID from "
                + "/etc/xensource-inventory, else 0)");
        k.put("prefer-nbd-attach", "SMAPIv1 attach answers the driver's NBD export first, as xapi's "
                + "prefer_nbd_attach: true | false (default false)");
        k.put("inventory-file", "embedded mode: the xensource-inventory naming this host and its control domain, "
                + "adopted if it names both, else written (default <state-dir>/smapiv1/xensource-inventory)");
        k.put(SM_ENV_PREFIX + "<NAME>", "an environment variable for every SM driver exec, e.g. "
                + "sm-env.PYTHONPATH=/opt/xensource/sm (repeatable with different names)");
        k.put("pool-master", "embedded mode: the pool master's address when this daemon is a pool member "
                + "(default: none, this daemon is the master; host mode: xapi knows)");
        k.put("shared-sr-types", "embedded mode: comma-separated SR types whose SRs are shared in the pool "
                + "(default: none; host mode: xapi's SR.shared)");
        k.put("remote-listen", "[ADDRESS:]PORT of the remote SMAPIv2 endpoint (HTTP(S) /services/SM and its NBD paths), "
                + "address 127.0.0.1 unless given, [v6]:PORT for IPv6 (default: no endpoint)");
        k.put("remote-token-file", "the remote endpoint's token, its only credential: a file only the daemon's user may "
                + "read (required with remote-listen)");
        k.put("remote-tls-cert", "PEM certificate chain: the remote endpoint speaks HTTPS only (with remote-tls-key)");
        k.put("remote-tls-key", "PEM (PKCS#8) private key of remote-tls-cert");
        k.put("remote-ca-bundle", "PEM certificates a DATA.copy to another host's https endpoint verifies its "
                + "certificate against when verify_dest is set (default: the JVM's CA store)");
        k.put("log-file", "also log to this file (default: stderr only, which systemd sends to the journal)");
        k.put("log-level", "ERROR | WARN | INFO | DEBUG (default INFO)");
        KEYS = java.util.Collections.unmodifiableMap(k);
    }

    private static final Pattern SM_ENV = Pattern.compile(Pattern.quote(SM_ENV_PREFIX) + "[A-Za-z_][A-Za-z0-9_]*");

    /** A configuration key: one of {@link #KEYS}, or {@code sm-env.<NAME>}. */
    static boolean known(String key) {
        return !key.equals(SM_ENV_PREFIX + "<NAME>") && (KEYS.containsKey(key) || SM_ENV.matcher(key).matches());
    }

    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h)?");

    private ConfigLoader() {
    }

    /** What the command line asked for, besides configuration keys. */
    public record Parsed(Optional<Path> configFile, Map<String, String> flags, boolean help) {
    }

    /** Splits the arguments; unknown flags are an error. */
    public static Parsed parseArgs(String[] args) throws ConfigException {
        Map<String, String> flags = new LinkedHashMap<>();
        Optional<Path> config = Optional.empty();
        boolean help = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                help = true;
                continue;
            }
            if (!a.startsWith("--") || a.length() == 2) {
                throw new ConfigException("unexpected argument '" + a + "' (flags are --key=value)");
            }
            String key;
            String value;
            int eq = a.indexOf('=');
            if (eq > 0) {
                key = a.substring(2, eq);
                value = a.substring(eq + 1);
            } else {
                key = a.substring(2);
                if (i + 1 >= args.length) {
                    throw new ConfigException("flag --" + key + " needs a value");
                }
                value = args[++i];
            }
            key = canonical(key);
            if (key.equals("config")) {
                config = Optional.of(Path.of(value));
            } else if (known(key)) {
                flags.put(key, value);
            } else {
                throw new ConfigException("unknown flag --" + key + " (see --help)");
            }
        }
        return new Parsed(config, flags, help);
    }

    /** {@code root} is xapi-storage-script's name for {@code plugin-root}, so its command lines work unchanged. */
    private static String canonical(String key) {
        return key.equals("root") ? "plugin-root" : key;
    }

    /** Loads and validates the configuration for these arguments. */
    public static DaemonConfig load(String[] args) throws ConfigException {
        return load(parseArgs(args), DEFAULT_CONFIG);
    }

    static DaemonConfig load(Parsed parsed, Path defaultConfig) throws ConfigException {
        Path main = parsed.configFile().orElse(defaultConfig);
        if (parsed.configFile().isPresent() && !Files.isRegularFile(main)) {
            throw new ConfigException("config file " + main + " does not exist");
        }
        Map<String, String> values = new TreeMap<>();
        Map<String, String> sources = new TreeMap<>();
        boolean haveFile = Files.isRegularFile(main);
        if (haveFile) {
            readFile(main, values, sources);
            Path dropins = main.resolveSibling(main.getFileName() + ".d");
            for (Path f : dropins(dropins)) {
                readFile(f, values, sources);
            }
        }
        parsed.flags().forEach((k, v) -> {
            values.put(k, v);
            sources.put(k, "flag");
        });
        return build(values, sources, haveFile);
    }

    private static List<Path> dropins(Path dir) throws ConfigException {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.conf")) {
            ds.forEach(out::add);
        } catch (IOException e) {
            throw new ConfigException("cannot read " + dir + ": " + e.getMessage());
        }
        out.sort(null);
        return out;
    }

    static void readFile(Path file, Map<String, String> values, Map<String, String> sources) throws ConfigException {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException("cannot read " + file + ": " + e.getMessage());
        }
        int n = 0;
        for (String raw : lines) {
            n++;
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException(file + ":" + n + ": expected key=value");
            }
            String key = canonical(line.substring(0, eq).strip());
            String value = line.substring(eq + 1).strip();
            if (value.length() >= 2 && (value.startsWith("\"") && value.endsWith("\"")
                    || value.startsWith("'") && value.endsWith("'"))) {
                value = value.substring(1, value.length() - 1);
            }
            if (!known(key)) {
                throw new ConfigException(file + ":" + n + ": unknown key '" + key + "'");
            }
            values.put(key, value);
            sources.put(key, file.toString());
        }
    }

    private static DaemonConfig build(Map<String, String> v, Map<String, String> sources, boolean haveFile)
            throws ConfigException {
        Mode mode = haveFile ? Mode.HOST : Mode.EMBEDDED;
        if (v.containsKey("mode")) {
            mode = switch (v.get("mode").toLowerCase(Locale.ROOT)) {
                case "embedded" -> Mode.EMBEDDED;
                case "host" -> Mode.HOST;
                default -> throw new ConfigException("mode must be embedded or host, not '" + v.get("mode") + "'");
            };
        } else {
            sources.put("mode", haveFile ? "default (config file present)" : "default (no config file)");
        }
        boolean embedded = mode == Mode.EMBEDDED;
        Role role = switch (v.getOrDefault("role", "all").toLowerCase(Locale.ROOT)) {
            case "all" -> Role.ALL;
            case "smapiv3-bridge" -> Role.SMAPIV3_BRIDGE;
            default -> throw new ConfigException("role must be all or smapiv3-bridge, not '" + v.get("role") + "'");
        };
        Path stateDir = path(v, "state-dir", embedded ? "./var" : "/var/lib/xapi-storage-daemon");
        // upstream keeps attach state on a tmpfs; embedded mode keeps it with the rest (the boot id guards it)
        Path runDir = v.containsKey("run-dir") ? path(v, "run-dir", "")
                : embedded ? stateDir : Path.of("/var/run/nonpersistent/xapi-storage-daemon");
        Path bootIdFile = path(v, "boot-id-file", "/proc/sys/kernel/random/boot_id");
        Path smapiv3State = v.containsKey("state") ? path(v, "state", "")
                : role == Role.SMAPIV3_BRIDGE && !embedded
                ? Path.of("/var/run/nonpersistent/xapi-storage-script/state.db")
                : runDir.resolve("smapiv3").resolve("state.db");
        if (!smapiv3State.getFileName().toString().equals("state.db") || smapiv3State.getParent() == null) {
            throw new ConfigException("state must name a file called state.db in a directory (datapaths.json is "
                    + "kept beside it), not '" + smapiv3State + "'");
        }
        Path switchPath = v.containsKey("switch-path") ? path(v, "switch-path", "")
                : embedded ? stateDir.resolve("message-switch.sock") : Path.of("/var/run/message-switch/sock");
        Path smDir = path(v, "sm-dir", embedded ? examplesDir() + "/sm" : "/usr/libexec/sm/drivers");
        Path pluginRoot = path(v, "plugin-root", embedded ? examplesDir() + "/smapiv3"
                : "/usr/libexec/xapi-storage-script");
        String prefix = v.getOrDefault("queue-prefix", "org.xen.xapi.storage");
        if (!prefix.matches("[A-Za-z0-9][A-Za-z0-9_.-]*") || prefix.contains("..") || prefix.endsWith(".")) {
            throw new ConfigException("queue-prefix '" + prefix + "' is not a valid queue name");
        }
        Optional<Path> xapiSocket = embedded ? Optional.empty()
                : Optional.of(path(v, "xapi-socket", "/var/lib/xcp/xapi"));
        if (!embedded) {
            for (String key : List.of("pool-master", "shared-sr-types")) {
                if (v.containsKey(key)) {
                    throw new ConfigException(key + " is for embedded mode only: in host mode xapi says who the "
                            + "pool master is and which SRs are shared");
                }
            }
        }
        Optional<String> poolMaster = Optional.ofNullable(v.get("pool-master")).map(String::strip)
                .filter(a -> !a.isEmpty());
        if (poolMaster.isPresent() && !poolMaster.get().matches("[A-Za-z0-9][A-Za-z0-9.:_-]*")) {
            throw new ConfigException("pool-master must be a host name or an IP address, not '" + poolMaster.get()
                    + "'");
        }
        Set<String> sharedTypes = new java.util.TreeSet<>();
        for (String t : v.getOrDefault("shared-sr-types", "").split(",")) {
            if (!t.isBlank()) {
                sharedTypes.add(t.strip().toLowerCase(Locale.ROOT));
            }
        }
        String level = v.getOrDefault("log-level", "INFO").toUpperCase(Locale.ROOT);
        if (!Set.of("ERROR", "WARN", "INFO", "DEBUG", "TRACE").contains(level)) {
            throw new ConfigException("log-level must be ERROR, WARN, INFO or DEBUG, not '" + level + "'");
        }
        Map<String, String> smEnv = new TreeMap<>();
        for (Map.Entry<String, String> e : v.entrySet()) {
            if (e.getKey().startsWith(SM_ENV_PREFIX)) {
                String name = e.getKey().substring(SM_ENV_PREFIX.length());
                if (name.equals("XAPI_LOCAL_SOCKET")) {
                    throw new ConfigException(e.getKey() + ": the daemon sets XAPI_LOCAL_SOCKET itself (see xapi-socket)");
                }
                smEnv.put(name, e.getValue());
            }
        }
        Optional<Path> inventoryFile = v.containsKey("inventory-file")
                ? Optional.of(path(v, "inventory-file", "")) : Optional.empty();
        Optional<RemoteEndpointConfig> remote = remoteEndpoint(v);
        return new DaemonConfig(mode, role, stateDir, switchPath, smDir, pluginRoot, prefix,
                bool(v, "smapiv1", true), bool(v, "smapiv3", true),
                duration(v, "call-timeout", "1200s"), duration(v, "fanout-timeout", "30s"),
                duration(v, "driver-timeout", "1200s"),
                duration(v, "script-timeout", "1200s"), bool(v, "kill-on-timeout", embedded),
                positive(v, "workers", 64), positive(v, "max-inflight", 4096), bool(v, "mux-in-process", true),
                positive(v, "backend-concurrency", 16),
                duration(v, "discovery-interval", "5s"), duration(v, "shutdown-grace", "30s"),
                xapiSocket, v.getOrDefault("backend-domain", defaultBackendDomain()),
                smEnv, bool(v, "prefer-nbd-attach", false), inventoryFile, poolMaster, sharedTypes,
                Optional.ofNullable(v.get("log-file")).map(Path::of), level, runDir, bootIdFile, smapiv3State,
                remote, Optional.ofNullable(v.get("remote-ca-bundle")).map(String::strip).filter(x -> !x.isEmpty())
                .map(Path::of), sources);
    }

    /**
     * Where embedded mode finds the example driver and plugins: {@code examples} (relative to the working
     * directory, as {@code scripts/storage-daemon} runs from the repository), or the system property
     * {@code xenstorage.examplesDir}, which the installed launcher sets to the package's copy so that an embedded
     * daemon started from any directory serves them.
     */
    static String examplesDir() {
        return System.getProperty("xenstorage.examplesDir", "examples");
    }

    /** {@code [ADDRESS:]PORT}, the address a name, an IPv4 address or a bracketed IPv6 one. */
    private static final Pattern LISTEN = Pattern.compile(
            "(?:(\\[[0-9A-Fa-f:.]+]|[A-Za-z0-9][A-Za-z0-9.-]*):)?(\\d{1,5})");

    /** {@code remote-*}: the endpoint listens only with {@code remote-listen}, and then only with a token file. */
    static Optional<RemoteEndpointConfig> remoteEndpoint(Map<String, String> v) throws ConfigException {
        String listen = v.getOrDefault("remote-listen", "").strip();
        if (listen.isEmpty()) {
            for (String key : List.of("remote-token-file", "remote-tls-cert", "remote-tls-key")) {
                if (v.containsKey(key)) {
                    throw new ConfigException(key + " is set but remote-listen is not: the remote endpoint is off");
                }
            }
            return Optional.empty();
        }
        Matcher m = LISTEN.matcher(listen);
        int port = m.matches() ? Integer.parseInt(m.group(2)) : -1;
        if (port < 1 || port > 65535) {
            throw new ConfigException("remote-listen must be PORT, ADDRESS:PORT or [IPv6]:PORT with a port of 1 to "
                    + "65535, not '" + listen + "'");
        }
        String address = m.group(1) == null ? "127.0.0.1" : m.group(1).replace("[", "").replace("]", "");
        String token = v.getOrDefault("remote-token-file", "").strip();
        if (token.isEmpty()) {
            throw new ConfigException("remote-listen needs remote-token-file: the token is the endpoint's only "
                    + "credential, and the endpoint never listens without one");
        }
        Optional<Path> cert = Optional.ofNullable(v.get("remote-tls-cert")).map(String::strip).filter(s -> !s.isEmpty())
                .map(Path::of);
        Optional<Path> key = Optional.ofNullable(v.get("remote-tls-key")).map(String::strip).filter(s -> !s.isEmpty())
                .map(Path::of);
        if (cert.isPresent() != key.isPresent()) {
            throw new ConfigException("remote-tls-cert and remote-tls-key go together: set both (HTTPS) or neither "
                    + "(plain HTTP)");
        }
        return Optional.of(new RemoteEndpointConfig(address, port, Path.of(token), cert, key));
    }

    private static Path path(Map<String, String> v, String key, String dflt) throws ConfigException {
        String s = v.getOrDefault(key, dflt);
        if (s.isEmpty()) {
            throw new ConfigException(key + " must not be empty");
        }
        return Path.of(s);
    }

    private static boolean bool(Map<String, String> v, String key, boolean dflt) throws ConfigException {
        String s = v.get(key);
        if (s == null) {
            return dflt;
        }
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "true", "yes", "on", "1" -> true;
            case "false", "no", "off", "0" -> false;
            default -> throw new ConfigException(key + " must be true or false, not '" + s + "'");
        };
    }

    private static int positive(Map<String, String> v, String key, int dflt) throws ConfigException {
        String s = v.get(key);
        if (s == null) {
            return dflt;
        }
        try {
            int n = Integer.parseInt(s.strip());
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // fall through to the error
        }
        throw new ConfigException(key + " must be a positive integer, not '" + s + "'");
    }

    /** {@code 30}, {@code 30s}, {@code 500ms}, {@code 2m}, {@code 1h}; a bare number is seconds. */
    static Duration duration(Map<String, String> v, String key, String dflt) throws ConfigException {
        String s = v.getOrDefault(key, dflt).strip();
        Matcher m = DURATION.matcher(s);
        if (!m.matches()) {
            throw new ConfigException(key + " must be a duration such as 30s, 500ms or 2m, not '" + s + "'");
        }
        double n = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        double ms = switch (unit) {
            case "ms" -> n;
            case "m" -> n * 60_000;
            case "h" -> n * 3_600_000;
            default -> n * 1000;
        };
        return Duration.ofMillis((long) ms);
    }

    /** The control domain's uuid from the XenServer inventory, or {@code "0"} off a host. */
    static String defaultBackendDomain() {
        Path inventory = Path.of("/etc/xensource-inventory");
        try {
            for (String line : Files.readAllLines(inventory, StandardCharsets.UTF_8)) {
                if (line.startsWith("CONTROL_DOMAIN_UUID=")) {
                    return line.substring("CONTROL_DOMAIN_UUID=".length()).replace("'", "").strip();
                }
            }
        } catch (IOException e) {
            // not a XenServer host
        }
        return "0";
    }
}
