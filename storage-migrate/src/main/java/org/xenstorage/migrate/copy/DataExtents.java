package org.xenstorage.migrate.copy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.exec.ChildProcessRunner;
import org.xenstorage.exec.ExecRequest;
import org.xenstorage.exec.ExecResult;

/**
 * Finds where a sparse regular file holds data, so the copier never reads its holes
 * ({@code lseek(SEEK_DATA/SEEK_HOLE)}, which Java cannot call). The JDK has no binding for those
 * whence values, so a tiny stdlib-only Python 3 program does the seeking and prints one
 * {@code start end} pair per data extent; it runs through {@link ChildProcessRunner} like every child.
 *
 * <p>Any failure (no interpreter, odd output, a filesystem without hole support) yields
 * {@link Optional#empty()}: the caller then reads the whole range, which is slower but still
 * correct, because zero blocks are detected in memory anyway.
 */
public final class DataExtents {
    private static final Logger LOG = LoggerFactory.getLogger(DataExtents.class);

    /** One data extent: bytes {@code [start, end)} may be non-zero; everything outside is a hole. */
    public record Extent(long start, long end) {
        public Extent {
            if (start < 0 || end < start) {
                throw new IllegalArgumentException("bad extent " + start + ".." + end);
            }
        }

        public long length() {
            return end - start;
        }
    }

    // Prints "start end" per data extent. ENXIO from SEEK_DATA means "no more data".
    private static final String PROGRAM = String.join("\n",
            "import errno, os, sys",
            "fd = os.open(sys.argv[1], os.O_RDONLY)",
            "end = os.fstat(fd).st_size",
            "off = 0",
            "out = []",
            "while off < end:",
            "    try:",
            "        d = os.lseek(fd, off, os.SEEK_DATA)",
            "    except OSError as e:",
            "        if e.errno == errno.ENXIO:",
            "            break",
            "        raise",
            "    h = os.lseek(fd, d, os.SEEK_HOLE)",
            "    out.append('%d %d' % (d, h))",
            "    off = h",
            "sys.stdout.write('\\n'.join(out) + '\\n')",
            "");

    private final ChildProcessRunner runner;
    private final Optional<Path> python;

    /**
     * @param runner the process runner
     * @param python absolute path of a Python 3 interpreter; empty disables extent mapping
     */
    public DataExtents(ChildProcessRunner runner, Optional<Path> python) {
        this.runner = runner;
        this.python = python;
    }

    /** Uses {@code /usr/bin/python3} when it exists. */
    public static DataExtents withSystemPython(ChildProcessRunner runner) {
        Path p = Path.of("/usr/bin/python3");
        return new DataExtents(runner, Files.isExecutable(p) ? Optional.of(p) : Optional.empty());
    }

    /** A mapper that never maps (every byte is read). */
    public static DataExtents disabled() {
        return new DataExtents(null, Optional.empty());
    }

    /**
     * The data extents of {@code file}, sorted and disjoint, or empty when they cannot be known
     * (not a regular file, mapping disabled or failed).
     */
    public Optional<List<Extent>> of(Path file) {
        if (python.isEmpty() || runner == null || !Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            ExecRequest request = ExecRequest.of(
                            List.of(python.get().toString(), "-I", "-c", PROGRAM, file.toAbsolutePath().toString()),
                            Map.of("LC_ALL", "C"), Duration.ofMinutes(2))
                    .withMaxStdoutBytes(64 << 20);
            ExecResult result = runner.run(request);
            if (!result.succeeded()) {
                LOG.warn("extent map of {} failed ({} {}): reading the whole file", file, result.termination(),
                        result.stderrText().strip());
                return Optional.empty();
            }
            return Optional.of(parse(result.stdoutText()));
        } catch (IOException | RuntimeException e) {
            LOG.warn("extent map of {} failed: reading the whole file", file, e);
            return Optional.empty();
        }
    }

    static List<Extent> parse(String text) {
        List<Extent> extents = new ArrayList<>();
        long last = 0;
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] parts = line.trim().split(" ");
            if (parts.length != 2) {
                throw new IllegalArgumentException("bad extent line: " + line);
            }
            Extent e = new Extent(Long.parseLong(parts[0]), Long.parseLong(parts[1]));
            if (e.start() < last) {
                throw new IllegalArgumentException("extents out of order at " + line);
            }
            last = e.end();
            extents.add(e);
        }
        return extents;
    }
}
