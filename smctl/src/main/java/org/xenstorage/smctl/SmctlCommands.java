package org.xenstorage.smctl;

import picocli.CommandLine;

/** The picocli model of every smctl command, for tools that document them. */
public final class SmctlCommands {
    private SmctlCommands() {
    }

    /**
     * The picocli model of every command, as {@code smctl help} and {@code smctl completion} see it: what the
     * package's man pages and bash completion are generated from.
     */
    public static CommandLine commandLine() {
        return PicocliRun.commandLine();
    }
}
