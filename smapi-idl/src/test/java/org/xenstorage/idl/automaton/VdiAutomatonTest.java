package org.xenstorage.idl.automaton;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xenstorage.idl.types.DpState;
import org.xenstorage.idl.types.DpState.Activated;
import org.xenstorage.idl.types.DpState.Attached;
import org.xenstorage.idl.types.RoRw;

/** Spec 1.2-1.6 and acceptance tests 1-3: every cell of both tables, the superstate, the worked examples. */
class VdiAutomatonTest {
    static final DpState D = DpState.DETACHED;
    static final DpState ARO = new Attached(RoRw.RO);
    static final DpState ARW = new Attached(RoRw.RW);
    static final DpState XRO = new Activated(RoRw.RO);
    static final DpState XRW = new Activated(RoRw.RW);
    static final Op N = Op.NOTHING;
    static final Op AT_RO = Op.ATTACH_RO;
    static final Op AT_RW = Op.ATTACH_RW;
    static final Op ACT = Op.ACTIVATE;
    static final Op DET = Op.DETACH;
    static final Op DEA = Op.DEACTIVATE;
    /** null = ILLEGAL. */
    static final DpState X = null;

    /** Spec 1.2, rows in table order; columns Nothing, Attach RO, Attach RW, Activate, Detach, Deactivate. */
    static final List<Op> PLUS_COLUMNS = List.of(N, AT_RO, AT_RW, ACT, DET, DEA);
    static final Map<DpState, List<DpState>> PLUS = Map.of(
            D, list(D, ARO, ARW, X, D, D),
            ARO, list(ARO, ARO, X, XRO, D, ARO),
            ARW, list(ARW, ARW, ARW, XRW, D, ARW),
            XRO, list(XRO, XRO, X, XRO, X, ARO),
            XRW, list(XRW, XRW, XRW, XRW, X, ARW));

    /** Spec 1.4, columns Detached, Attached RO, Attached RW, Activated RO, Activated RW; null = ILLEGAL. */
    static final List<DpState> MINUS_COLUMNS = List.of(D, ARO, ARW, XRO, XRW);
    static final Map<DpState, List<List<Op>>> MINUS = Map.of(
            D, list(List.of(N), List.of(AT_RO), List.of(AT_RW), List.of(AT_RO, ACT), List.of(AT_RW, ACT)),
            ARO, list(List.of(DET), List.of(N), null, List.of(ACT), null),
            ARW, list(List.of(DET), null, List.of(N), null, List.of(ACT)),
            XRO, list(List.of(DEA, DET), List.of(DEA), null, List.of(N), null),
            XRW, list(List.of(DEA, DET), null, List.of(DEA), null, List.of(N)));

    @SafeVarargs
    static <T> List<T> list(T... xs) {
        return new ArrayList<>(java.util.Arrays.asList(xs));
    }

    static Stream<Arguments> plusCells() {
        List<Arguments> out = new ArrayList<>();
        PLUS.forEach((s, row) -> {
            for (int i = 0; i < PLUS_COLUMNS.size(); i++) {
                out.add(Arguments.of(s, PLUS_COLUMNS.get(i), row.get(i)));
            }
        });
        return out.stream();
    }

    @ParameterizedTest(name = "{0} + {1} = {2}")
    @MethodSource("plusCells")
    void transitionTable(DpState s, Op op, DpState expected) {
        if (expected == null) {
            BadTransition e = assertThrows(BadTransition.class, () -> VdiAutomaton.plus(s, op));
            assertTrue(e.getMessage().startsWith("Vdi_automaton.Bad_transition("), e.getMessage());
        } else {
            assertEquals(expected, VdiAutomaton.plus(s, op));
        }
    }

    @Test
    void transitionTableHasThirtyCellsAndCoversEveryStateAndOp() {
        assertEquals(30, plusCells().count());
        assertEquals(VdiAutomaton.EVERY_STATE.size(), PLUS.size());
        assertEquals(Op.EVERY.size(), PLUS_COLUMNS.size());
    }

    static Stream<Arguments> minusCells() {
        List<Arguments> out = new ArrayList<>();
        MINUS.forEach((x, row) -> {
            for (int i = 0; i < MINUS_COLUMNS.size(); i++) {
                out.add(Arguments.of(x, MINUS_COLUMNS.get(i), row.get(i)));
            }
        });
        return out.stream();
    }

    @ParameterizedTest(name = "{0} - {1} = {2}")
    @MethodSource("minusCells")
    void differenceTable(DpState x, DpState y, List<Op> expected) {
        if (expected == null) {
            NoOperation e = assertThrows(NoOperation.class, () -> VdiAutomaton.minus(x, y));
            assertEquals(x, e.from());
            assertEquals(y, e.to());
        } else {
            assertEquals(expected, VdiAutomaton.ops(x, y));
        }
    }

    @Test
    void differenceTableHasEightIllegalPairs() {
        assertEquals(8, minusCells().filter(a -> a.get()[2] == null).count());
    }

    /** Spec 1.5: for every legal s + o = s' with s' != s, s - s' = [o]. */
    @Test
    void roundTripProperty() {
        int checked = 0;
        for (DpState s : VdiAutomaton.EVERY_STATE) {
            for (Op o : Op.EVERY) {
                DpState s2;
                try {
                    s2 = VdiAutomaton.plus(s, o);
                } catch (BadTransition e) {
                    continue;
                }
                if (!s2.equals(s)) {
                    assertEquals(List.of(o), VdiAutomaton.ops(s, s2), s + " + " + o);
                    checked++;
                }
            }
        }
        assertEquals(8, checked);
    }

    @Test
    void superstateExamples() {
        assertEquals(D, VdiAutomaton.superstate(List.of()));
        assertEquals(ARO, VdiAutomaton.superstate(List.of(ARO, ARO)));
        assertEquals(XRW, VdiAutomaton.superstate(List.of(ARW, XRO)));
        assertEquals(XRO, VdiAutomaton.superstate(List.of(XRO)));
        assertEquals(ARW, VdiAutomaton.superstate(List.of(ARO, ARW)));
        // QUIRK fix: Detached entries are ignored instead of yielding Attached RO
        assertEquals(D, VdiAutomaton.superstate(List.of(D, D)));
        assertEquals(XRO, VdiAutomaton.superstate(List.of(D, XRO)));
    }

    @Test
    void workedExamplesA1toA9() {
        assertEquals("Vdi_automaton.Bad_transition(0, 2)",
                assertThrows(BadTransition.class, () -> VdiAutomaton.plus(D, ACT)).getMessage());
        assertEquals("Vdi_automaton.Bad_transition(_, _)",
                assertThrows(BadTransition.class, () -> VdiAutomaton.plus(ARO, AT_RW)).getMessage());
        assertEquals(XRW, VdiAutomaton.plus(XRW, AT_RO));
        assertEquals("Vdi_automaton.Bad_transition(_, 1)",
                assertThrows(BadTransition.class, () -> VdiAutomaton.plus(XRO, DET)).getMessage());
        assertEquals(XRW, VdiAutomaton.superstate(List.of(ARW, XRO)));
        assertEquals(D, VdiAutomaton.superstate(List.of()));
        assertEquals(List.of(new Step(AT_RW, D), new Step(ACT, ARW)), VdiAutomaton.minus(D, XRW));
        assertEquals(List.of(new Step(DEA, XRO), new Step(DET, ARO)), VdiAutomaton.minus(XRO, D));
        assertThrows(NoOperation.class, () -> VdiAutomaton.minus(ARW, ARO));
    }

    @Test
    void stateOnFailOfSingleSteps() {
        assertEquals(List.of(new Step(N, ARO)), VdiAutomaton.minus(ARO, ARO));
        assertEquals(List.of(new Step(AT_RO, D)), VdiAutomaton.minus(D, ARO));
        assertEquals(List.of(new Step(ACT, ARW)), VdiAutomaton.minus(ARW, XRW));
        assertEquals(List.of(new Step(DEA, XRW)), VdiAutomaton.minus(XRW, ARW));
        assertEquals(List.of(new Step(DET, ARW)), VdiAutomaton.minus(ARW, D));
    }

    @Test
    void textsAsUpstream() {
        assertEquals("detached", VdiAutomaton.text(D));
        assertEquals("attached  RO", VdiAutomaton.text(ARO));
        assertEquals("activated RW", VdiAutomaton.text(XRW));
        assertEquals(List.of("nothing", "attach(RO)", "attach(RW)", "detach", "activate", "deactivate"),
                Op.EVERY.stream().map(Op::text).toList());
        assertEquals("Vdi_automaton.Bad_transition(_, 3)", new BadTransition(XRO, DEA).getMessage());
    }
}
