package org.xenstorage.smapiv3.idl;

import org.xenstorage.idl.types.SrHealth;

/** SMAPIv3 SR health: each state carries a message, which SMAPIv2 drops. */
public sealed interface Health {
    String message();

    /** The SMAPIv2 health of the same name. */
    SrHealth toV2();

    record Healthy(String message) implements Health {
        public SrHealth toV2() {
            return SrHealth.Healthy;
        }
    }

    record Recovering(String message) implements Health {
        public SrHealth toV2() {
            return SrHealth.Recovering;
        }
    }

    record Unreachable(String message) implements Health {
        public SrHealth toV2() {
            return SrHealth.Unreachable;
        }
    }

    record Unavailable(String message) implements Health {
        public SrHealth toV2() {
            return SrHealth.Unavailable;
        }
    }
}
