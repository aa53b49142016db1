package org.xenstorage.messageswitch.protocol;

/** Who sent a queued message: a logged-in session name, or an anonymous connection id. */
public sealed interface Origin {
    /** A connection that never logged in. */
    record Anonymous(String connection) implements Origin {
    }

    /** A connection of the session with this login token. */
    record Name(String session) implements Origin {
    }
}
