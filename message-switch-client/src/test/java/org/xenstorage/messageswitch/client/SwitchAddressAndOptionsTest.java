package org.xenstorage.messageswitch.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class SwitchAddressAndOptionsTest {

    @Test
    void addressesParse() {
        assertEquals(SwitchAddress.unix(Path.of("/var/run/message-switch/sock")), SwitchAddress.parse("/var/run/message-switch/sock"));
        assertEquals(SwitchAddress.unix(Path.of("/tmp/s")), SwitchAddress.parse("unix:/tmp/s"));
        assertEquals(SwitchAddress.tcp("127.0.0.1", 8080), SwitchAddress.parse("tcp:127.0.0.1:8080"));
        assertThrows(IllegalArgumentException.class, () -> SwitchAddress.parse("tcp:host"));
        assertThrows(IllegalArgumentException.class, () -> SwitchAddress.parse("tcp:host:99999"));
        assertThrows(IllegalArgumentException.class, () -> SwitchAddress.parse("unix:"));
    }

    @Test
    void backoffDoublesUpToTheCeiling() {
        SwitchOptions o = SwitchOptions.defaults().withBackoff(Duration.ofMillis(50), Duration.ofMillis(400));
        assertEquals(50, o.backoff(0).toMillis());
        assertEquals(100, o.backoff(1).toMillis());
        assertEquals(200, o.backoff(2).toMillis());
        assertEquals(400, o.backoff(3).toMillis());
        assertEquals(400, o.backoff(1000).toMillis());
        assertThrows(IllegalArgumentException.class, () -> SwitchOptions.defaults().withBackoff(Duration.ZERO, Duration.ZERO));
    }
}
