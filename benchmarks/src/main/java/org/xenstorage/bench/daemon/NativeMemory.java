package org.xenstorage.bench.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JVM's native memory tracking of a process started with {@code -XX:NativeMemoryTracking=summary}: what each
 * part (Java heap, threads, code, metaspace, GC, malloc'd internals) has committed, read with the runtime's jcmd.
 */
final class NativeMemory {
    private static final Pattern TOTAL = Pattern.compile("^Total: reserved=(\\d+)KB, committed=(\\d+)KB");
    private static final Pattern PART = Pattern.compile("^-\\s+(.+?) \\(reserved=(\\d+)KB, committed=(\\d+)KB\\)");
    private static final Pattern THREADS = Pattern.compile("^\\s+\\(thread #(\\d+)\\)");

    private NativeMemory() {
    }

    /** {@code jcmd <pid> VM.native_memory summary}, its text (or why there is none). */
    static String summary(long pid) {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        try {
            Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), "VM.native_memory", "summary")
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            return out;
        } catch (IOException e) {
            return "jcmd failed: " + e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /** Committed KiB by part ("Total" first), and "threads" the thread count. */
    static Map<String, Long> committed(String summary) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String line : summary.split("\n")) {
            Matcher t = TOTAL.matcher(line);
            Matcher m = PART.matcher(line);
            Matcher n = THREADS.matcher(line);
            if (t.find()) {
                out.put("Total", Long.parseLong(t.group(2)));
            } else if (m.find()) {
                out.put(m.group(1).trim(), Long.parseLong(m.group(3)));
            } else if (n.find() && !out.containsKey("threads")) {
                out.put("threads", Long.parseLong(n.group(1)));
            }
        }
        return out;
    }

    /** A markdown table: committed MiB per part before and after, the parts that moved by 0.5 MiB or more. */
    static String compare(String before, String after) {
        Map<String, Long> b = committed(before);
        Map<String, Long> a = committed(after);
        if (a.isEmpty()) {
            return "native memory tracking: no summary\n" + after + "\n";
        }
        StringBuilder s = new StringBuilder("| NMT committed | before the storm | after | change |\n|---|---:|---:|---:|\n");
        for (Map.Entry<String, Long> e : a.entrySet()) {
            long was = b.getOrDefault(e.getKey(), 0L);
            long now = e.getValue();
            if (e.getKey().equals("threads")) {
                s.append(String.format(Locale.ROOT, "| threads (count) | %d | %d | %+d |%n", was, now, now - was));
            } else if (Math.abs(now - was) >= 512 || e.getKey().equals("Total") || now >= 10240) {
                s.append(String.format(Locale.ROOT, "| %s | %.1f MiB | %.1f MiB | %+.1f MiB |%n", e.getKey(),
                        was / 1024.0, now / 1024.0, (now - was) / 1024.0));
            }
        }
        return s.toString();
    }
}
