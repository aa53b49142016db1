package org.xenstorage.idl.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.xenstorage.testing.Soon;

/**
 * Threads asking for a codec that is still being built by another thread must wait for it, not get
 * the half-built placeholder (which failed with a NullPointerException on first use).
 */
class WireCodecConcurrencyTest {
    record A(String a, List<String> b) {
    }

    record B(long x, A a) {
    }

    record C(boolean y, B b, List<A> as) {
    }

    @Test
    void concurrentFirstUseOfATypeAlwaysGetsAWorkingCodec() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                Class<?> type = i % 2 == 0 ? C.class : B.class;
                Object value = i % 2 == 0 ? new C(true, new B(1, new A("a", List.of("b"))), List.of())
                        : new B(1, new A("a", List.of("b")));
                results.add(pool.submit(() -> {
                    go.await();
                    return WireCodec.toJson(value, type);
                }));
            }
            go.countDown();
            for (int i = 0; i < results.size(); i++) {
                String expected = i % 2 == 0 ? "{\"as\":[],\"b\":{\"a\":{\"b\":[\"b\"],\"a\":\"a\"},\"x\":1},\"y\":true}"
                        : "{\"a\":{\"b\":[\"b\"],\"a\":\"a\"},\"x\":1}";
                assertEquals(expected, Soon.get(results.get(i)));
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
