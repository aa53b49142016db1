package org.xenstorage.messageswitch.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Optional;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/** Any queue name survives the client's encoding and the switch's parse, and never adds a path segment. */
class PathSegmentsTest {

    @Property(tries = 500)
    void anyNameRoundTrips(@ForAll String name) {
        String encoded = PathSegments.encode(name);
        assertFalse(encoded.contains("/"));
        assertEquals(name, PathSegments.decode(encoded));
    }

    @Property(tries = 300)
    void anyQueueNameRoundTripsThroughASendRequest(@ForAll String queue, @ForAll String replyTo, @ForAll String payload) {
        SwitchRequest r = new SwitchRequest.Send(queue, new Message(payload, new MessageKind.Request(replyTo)));
        HttpForm f = r.toHttp();
        assertEquals(Optional.of(r), SwitchRequest.parse(f.method(), f.path(), f.body()));
    }
}
