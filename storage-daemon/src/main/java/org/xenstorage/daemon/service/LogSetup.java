package org.xenstorage.daemon.service;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.FileAppender;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xenstorage.daemon.config.DaemonConfig;

/** Applies {@code log-level} and {@code log-file} on top of the packaged {@code logback.xml}. */
public final class LogSetup {
    /**
     * Every line: time, level, thread, logger, then the call's queue and dbg (MDC), then the message with its line
     * breaks printed as {@code \n} (one event, one line: a caller's text cannot start a line of its own). The same
     * as the packaged {@code logback.xml}.
     */
    public static final String PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level [%thread] %logger{20}"
            + " queue=%X{queue:--} dbg=%X{dbg:--} %replace(%msg){'[\\r\\n\\u2028\\u2029\\u0085]', '\\\\n'}%n";

    private LogSetup() {
    }

    public static void apply(DaemonConfig config) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
            return;
        }
        ch.qos.logback.classic.Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        if (config.sources().containsKey("log-level")) {
            root.setLevel(Level.toLevel(config.logLevel(), Level.INFO));
        }
        config.logFile().ifPresent(path -> {
            PatternLayoutEncoder enc = new PatternLayoutEncoder();
            enc.setContext(ctx);
            enc.setPattern(PATTERN);
            enc.start();
            FileAppender<ILoggingEvent> file = new FileAppender<>();
            file.setContext(ctx);
            file.setName("file");
            file.setFile(path.toString());
            file.setEncoder(enc);
            file.start();
            root.addAppender(file);
        });
    }
}
