package org.xenstorage.logging;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.MDC;

/**
 * The call a thread works on, as the SLF4J MDC keys every log line prints: {@code queue} (where the call
 * arrived) and {@code dbg} (the caller's debug string). A call crosses threads (the mux's event loop, its
 * workers, a backend's request threads, task threads); each hop carries the context with {@link #wrap} or a
 * {@link #propagating} executor, so {@code grep <dbg>} on the log finds every line of one call.
 *
 * <p>The {@code dbg} comes from the caller: only its log part goes to the MDC ({@link #logPart}: xapi sends
 * {@code "<text>\n<trace context>"}), made one printable line of bounded length by {@link #sanitise}, so no
 * caller can end a log line early and forge the next one.
 */
public final class CallContext {
    /** MDC key of the caller's debug string. */
    public static final String DBG = "dbg";
    /** MDC key of the queue the call arrived on. */
    public static final String QUEUE = "queue";
    /** Longest text kept from a caller's value; the rest is cut and marked with {@code ...}. */
    public static final int MAX_CHARS = 256;

    private CallContext() {
    }

    /**
     * {@code text} as one printable line: control characters (newlines, tabs, escape, C1 controls), the Unicode
     * line and paragraph separators and the bidirectional overrides become escapes ({@code \n}, {@code \t},
     * {@code \x1b}, {@code \u2028}), text past {@link #MAX_CHARS} is cut. Null becomes the empty string.
     */
    public static String sanitise(String text) {
        return sanitise(text, MAX_CHARS);
    }

    /** As {@link #sanitise(String)}, keeping at most {@code maxChars} characters of the input. */
    public static String sanitise(String text, int maxChars) {
        if (text == null) {
            return "";
        }
        boolean clean = text.length() <= maxChars;
        for (int i = 0; clean && i < text.length(); i++) {
            clean = !unsafe(text.charAt(i));
        }
        if (clean) {
            return text;
        }
        int end = Math.min(text.length(), maxChars);
        StringBuilder b = new StringBuilder(end + 16);
        for (int i = 0; i < end; i++) {
            char c = text.charAt(i);
            if (!unsafe(c)) {
                b.append(c);
            } else if (c == '\n') {
                b.append("\\n");
            } else if (c == '\r') {
                b.append("\\r");
            } else if (c == '\t') {
                b.append("\\t");
            } else if (c < 0x100) {
                b.append(String.format("\\x%02x", (int) c));
            } else {
                b.append(String.format("\\u%04x", (int) c));
            }
        }
        if (end < text.length()) {
            b.append("...");
        }
        return b.toString();
    }

    private static boolean unsafe(char c) {
        return Character.isISOControl(c) // C0, DEL and C1 (NEL, U+0085, ends a line for some readers)
                || c == '\u2028' || c == '\u2029' // line and paragraph separators
                || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069'); // bidi overrides
    }

    /** What of a {@code dbg} names the call in logs: the text before its first newline (a trace context follows). */
    public static String logPart(String dbg) {
        if (dbg == null) {
            return "";
        }
        int nl = dbg.indexOf('\n');
        return nl < 0 ? dbg : dbg.substring(0, nl);
    }

    /** The call context of this thread now (null when it has none), for {@link #wrap(Map, Runnable)}. */
    public static Map<String, String> capture() {
        return MDC.getCopyOfContextMap();
    }

    /**
     * Makes this thread work for the call ({@code queue}, {@code dbg}) until the scope closes, which restores
     * what the thread had before (a backend handler may run on the caller's thread, whose own call goes on
     * after it). Only the {@link #logPart} of {@code dbg} is kept, sanitised; an empty one prints as {@code -}.
     */
    public static Scope enter(String queue, String dbg) {
        String oldQueue = MDC.get(QUEUE);
        String oldDbg = MDC.get(DBG);
        put(QUEUE, queue == null ? null : sanitise(queue));
        put(DBG, sanitise(logPart(dbg)));
        return () -> {
            put(QUEUE, oldQueue);
            put(DBG, oldDbg);
        };
    }

    /** Runs {@code body} with this thread's current context, on whatever thread runs the result. */
    public static Runnable wrap(Runnable body) {
        return wrap(capture(), body);
    }

    /** Runs {@code body} with {@code context} (from {@link #capture}), restoring the running thread's own after. */
    public static Runnable wrap(Map<String, String> context, Runnable body) {
        return () -> {
            Map<String, String> before = capture();
            set(context);
            try {
                body.run();
            } finally {
                set(before);
            }
        };
    }

    /** A supplier that runs with this thread's current context, wherever it runs. */
    public static <T> Supplier<T> wrap(Supplier<T> body) {
        return wrap(capture(), body);
    }

    /** A supplier that runs with {@code context}, restoring the running thread's own after. */
    public static <T> Supplier<T> wrap(Map<String, String> context, Supplier<T> body) {
        return () -> {
            Map<String, String> before = capture();
            set(context);
            try {
                return body.get();
            } finally {
                set(before);
            }
        };
    }

    /** A function that runs with this thread's current context, wherever it runs. */
    public static <A, R> Function<A, R> wrapFunction(Function<A, R> body) {
        Map<String, String> context = capture();
        return a -> {
            Map<String, String> before = capture();
            set(context);
            try {
                return body.apply(a);
            } finally {
                set(before);
            }
        };
    }

    /** A two-argument function (a future's {@code handle}) that runs with this thread's current context. */
    public static <A, B, R> BiFunction<A, B, R> wrapBiFunction(BiFunction<A, B, R> body) {
        Map<String, String> context = capture();
        return (a, b) -> {
            Map<String, String> before = capture();
            set(context);
            try {
                return body.apply(a, b);
            } finally {
                set(before);
            }
        };
    }

    /**
     * Runs {@code then} when {@code future} completes, wherever it completes, with this thread's current context
     * (a call's last log line, written by whichever thread completes its reply).
     */
    public static <T> void whenDone(CompletableFuture<T> future, BiConsumer<? super T, ? super Throwable> then) {
        Map<String, String> context = capture();
        future.whenComplete((value, failure) -> wrap(context, () -> then.accept(value, failure)).run());
    }

    /**
     * An executor whose tasks run with the context of the thread that submitted them (a task a call starts
     * logs under the call's dbg).
     */
    public static Executor propagating(Executor executor) {
        return task -> executor.execute(wrap(task));
    }

    private static void set(Map<String, String> context) {
        if (context == null || context.isEmpty()) {
            MDC.clear();
        } else {
            MDC.setContextMap(context);
        }
    }

    private static void put(String key, String value) {
        if (value == null || value.isEmpty()) {
            MDC.remove(key);
        } else {
            MDC.put(key, value);
        }
    }

    /** What {@link #enter} changed, undone by {@link #close()}. */
    @FunctionalInterface
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }
}
