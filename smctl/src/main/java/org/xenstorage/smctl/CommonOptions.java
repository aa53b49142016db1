package org.xenstorage.smctl;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.xenstorage.messageswitch.client.SwitchAddress;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * The options every smctl command takes, before or after the command name.
 *
 * @param address     the message-switch to connect to
 * @param queuePrefix the daemon's queue prefix; the mux queue is the prefix itself
 * @param timeout     how long one call may wait for its reply
 * @param dbg         the {@code dbg} string sent with every call (shows in the daemon's logs); unique per run
 *                    unless {@code --dbg} sets it
 * @param json        print results as their wire JSON
 * @param progress    how a followed task shows its progress
 * @param verbose     say on stderr what is sent (the dbg to grep the daemon's log for)
 */
record CommonOptions(SwitchAddress address, String queuePrefix, Duration timeout, String dbg, boolean json,
                     Progress progress, boolean verbose) {

    /** How progress of a followed task is drawn on stderr. */
    enum Progress {
        /** a bar when stderr is a terminal, percentage lines otherwise */
        AUTO,
        BAR,
        LINES,
        NONE
    }

    static final String SWITCH_PATH = "--switch-path";
    static final String SWITCH = "--switch";
    static final String QUEUE_PREFIX = "--queue-prefix";
    static final String TIMEOUT = "--timeout";
    static final String DBG = "--dbg";
    static final String JSON = "--json";
    static final String PROGRESS = "--progress";
    static final String VERBOSE = "--verbose";

    /** Option names no generated parameter option may take (plus picocli's help options). */
    static final Set<String> RESERVED = Set.of(SWITCH_PATH, SWITCH, QUEUE_PREFIX, TIMEOUT, DBG, JSON, PROGRESS,
            VERBOSE, "--help", "--version");

    /** The common options followed by a separate value word. */
    static final Set<String> TAKES_VALUE = Set.of(SWITCH_PATH, SWITCH, QUEUE_PREFIX, TIMEOUT, DBG, PROGRESS);

    static final String DEFAULT_QUEUE_PREFIX = "org.xen.xapi.storage";
    static final long DEFAULT_TIMEOUT_SECONDS = 120;
    /** What the default dbg starts with; {@link #newDbg} adds the host and a random part. */
    static final String DEFAULT_DBG = "smctl";

    /**
     * This run's dbg: {@code smctl-<host>-<8 hex digits>}, so that {@code grep} on the daemon's log finds this
     * run's calls and no other's. The host name comes from the kernel (no DNS lookup at start-up).
     */
    static String newDbg() {
        String host;
        try {
            host = java.nio.file.Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (java.io.IOException | RuntimeException e) {
            host = "";
        }
        StringBuilder kept = new StringBuilder(host.length());
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            if (isAsciiLetterOrDigit(c) || c == '.' || c == '-') {
                kept.append(c);
            }
        }
        host = kept.toString();
        return DEFAULT_DBG + "-" + (host.isEmpty() ? "localhost" : host) + "-"
                + hex8(java.util.concurrent.ThreadLocalRandom.current().nextInt());
    }

    /**
     * Whether {@code s} is a queue (or type) name: one or more ASCII letters, digits, '.', '_' or '-' (the regex
     * {@code [A-Za-z0-9._-]+}, checked without compiling one at start-up).
     */
    static boolean isQueueName(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!(isAsciiLetterOrDigit(c) || c == '.' || c == '_' || c == '-')) {
                return false;
            }
        }
        return true;
    }

    private static boolean isAsciiLetterOrDigit(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    }

    /** As {@code String.format("%08x", n)}, without loading the formatter at start-up. */
    static String hex8(int n) {
        String h = Integer.toHexString(n);
        return "00000000".substring(h.length()) + h;
    }

    /**
     * The socket of the daemon's embedded switch with the default state dir. {@code scripts/smctl} passes the
     * absolute form (system property {@code smctl.defaultSwitchPath}) so the default works from any directory.
     */
    static String defaultSwitchPath() {
        return System.getProperty("smctl.defaultSwitchPath", "./var/message-switch.sock");
    }

    /** Adds the common options to a command (the top level and every sub-command carry them). */
    static void addTo(CommandSpec spec) {
        spec.addOption(OptionSpec.builder(SWITCH_PATH).paramLabel("<socket>").type(String.class)
                .description("Unix socket of the message-switch (default: " + defaultSwitchPath()
                        + "; on a XenServer host: " + SwitchAddress.HOST_DEFAULT_SOCKET + ")").build());
        spec.addOption(OptionSpec.builder(SWITCH).paramLabel("<address>").type(String.class)
                .description("switch address instead of --switch-path: tcp:<host>:<port>, unix:<path>").build());
        spec.addOption(OptionSpec.builder(QUEUE_PREFIX).paramLabel("<prefix>").type(String.class)
                .description("the daemon's queue prefix (default: " + DEFAULT_QUEUE_PREFIX + ")").build());
        spec.addOption(OptionSpec.builder(TIMEOUT).paramLabel("<seconds>").type(String.class)
                .description("reply timeout of each call, seconds (default: " + DEFAULT_TIMEOUT_SECONDS + ")").build());
        spec.addOption(OptionSpec.builder(DBG).paramLabel("<text>").type(String.class)
                .description("the dbg string sent with each call (default: " + DEFAULT_DBG
                        + "-<host>-<random>, new for each run)").build());
        spec.addOption(OptionSpec.builder(JSON).type(boolean.class).arity("0")
                .description("print the result as its wire JSON").build());
        spec.addOption(OptionSpec.builder(PROGRESS).paramLabel("<auto|bar|lines|none>").type(String.class)
                .description("task progress on stderr (default: auto = bar on a terminal, lines otherwise)").build());
        spec.addOption(OptionSpec.builder(VERBOSE).type(boolean.class).arity("0")
                .description("print on stderr the dbg sent (grep the daemon's log for it) and where it goes").build());
    }

    /** Reads the options from the parse of the top level and of the sub-command (the later one wins). */
    static CommonOptions from(List<ParseResult> levels) {
        java.util.Map<String, String> given = new java.util.HashMap<>();
        for (String option : TAKES_VALUE) {
            String value = last(levels, option);
            if (value != null) {
                given.put(option, value);
            }
        }
        return of(given, levels.stream().anyMatch(l -> l.hasMatchedOption(JSON)),
                levels.stream().anyMatch(l -> l.hasMatchedOption(VERBOSE)));
    }

    /**
     * The options from their values as given ({@code last}: by option name, the value a command line gave it last;
     * absent when not given), checked and defaulted. The picocli parse and smctl's fast path both come here, so a
     * value either refuses is refused with the same words.
     */
    static CommonOptions of(java.util.Map<String, String> last, boolean json, boolean verbose) {
        String switchPath = last.get(SWITCH_PATH);
        String switchText = last.get(SWITCH);
        if (switchPath != null && switchText != null) {
            throw new UsageError("give either " + SWITCH_PATH + " or " + SWITCH + ", not both");
        }
        SwitchAddress address;
        try {
            address = switchText != null ? SwitchAddress.parse(switchText)
                    : SwitchAddress.unix(Path.of(switchPath != null ? switchPath : defaultSwitchPath()));
        } catch (IllegalArgumentException e) {
            throw new UsageError((switchText != null ? SWITCH : SWITCH_PATH) + ": " + e.getMessage());
        }
        String prefix = orDefault(last.get(QUEUE_PREFIX), DEFAULT_QUEUE_PREFIX);
        if (!isQueueName(prefix)) {
            throw new UsageError(QUEUE_PREFIX + ": expected a queue name (letters, digits, '.', '_', '-'), got '"
                    + prefix + "'");
        }
        String timeoutText = last.get(TIMEOUT);
        Duration timeout = Duration.ofSeconds(DEFAULT_TIMEOUT_SECONDS);
        if (timeoutText != null) {
            try {
                double seconds = Double.parseDouble(timeoutText);
                if (!(seconds > 0) || seconds > 86_400 * 7) {
                    throw new NumberFormatException();
                }
                timeout = Duration.ofMillis(Math.round(seconds * 1000));
            } catch (NumberFormatException e) {
                throw new UsageError(TIMEOUT + ": expected a positive number of seconds, got '" + timeoutText + "'");
            }
        }
        String progressText = orDefault(last.get(PROGRESS), "auto");
        Progress progress;
        try {
            progress = Progress.valueOf(progressText.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new UsageError(PROGRESS + ": expected auto, bar, lines or none, got '" + progressText + "'");
        }
        String dbg = last.get(DBG);
        return new CommonOptions(address, prefix, timeout, dbg != null ? dbg : newDbg(), json, progress, verbose);
    }

    private static String last(List<ParseResult> levels, String option) {
        String value = null;
        for (ParseResult l : levels) {
            if (l.hasMatchedOption(option)) {
                value = l.matchedOptionValue(option, null);
            }
        }
        return value;
    }

    private static String orDefault(String v, String d) {
        return v == null ? d : v;
    }
}
