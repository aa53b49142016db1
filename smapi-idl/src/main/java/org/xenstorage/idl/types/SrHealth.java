package org.xenstorage.idl.types;

/** {@code sr_health}. */
public enum SrHealth {
    Healthy, Recovering, Unreachable, Unavailable
}
