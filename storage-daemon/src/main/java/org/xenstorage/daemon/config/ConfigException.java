package org.xenstorage.daemon.config;

/** A configuration the daemon cannot start with; the message says which key and why. */
public final class ConfigException extends Exception {
    public ConfigException(String message) {
        super(message);
    }
}
