package org.xenstorage.idl.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.reflect.Constructor;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.xenstorage.idl.errors.StorageError;
import org.xenstorage.idl.rpc.MethodDescriptor;
import org.xenstorage.idl.rpc.MethodTable;
import org.xenstorage.idl.types.DynamicValue;

/**
 * Random values of every IDL type survive encode → JSON text → decode unchanged. The generators are
 * derived from the Java types by reflection, mirroring how the codec is derived, so a new type is covered
 * as soon as a method or error mentions it.
 */
class RoundTripPropertiesTest {

    /** A value together with the type it is encoded as. */
    record Typed(Type type, Object value) {
        @Override
        public String toString() {
            return type.getTypeName() + " = " + value;
        }
    }

    /** Every type that crosses the wire: method parameters and results, errors, and Dynamic.t. */
    static List<Type> wireTypes() {
        Set<Type> types = new LinkedHashSet<>();
        for (MethodDescriptor m : MethodTable.all()) {
            m.params().forEach(p -> types.add(p.type()));
            if (m.resultType() != Void.class) {
                types.add(m.resultType());
            }
        }
        types.add(StorageError.class);
        types.add(DynamicValue.class);
        return new ArrayList<>(types);
    }

    @Provide
    Arbitrary<Typed> anyWireValue() {
        return Arbitraries.of(wireTypes()).flatMap(t -> arbitrary(t).map(v -> new Typed(t, v)));
    }

    @Property(tries = 3000)
    void everyValueRoundTripsThroughJsonText(@ForAll("anyWireValue") Typed typed) {
        String text = WireCodec.toJson(typed.value(), typed.type());
        Object back = WireCodec.fromJson(text, typed.type());
        assertEquals(typed.value(), back, text);
        // and encoding is a function of the value: the same text again
        assertEquals(text, WireCodec.toJson(back, typed.type()));
    }

    static Arbitrary<?> arbitrary(Type type) {
        if (type instanceof ParameterizedType p) {
            Class<?> raw = (Class<?>) p.getRawType();
            Type arg0 = p.getActualTypeArguments()[0];
            if (raw == List.class) {
                return arbitrary(arg0).list().ofMaxSize(3);
            }
            if (raw == Map.class) {
                return Arbitraries.maps(strings(), arbitrary(p.getActualTypeArguments()[1])).ofMaxSize(3);
            }
            if (raw == Optional.class) {
                return arbitrary(arg0).optional();
            }
        }
        Class<?> c = (Class<?>) type;
        if (c == String.class) {
            return strings();
        }
        if (c == boolean.class || c == Boolean.class) {
            return Arbitraries.of(true, false);
        }
        if (c == long.class || c == Long.class) {
            return Arbitraries.longs();
        }
        if (c == int.class || c == Integer.class) {
            return Arbitraries.integers();
        }
        if (c == double.class || c == Double.class) {
            return Arbitraries.doubles().withSpecialValue(Double.NaN).withSpecialValue(Double.POSITIVE_INFINITY)
                    .withSpecialValue(-0.0);
        }
        if (JsonNode.class.isAssignableFrom(c)) {
            // Task.state's Failed carries any JSON; in practice an encoded error
            return arbitrary(StorageError.class).map(e -> WireCodec.encode(e, StorageError.class));
        }
        if (c.isEnum()) {
            return Arbitraries.of(c.getEnumConstants());
        }
        if (c.isRecord()) {
            return record(c);
        }
        if (c.isSealed()) {
            List<Arbitrary<?>> cases = new ArrayList<>();
            for (Class<?> sub : c.getPermittedSubclasses()) {
                cases.add(record(sub));
            }
            @SuppressWarnings({"unchecked", "rawtypes"})
            Arbitrary<Object> one = (Arbitrary) Arbitraries.oneOf((List) cases);
            return one;
        }
        throw new IllegalArgumentException("no generator for " + type);
    }

    private static Arbitrary<String> strings() {
        return Arbitraries.strings().withCharRange(' ', '~').withCharRange('\u00a0', '\ud7ff')
                .withChars('\n', '\t', '"', '\\', '\u0000', '\u007f').ofMaxLength(10);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Arbitrary<?> record(Class<?> c) {
        RecordComponent[] rcs = c.getRecordComponents();
        Class<?>[] types = new Class<?>[rcs.length];
        List<Arbitrary<Object>> parts = new ArrayList<>();
        for (int i = 0; i < rcs.length; i++) {
            types[i] = rcs[i].getType();
            parts.add((Arbitrary<Object>) arbitrary(rcs[i].getGenericType()));
        }
        Constructor<?> ctor;
        try {
            ctor = c.getDeclaredConstructor(types);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
        if (parts.isEmpty()) {
            return Arbitraries.create(() -> newInstance(ctor, new Object[0]));
        }
        return Combinators.combine((List) parts).as(values -> newInstance(ctor, ((List<Object>) values).toArray()));
    }

    private static Object newInstance(Constructor<?> ctor, Object[] args) {
        try {
            return ctor.newInstance(args);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
