package org.xenstorage.messageswitch.broker;

import org.xenstorage.messageswitch.client.SwitchOptions;
import org.xenstorage.messageswitch.client.SwitchRpcClient;
import org.xenstorage.testing.Soon;

/** What the switch tests share: client options for a switch that is up, and the wait until a queue answers. */
final class TestSwitches {
    /**
     * The defaults, but connecting to a switch that is up (connect, login, queue creation) may take as long as
     * anything that should happen soon: on a busy machine the default 5 s must not make a start fail.
     */
    static final SwitchOptions PATIENT = SwitchOptions.defaults().withConnectTimeout(Soon.timeout());

    private TestSwitches() {
    }

    /** Waits until {@code queue} answers a call through {@code client}, e.g. after the switch restarted. */
    static void awaitWorking(SwitchRpcClient client, String queue) throws InterruptedException {
        // a probe that fails (not reconnected yet) is retried; one that is merely slow is waited for, so the
        // whole wait allows one slow probe and more
        Soon.await(queue + " answers a call", Soon.times(2),
                () -> client.call(queue, "ping", Soon.timeout()).equals("ping"));
    }
}
