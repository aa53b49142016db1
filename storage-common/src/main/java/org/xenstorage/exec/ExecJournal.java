package org.xenstorage.exec;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Benchmark instrumentation, off unless the environment variable {@value #VARIABLE} names a file: every program
 * {@link ChildProcessRunner} starts is appended to it as one line (argv, environment, stdin, working directory),
 * so that a harness can run the very same execs again without the daemon and compare (the boot-storm benchmark's
 * "ideal"). The file is created 0600: SM driver arguments carry session references. Not for production hosts.
 *
 * <p>Line format: tab-separated, each field Base64 (so any byte survives): working directory (empty: none),
 * stdin, the argument count, the arguments, the environment entry count, then {@code KEY=VALUE} entries.
 */
public final class ExecJournal {
    /** The environment variable naming the journal file. */
    public static final String VARIABLE = "XENSTORAGE_EXEC_JOURNAL";
    private static final Logger LOG = LoggerFactory.getLogger(ExecJournal.class);
    private static final Optional<ExecJournal> FROM_ENVIRONMENT = open(System.getenv(VARIABLE));

    private final FileChannel out;

    private ExecJournal(FileChannel out) {
        this.out = out;
    }

    static Optional<ExecJournal> fromEnvironment() {
        return FROM_ENVIRONMENT;
    }

    private static Optional<ExecJournal> open(String file) {
        if (file == null || file.isBlank()) {
            return Optional.empty();
        }
        try {
            Path p = Path.of(file);
            if (!Files.exists(p)) {
                Files.createFile(p, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            }
            LOG.warn("recording every exec into {} ({} is set: benchmark instrumentation)", p, VARIABLE);
            return Optional.of(new ExecJournal(FileChannel.open(p, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND)));
        } catch (IOException | RuntimeException e) {
            LOG.error("cannot open the exec journal {}: {}", file, e.toString());
            return Optional.empty();
        }
    }

    /** Appends one exec (one write call, so concurrent lines never interleave). */
    void record(ExecRequest r) {
        try {
            out.write(java.nio.ByteBuffer.wrap(encode(r).getBytes(StandardCharsets.US_ASCII)));
        } catch (IOException e) {
            LOG.warn("cannot write the exec journal: {}", e.toString());
        }
    }

    static String encode(ExecRequest r) {
        Base64.Encoder b64 = Base64.getEncoder();
        List<String> f = new ArrayList<>();
        f.add(r.workingDir() == null ? "" : b64.encodeToString(utf8(r.workingDir().toString())));
        f.add(b64.encodeToString(r.stdin()));
        f.add(Integer.toString(r.argv().size()));
        r.argv().forEach(a -> f.add(b64.encodeToString(utf8(a))));
        f.add(Integer.toString(r.environment().size()));
        r.environment().forEach((k, v) -> f.add(b64.encodeToString(utf8(k + "=" + v))));
        return String.join("\t", f) + "\n";
    }

    /** One exec read back from a journal line. */
    public record Entry(Optional<Path> workingDir, byte[] stdin, List<String> argv, Map<String, String> environment) {
    }

    /** Parses one journal line (with or without its newline). */
    public static Entry parse(String line) {
        Base64.Decoder d = Base64.getDecoder();
        String[] f = (line.endsWith("\n") ? line.substring(0, line.length() - 1) : line).split("\t", -1);
        int i = 0;
        String cwd = f[i++];
        byte[] stdin = d.decode(f[i++]);
        int argc = Integer.parseInt(f[i++]);
        List<String> argv = new ArrayList<>();
        for (int k = 0; k < argc; k++) {
            argv.add(new String(d.decode(f[i++]), StandardCharsets.UTF_8));
        }
        int envc = Integer.parseInt(f[i++]);
        Map<String, String> env = new LinkedHashMap<>();
        for (int k = 0; k < envc; k++) {
            String kv = new String(d.decode(f[i++]), StandardCharsets.UTF_8);
            int eq = kv.indexOf('=');
            env.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return new Entry(cwd.isEmpty() ? Optional.empty()
                : Optional.of(Path.of(new String(d.decode(cwd), StandardCharsets.UTF_8))), stdin, argv, env);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
