package org.xenstorage.smctl;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;

/**
 * Progress of a followed task on stderr: a redrawn bar on a terminal, one {@code progress: N%} line per whole
 * percent otherwise (logs and pipes stay readable), or nothing.
 */
abstract class ProgressDisplay {
    static final int BAR_WIDTH = 30;

    /** Shows the fraction done (0..1) after {@code elapsed}. */
    abstract void update(double fraction, Duration elapsed);

    /** Ends the display; {@code completed} draws 100%. */
    abstract void finish(boolean completed, Duration elapsed);

    static ProgressDisplay create(CommonOptions.Progress mode, Terminal terminal, long totalBytes) {
        return switch (mode) {
            case NONE -> new None();
            case BAR -> new Bar(terminal.err(), totalBytes);
            case LINES -> new Lines(terminal.err());
            case AUTO -> terminal.errIsTty() ? new Bar(terminal.err(), totalBytes) : new Lines(terminal.err());
        };
    }

    static double clamp(double f) {
        return Double.isFinite(f) ? Math.max(0, Math.min(1, f)) : 0;
    }

    /** Nothing at all. */
    static final class None extends ProgressDisplay {
        @Override
        void update(double fraction, Duration elapsed) {
        }

        @Override
        void finish(boolean completed, Duration elapsed) {
        }
    }

    /** {@code progress: 45%} whenever the whole percentage moves. */
    static final class Lines extends ProgressDisplay {
        private final PrintStream err;
        private int shown = -1;

        Lines(PrintStream err) {
            this.err = err;
        }

        @Override
        void update(double fraction, Duration elapsed) {
            int percent = (int) Math.floor(clamp(fraction) * 100);
            if (percent != shown) {
                shown = percent;
                err.println("progress: " + percent + "%");
                err.flush();
            }
        }

        @Override
        void finish(boolean completed, Duration elapsed) {
            if (completed) {
                update(1.0, elapsed);
            }
        }
    }

    /** {@code [###########-------------------]  37.5%  118 MiB/s}, redrawn in place with a carriage return. */
    static final class Bar extends ProgressDisplay {
        private final PrintStream err;
        private final long totalBytes;
        private boolean drawn;

        Bar(PrintStream err, long totalBytes) {
            this.err = err;
            this.totalBytes = totalBytes;
        }

        @Override
        void update(double fraction, Duration elapsed) {
            err.print("\r" + line(clamp(fraction), elapsed, totalBytes));
            err.flush();
            drawn = true;
        }

        @Override
        void finish(boolean completed, Duration elapsed) {
            if (completed) {
                update(1.0, elapsed);
            }
            if (drawn) {
                err.println();
                err.flush();
            }
        }

        static String line(double fraction, Duration elapsed, long totalBytes) {
            int filled = (int) Math.round(fraction * BAR_WIDTH);
            StringBuilder sb = new StringBuilder("[");
            sb.append("#".repeat(filled)).append("-".repeat(BAR_WIDTH - filled)).append("] ");
            sb.append(String.format(Locale.ROOT, "%5.1f%%", fraction * 100));
            double seconds = elapsed.toNanos() / 1e9;
            if (totalBytes > 0 && seconds > 0) {
                sb.append("  ").append(Units.rate(fraction * totalBytes / seconds));
            }
            return sb.toString();
        }
    }
}
