package org.xenstorage.messageswitch.client;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Turns whatever a future failed with into the {@link SwitchException} callers are promised. */
final class Failures {
    private Failures() {
    }

    static Throwable strip(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    static SwitchException asSwitch(Throwable t, String queue, SwitchException.Kind otherwise) {
        Throwable s = strip(t);
        if (s instanceof java.util.concurrent.TimeoutException) {
            return new SwitchException(SwitchException.Kind.TIMEOUT, queue, "the switch did not answer in time", s);
        }
        if (s instanceof SwitchException se) {
            return se.queue() == null && queue != null ? new SwitchException(se.kind(), queue, se.getMessage(), se) : se;
        }
        return new SwitchException(otherwise, queue, String.valueOf(s.getMessage()), s);
    }
}
