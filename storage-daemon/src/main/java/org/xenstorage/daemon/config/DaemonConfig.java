package org.xenstorage.daemon.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Everything the daemon is configured with, after file, drop-ins and flags were merged (see
 * {@link ConfigLoader} for the keys, defaults and precedence).
 *
 * @param poolMaster    embedded mode: the pool master's address when this daemon is a pool member
 * @param sharedSrTypes embedded mode: SR types whose SRs are shared in the pool
 * @param runDir       attach state, which no longer holds after a reboot (host mode: a tmpfs, as upstream)
 * @param bootIdFile   the current boot's id; attach state recorded in another boot is set aside at start
 * @param smapiv3State the SMAPIv3 bridge's {@code state.db} ({@code datapaths.json} lives beside it)
 * @param remote       the remote SMAPIv2 endpoint, when {@code remote-listen} is set
 * @param remoteCaBundle PEM certificates that a copy to another host's https endpoint verifies against with
 *                     {@code verify_dest} ({@code remote-ca-bundle}; empty: the JVM's CA store)
 * @param sources where each key's value came from ({@code default}, a file path, or {@code flag}), for the log
 */
public record DaemonConfig(
        Mode mode,
        Role role,
        Path stateDir,
        Path switchPath,
        Path smDir,
        Path pluginRoot,
        String queuePrefix,
        boolean smapiv1,
        boolean smapiv3,
        Duration callTimeout,
        Duration fanoutTimeout,
        Duration driverTimeout,
        Duration scriptTimeout,
        boolean killOnTimeout,
        int workers,
        int maxInflight,
        boolean muxInProcess,
        int backendConcurrency,
        Duration discoveryInterval,
        Duration shutdownGrace,
        Optional<Path> xapiSocket,
        String backendDomain,
        Map<String, String> smEnvironment,
        boolean preferNbdAttach,
        Optional<Path> inventoryFile,
        Optional<String> poolMaster,
        Set<String> sharedSrTypes,
        Optional<Path> logFile,
        String logLevel,
        Path runDir,
        Path bootIdFile,
        Path smapiv3State,
        Optional<RemoteEndpointConfig> remote,
        Optional<Path> remoteCaBundle,
        Map<String, String> sources) {

    public DaemonConfig {
        sharedSrTypes = Set.copyOf(sharedSrTypes);
        sources = Map.copyOf(sources);
        smEnvironment = Map.copyOf(smEnvironment);
    }
}
