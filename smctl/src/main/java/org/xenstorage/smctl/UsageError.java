package org.xenstorage.smctl;

/** A command line that names a real command but gives it a value it cannot take; exits with {@link ExitStatus#USAGE}. */
final class UsageError extends RuntimeException {
    UsageError(String message) {
        super(message, null, false, false);
    }
}
