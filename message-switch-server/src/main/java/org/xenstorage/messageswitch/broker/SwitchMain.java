package org.xenstorage.messageswitch.broker;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Runs the embedded broker on its own, like upstream's {@code message-switch} daemon: a Unix
 * socket ({@code --path}) and/or a loopback TCP port, persistent queues in {@code --statedir}.
 * Stops on SIGTERM/SIGINT or a {@code /shutdown} request.
 */
@Command(name = "message-switch", mixinStandardHelpOptions = true, version = "message-switch (xenstorage) 0.1.0",
        description = "Embedded message-switch broker (upstream wire protocol).")
public final class SwitchMain implements Callable<Integer> {

    @Option(names = "--path", description = "Unix socket to listen on (default ${DEFAULT-VALUE}; '' for none)",
            defaultValue = "/var/run/message-switch/sock")
    String path;

    @Option(names = "--port", description = "also listen on this TCP port on the loopback address (0: any free port)")
    Integer port;

    @Option(names = "--statedir", description = "directory for persistent queues (default ${DEFAULT-VALUE})",
            defaultValue = "var/message-switch")
    Path stateDir;

    @Override
    public Integer call() throws Exception {
        Optional<Path> unix = path.isEmpty() ? Optional.empty() : Optional.of(Path.of(path));
        Optional<InetSocketAddress> tcp = port == null ? Optional.empty()
                : Optional.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        if (unix.isEmpty() && tcp.isEmpty()) {
            throw new CommandLine.ParameterException(new CommandLine(this), "give --path and/or --port");
        }
        EmbeddedSwitch sw = EmbeddedSwitch.start(unix, tcp, stateDir);
        Runtime.getRuntime().addShutdownHook(new Thread(sw::close, "switch-stop"));
        String where = (unix.map(p -> "unix:" + p + " ").orElse("")
                + (sw.tcpPort() >= 0 ? "tcp:127.0.0.1:" + sw.tcpPort() : "")).trim();
        System.err.println("message-switch listening on " + where + "; state in " + stateDir);
        sw.awaitTermination();
        return 0;
    }

    public static void main(String[] args) {
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "message-switch-logback.xml");
        }
        System.exit(new CommandLine(new SwitchMain()).execute(args));
    }
}
