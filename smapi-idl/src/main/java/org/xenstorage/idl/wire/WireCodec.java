package org.xenstorage.idl.wire;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * rpclib's marshalling rules (Rpcmarshal + Jsonrpc) derived from Java types, so each IDL type is
 * declared once, as a record, and its wire shape follows from it:
 * <ul>
 * <li>{@code String}, {@code boolean}, {@code long}/{@code int} (integers; numeric strings accepted on
 *     input), {@code double}, {@code Void} (unit, {@code null}), {@link JsonNode} (rpclib's abstract {@code Rpc.t});</li>
 * <li>{@code List<T>} → array; {@code Map<String, T>} (OCaml assoc list) → object;
 *     {@code Optional<T>} as a value → {@code []} / {@code [x]};</li>
 * <li>a record → object, members emitted in reverse declaration order as OCaml does, keys matched
 *     case-insensitively on input, {@code Optional} fields omitted when empty and unwrapped when
 *     present, {@link WireDefault} applied when a member is missing or ill-typed;</li>
 * <li>a {@link WireTuple} record → array of its components;</li>
 * <li>an enum → bare constructor name; a sealed interface of records → variant:
 *     {@code "Tag"}, {@code ["Tag", arg]} or {@code ["Tag", [a, b]]}, tags matched case-insensitively.</li>
 * </ul>
 */
public final class WireCodec {
    private static final Map<Type, Codec<?>> CACHE = new ConcurrentHashMap<>();
    private static final Object BUILD_LOCK = new Object();

    private WireCodec() {
    }

    /** The codec of a Java type (a {@code Class} or a parameterised type such as {@code List<VdiInfo>}). */
    @SuppressWarnings("unchecked")
    public static <T> Codec<T> of(Type type) {
        Codec<?> codec = CACHE.get(type);
        // A Deferred without a target is another thread's build in progress: wait for it on the lock
        // (only the building thread itself, re-entering for a recursive type, may use the placeholder).
        if (codec != null && !(codec instanceof Deferred<?> d && d.target == null)) {
            return (Codec<T>) codec;
        }
        synchronized (BUILD_LOCK) {
            codec = CACHE.get(type);
            if (codec == null) {
                // a placeholder first, so a type that mentions itself resolves to the codec being built
                Deferred<Object> deferred = new Deferred<>();
                CACHE.put(type, deferred);
                try {
                    deferred.target = (Codec<Object>) build(type);
                } catch (RuntimeException e) {
                    CACHE.remove(type);
                    throw e;
                }
                CACHE.put(type, deferred.target);
                codec = deferred.target;
            }
            return (Codec<T>) codec;
        }
    }

    public static <T> Codec<T> of(Class<T> type) {
        return of((Type) type);
    }

    @SuppressWarnings("unchecked")
    public static JsonNode encode(Object value, Type type) {
        return ((Codec<Object>) WireCodec.of(type)).encode(value);
    }

    public static <T> T decode(JsonNode node, Type type) {
        return WireCodec.<T>of(type).decode(node);
    }

    /** Compact JSON text of a value. */
    public static String toJson(Object value, Type type) {
        return Json.write(encode(value, type));
    }

    /** Parses JSON text into a value; syntax errors and shape errors both become {@link WireException}. */
    public static <T> T fromJson(String text, Type type) {
        try {
            return decode(Json.parse(text), type);
        } catch (JsonProcessingException e) {
            throw new WireException("invalid JSON: " + e.getOriginalMessage());
        }
    }

    /** The snake_case wire name of a camelCase Java name ({@code isASnapshot} → {@code is_a_snapshot}). */
    public static String snakeCase(String camel) {
        StringBuilder b = new StringBuilder(camel.length() + 8);
        for (int i = 0; i < camel.length(); i++) {
            char c = camel.charAt(i);
            if (Character.isUpperCase(c)) {
                if (i > 0) {
                    b.append('_');
                }
                b.append(Character.toLowerCase(c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    /** The OCaml-side name of a type, for error messages. */
    static String ocamlName(Type type) {
        if (type instanceof Class<?> c) {
            return snakeCase(c.getSimpleName());
        }
        return type.getTypeName();
    }

    private static Codec<?> build(Type type) {
        if (type instanceof ParameterizedType p) {
            Class<?> raw = (Class<?>) p.getRawType();
            Type[] args = p.getActualTypeArguments();
            if (raw == List.class) {
                return new ListCodec<>(of(args[0]));
            }
            if (raw == Map.class) {
                if (args[0] != String.class) {
                    throw new IllegalArgumentException("only string-keyed maps have a wire form: " + type);
                }
                return new AssocCodec<>(of(args[1]));
            }
            if (raw == Optional.class) {
                return new OptionCodec<>(of(args[0]));
            }
            throw new IllegalArgumentException("no wire form for " + type);
        }
        if (!(type instanceof Class<?> c)) {
            throw new IllegalArgumentException("no wire form for " + type);
        }
        if (c == String.class) {
            return Scalars.STRING;
        }
        if (c == boolean.class || c == Boolean.class) {
            return Scalars.BOOL;
        }
        if (c == long.class || c == Long.class) {
            return Scalars.INT64;
        }
        if (c == int.class || c == Integer.class) {
            return Scalars.INT;
        }
        if (c == double.class || c == Double.class) {
            return Scalars.FLOAT;
        }
        if (c == Void.class || c == void.class) {
            return Scalars.UNIT;
        }
        if (JsonNode.class.isAssignableFrom(c)) {
            return Scalars.RAW;
        }
        if (c.isEnum()) {
            return enumCodec(c);
        }
        if (c.isRecord()) {
            return c.isAnnotationPresent(WireTuple.class) ? new TupleCodec<>(c) : new RecordCodec<>(c);
        }
        if (c.isSealed()) {
            return new VariantCodec<>(c);
        }
        throw new IllegalArgumentException("no wire form for " + c.getName());
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Codec<?> enumCodec(Class<?> c) {
        return new EnumCodec(c);
    }

    static String describe(JsonNode node) {
        String text = Json.write(node);
        return text.length() > 80 ? text.substring(0, 77) + "..." : text;
    }

    private static final class Deferred<T> implements Codec<T> {
        volatile Codec<T> target;

        @Override
        public JsonNode encode(T value) {
            return target.encode(value);
        }

        @Override
        public T decode(JsonNode node) {
            return target.decode(node);
        }
    }

    /** The base types. */
    private static final class Scalars {
        static final Codec<String> STRING = new Codec<>() {
            @Override
            public JsonNode encode(String value) {
                return Json.NODES.textNode(value);
            }

            @Override
            public String decode(JsonNode node) {
                if (!node.isTextual()) {
                    throw new WireException("Expected string, got " + describe(node));
                }
                return node.textValue();
            }
        };
        static final Codec<Boolean> BOOL = new Codec<>() {
            @Override
            public JsonNode encode(Boolean value) {
                return Json.NODES.booleanNode(value);
            }

            @Override
            public Boolean decode(JsonNode node) {
                if (!node.isBoolean()) {
                    throw new WireException("Expected bool, got " + describe(node));
                }
                return node.booleanValue();
            }
        };
        static final Codec<Long> INT64 = new Codec<>() {
            @Override
            public JsonNode encode(Long value) {
                return Json.NODES.numberNode(value);
            }

            @Override
            public Long decode(JsonNode node) {
                return integer(node, Long.MIN_VALUE, Long.MAX_VALUE, "int64");
            }
        };
        static final Codec<Integer> INT = new Codec<>() {
            @Override
            public JsonNode encode(Integer value) {
                return Json.NODES.numberNode(value);
            }

            @Override
            public Integer decode(JsonNode node) {
                return (int) integer(node, Integer.MIN_VALUE, Integer.MAX_VALUE, "int");
            }
        };
        static final Codec<Double> FLOAT = new Codec<>() {
            @Override
            public JsonNode encode(Double value) {
                return Json.NODES.numberNode(value);
            }

            @Override
            public Double decode(JsonNode node) {
                if (node.isNumber()) {
                    return node.doubleValue();
                }
                if (node.isTextual()) {
                    try {
                        return Double.parseDouble(node.textValue().trim());
                    } catch (NumberFormatException e) {
                        throw new WireException("Expected float, got " + describe(node));
                    }
                }
                throw new WireException("Expected float, got " + describe(node));
            }
        };
        static final Codec<Void> UNIT = new Codec<>() {
            @Override
            public JsonNode encode(Void value) {
                return NullNode.getInstance();
            }

            @Override
            public Void decode(JsonNode node) {
                if (!node.isNull()) {
                    throw new WireException("Expected unit (null), got " + describe(node));
                }
                return null;
            }
        };
        static final Codec<JsonNode> RAW = new Codec<>() {
            @Override
            public JsonNode encode(JsonNode value) {
                return value == null ? NullNode.getInstance() : value;
            }

            @Override
            public JsonNode decode(JsonNode node) {
                return node;
            }
        };

        private static long integer(JsonNode node, long min, long max, String what) {
            BigInteger value;
            if (node.isIntegralNumber()) {
                value = node.bigIntegerValue();
            } else if (node.isTextual()) {
                value = OcamlInt.parse(node.textValue());
            } else {
                throw new WireException("Expected " + what + ", got " + describe(node));
            }
            if (value.compareTo(BigInteger.valueOf(min)) < 0 || value.compareTo(BigInteger.valueOf(max)) > 0) {
                throw new WireException(what + " out of range: " + value);
            }
            return value.longValue();
        }
    }

    private record ListCodec<T>(Codec<T> element) implements Codec<List<T>> {
        @Override
        public JsonNode encode(List<T> value) {
            ArrayNode a = Json.NODES.arrayNode(value.size());
            for (T v : value) {
                a.add(element.encode(v));
            }
            return a;
        }

        @Override
        public List<T> decode(JsonNode node) {
            if (!node.isArray()) {
                throw new WireException("Expected list, got " + describe(node));
            }
            List<T> out = new ArrayList<>(node.size());
            for (JsonNode n : node) {
                out.add(element.decode(n));
            }
            return Collections.unmodifiableList(out);
        }
    }

    /** OCaml {@code (string * 'a) list}: a JSON object in list order. Java maps keep the first of duplicate keys. */
    private record AssocCodec<T>(Codec<T> value) implements Codec<Map<String, T>> {
        @Override
        public JsonNode encode(Map<String, T> map) {
            ObjectNode o = Json.NODES.objectNode();
            map.forEach((k, v) -> o.set(k, value.encode(v)));
            return o;
        }

        @Override
        public Map<String, T> decode(JsonNode node) {
            if (!node.isObject()) {
                throw new WireException("Expected dict, got " + describe(node));
            }
            Map<String, T> out = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                out.putIfAbsent(e.getKey(), value.decode(e.getValue()));
            }
            return Collections.unmodifiableMap(out);
        }
    }

    /** {@code 'a option} in value position: {@code []} or {@code [x]}. */
    private record OptionCodec<T>(Codec<T> element) implements Codec<Optional<T>> {
        @Override
        public JsonNode encode(Optional<T> value) {
            ArrayNode a = Json.NODES.arrayNode(1);
            value.ifPresent(v -> a.add(element.encode(v)));
            return a;
        }

        @Override
        public Optional<T> decode(JsonNode node) {
            if (node.isArray() && node.size() == 0) {
                return Optional.empty();
            }
            if (node.isArray() && node.size() == 1) {
                return Optional.of(element.decode(node.get(0)));
            }
            throw new WireException("Expected option ([] or [x]), got " + describe(node));
        }
    }

    private static final class EnumCodec<E extends Enum<E>> implements Codec<E> {
        private final Class<E> type;
        private final Map<String, E> byLowerTag = new LinkedHashMap<>();

        EnumCodec(Class<E> type) {
            this.type = type;
            for (E e : type.getEnumConstants()) {
                byLowerTag.put(tagOf(e).toLowerCase(Locale.ROOT), e);
            }
        }

        private String tagOf(E e) {
            try {
                Tag tag = type.getField(e.name()).getAnnotation(Tag.class);
                return tag != null ? tag.value() : e.name();
            } catch (NoSuchFieldException ex) {
                return e.name();
            }
        }

        @Override
        public JsonNode encode(E value) {
            return Json.NODES.textNode(tagOf(value));
        }

        @Override
        public E decode(JsonNode node) {
            String tag;
            if (node.isTextual()) {
                tag = node.textValue();
            } else if (node.isArray() && node.size() >= 1 && node.get(0).isTextual()
                    && (node.size() == 1 || (node.size() == 2 && node.get(1).isNull()))) {
                tag = node.get(0).textValue();
            } else {
                throw new WireException("Expected " + ocamlName(type) + " (a constructor name), got " + describe(node));
            }
            E e = byLowerTag.get(tag.toLowerCase(Locale.ROOT));
            if (e == null) {
                throw new WireException("Unknown tag '" + tag + "'");
            }
            return e;
        }
    }

    /** One component of a record or variant case, with what it needs to be read and written. */
    private record Field(String javaName, String wireName, Codec<Object> codec, boolean optional, JsonNode defaultJson,
                         Class<?> rawType) {
        @SuppressWarnings("unchecked")
        static Field from(RecordComponent rc) {
            WireName name = rc.getAnnotation(WireName.class);
            WireDefault def = rc.getAnnotation(WireDefault.class);
            Type type = rc.getGenericType();
            boolean optional = rc.getType() == Optional.class;
            Codec<Object> codec = optional
                    ? (Codec<Object>) WireCodec.of(((ParameterizedType) type).getActualTypeArguments()[0])
                    : (Codec<Object>) WireCodec.of(type);
            JsonNode defaultJson = null;
            if (def != null) {
                try {
                    defaultJson = Json.parse(def.value());
                } catch (JsonProcessingException e) {
                    throw new IllegalArgumentException("bad @WireDefault on " + rc, e);
                }
            }
            return new Field(rc.getName(), name != null ? name.value() : snakeCase(rc.getName()), codec, optional,
                    defaultJson, rc.getType());
        }
    }

    private static <R> Constructor<R> canonicalConstructor(Class<R> type) {
        RecordComponent[] rcs = type.getRecordComponents();
        Class<?>[] types = new Class<?>[rcs.length];
        for (int i = 0; i < rcs.length; i++) {
            types[i] = rcs[i].getType();
        }
        try {
            Constructor<R> ctor = type.getDeclaredConstructor(types);
            ctor.setAccessible(true);
            return ctor;
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException("record without canonical constructor: " + type, e);
        }
    }

    private static Object component(Object record, RecordComponent rc) {
        try {
            return rc.getAccessor().invoke(record);
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("cannot read " + rc, e);
        }
    }

    private static <R> R construct(Constructor<R> ctor, Object[] args) {
        try {
            return ctor.newInstance(args);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            throw new WireException("invalid " + ocamlName(ctor.getDeclaringClass()) + ": " + cause.getMessage());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot build " + ctor.getDeclaringClass(), e);
        }
    }

    /** A record as a JSON object. */
    private static final class RecordCodec<R> implements Codec<R> {
        private final Class<R> type;
        private final RecordComponent[] components;
        private final Field[] fields;
        private final Object[] defaults;
        private final Constructor<R> ctor;

        RecordCodec(Class<R> type) {
            this.type = type;
            this.components = type.getRecordComponents();
            this.fields = new Field[components.length];
            this.defaults = new Object[components.length];
            for (int i = 0; i < components.length; i++) {
                fields[i] = Field.from(components[i]);
            }
            this.ctor = canonicalConstructor(type);
        }

        private Object defaultValue(int i) {
            // decoded lazily: the field's codec may still be a placeholder while types are being built
            if (defaults[i] == null) {
                JsonNode json = fields[i].defaultJson;
                if (fields[i].optional) {
                    // an option field's default is written as the option value: [] (None) or [x]
                    defaults[i] = json.isArray() && json.size() == 1
                            ? Optional.of(fields[i].codec.decode(json.get(0))) : Optional.empty();
                } else {
                    defaults[i] = fields[i].codec.decode(json);
                }
            }
            return defaults[i];
        }

        @Override
        public JsonNode encode(R value) {
            ObjectNode o = Json.NODES.objectNode();
            for (int i = components.length - 1; i >= 0; i--) {
                Object v = component(value, components[i]);
                Field f = fields[i];
                if (f.optional) {
                    Optional<?> opt = (Optional<?>) v;
                    if (opt.isPresent()) {
                        o.set(f.wireName, f.codec.encode(opt.get()));
                    }
                } else {
                    o.set(f.wireName, f.codec.encode(v));
                }
            }
            return o;
        }

        @Override
        public R decode(JsonNode node) {
            if (!node.isObject()) {
                throw new WireException("Expected dict for " + ocamlName(type) + ", got " + describe(node));
            }
            Map<String, JsonNode> members = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                members.putIfAbsent(e.getKey().toLowerCase(Locale.ROOT), e.getValue());
            }
            Object[] args = new Object[fields.length];
            for (int i = 0; i < fields.length; i++) {
                Field f = fields[i];
                JsonNode member = members.get(f.wireName.toLowerCase(Locale.ROOT));
                if (f.defaultJson != null) {
                    if (member == null) {
                        args[i] = defaultValue(i);
                        continue;
                    }
                    try {
                        Object v = f.codec.decode(member);
                        args[i] = f.optional ? Optional.of(v) : v;
                    } catch (WireException e) {
                        args[i] = defaultValue(i);
                    }
                } else if (member == null) {
                    if (!f.optional) {
                        throw new WireException("No value found for key: '" + f.wireName + "' when unmarshalling '"
                                + ocamlName(type) + "'");
                    }
                    args[i] = Optional.empty();
                } else {
                    Object v = f.codec.decode(member);
                    args[i] = f.optional ? Optional.of(v) : v;
                }
            }
            return construct(ctor, args);
        }
    }

    /** A record standing for an OCaml tuple: a JSON array of exactly its components. */
    private static final class TupleCodec<R> implements Codec<R> {
        private final Class<R> type;
        private final RecordComponent[] components;
        private final List<Codec<Object>> codecs = new ArrayList<>();
        private final Constructor<R> ctor;

        @SuppressWarnings("unchecked")
        TupleCodec(Class<R> type) {
            this.type = type;
            this.components = type.getRecordComponents();
            for (RecordComponent rc : components) {
                codecs.add((Codec<Object>) WireCodec.of(rc.getGenericType()));
            }
            this.ctor = canonicalConstructor(type);
        }

        @Override
        public JsonNode encode(R value) {
            ArrayNode a = Json.NODES.arrayNode(components.length);
            for (int i = 0; i < components.length; i++) {
                a.add(codecs.get(i).encode(component(value, components[i])));
            }
            return a;
        }

        @Override
        public R decode(JsonNode node) {
            if (!node.isArray() || node.size() != components.length) {
                throw new WireException("Expected a " + components.length + "-tuple for " + ocamlName(type) + ", got "
                        + describe(node));
            }
            Object[] args = new Object[components.length];
            for (int i = 0; i < components.length; i++) {
                args[i] = codecs.get(i).decode(node.get(i));
            }
            return construct(ctor, args);
        }
    }

    /** A sealed interface whose permitted records are the constructors of an OCaml variant. */
    private static final class VariantCodec<V> implements Codec<V> {
        private final Class<V> type;
        private final Map<Class<?>, Case> byClass = new LinkedHashMap<>();
        private final Map<String, Case> byLowerTag = new LinkedHashMap<>();
        private Case fallback;

        VariantCodec(Class<V> type) {
            this.type = type;
            for (Class<?> sub : type.getPermittedSubclasses()) {
                if (!sub.isRecord()) {
                    throw new IllegalArgumentException("variant case must be a record: " + sub);
                }
                Case c = new Case(sub);
                byClass.put(sub, c);
                byLowerTag.put(c.tag.toLowerCase(Locale.ROOT), c);
                if (sub.isAnnotationPresent(DefaultVariant.class)) {
                    fallback = c;
                }
            }
        }

        @Override
        public JsonNode encode(V value) {
            Case c = byClass.get(value.getClass());
            if (c == null) {
                throw new IllegalArgumentException(value.getClass() + " is not a case of " + type);
            }
            return c.encode(value);
        }

        @Override
        @SuppressWarnings("unchecked")
        public V decode(JsonNode node) {
            String tag;
            JsonNode arg;
            if (node.isTextual()) {
                tag = node.textValue();
                arg = null;
            } else if (node.isArray() && node.size() == 2 && node.get(0).isTextual()) {
                tag = node.get(0).textValue();
                arg = node.get(1);
            } else if (node.isArray() && node.size() == 1 && node.get(0).isTextual()) {
                tag = node.get(0).textValue();
                arg = null;
            } else {
                throw new WireException("Expected " + ocamlName(type) + " (\"Tag\" or [\"Tag\", arg]), got "
                        + describe(node));
            }
            Case c = byLowerTag.get(tag.toLowerCase(Locale.ROOT));
            if (c == null) {
                if (fallback != null && fallback.components.length == 0) {
                    return (V) construct(fallback.ctor, new Object[0]);
                }
                throw new WireException("Unknown tag '" + tag + "'");
            }
            return (V) c.decode(arg);
        }

        private static final class Case {
            final String tag;
            final RecordComponent[] components;
            final List<Codec<Object>> codecs = new ArrayList<>();
            final Constructor<?> ctor;

            @SuppressWarnings("unchecked")
            Case(Class<?> sub) {
                Tag t = sub.getAnnotation(Tag.class);
                this.tag = t != null ? t.value() : sub.getSimpleName();
                this.components = sub.getRecordComponents();
                for (RecordComponent rc : components) {
                    codecs.add((Codec<Object>) WireCodec.of(rc.getGenericType()));
                }
                this.ctor = canonicalConstructor(sub);
            }

            JsonNode encode(Object value) {
                if (components.length == 0) {
                    return Json.NODES.textNode(tag);
                }
                JsonNode arg;
                if (components.length == 1) {
                    arg = codecs.get(0).encode(component(value, components[0]));
                } else {
                    ArrayNode a = Json.NODES.arrayNode(components.length);
                    for (int i = 0; i < components.length; i++) {
                        a.add(codecs.get(i).encode(component(value, components[i])));
                    }
                    arg = a;
                }
                if (arg.isNull()) {
                    // rpclib writes a constructor whose argument marshals to null as the bare tag
                    return Json.NODES.textNode(tag);
                }
                ArrayNode pair = Json.NODES.arrayNode(2);
                pair.add(tag);
                pair.add(arg);
                return pair;
            }

            Object decode(JsonNode arg) {
                JsonNode a = arg == null ? NullNode.getInstance() : arg;
                if (components.length == 0) {
                    if (!a.isNull()) {
                        throw new WireException("Constructor " + tag + " takes no argument, got " + describe(a));
                    }
                    return construct(ctor, new Object[0]);
                }
                if (components.length == 1) {
                    return construct(ctor, new Object[] {codecs.get(0).decode(a)});
                }
                if (!a.isArray() || a.size() != components.length) {
                    throw new WireException("Constructor " + tag + " expects a " + components.length
                            + "-tuple, got " + describe(a));
                }
                Object[] args = new Object[components.length];
                for (int i = 0; i < components.length; i++) {
                    args[i] = codecs.get(i).decode(a.get(i));
                }
                return construct(ctor, args);
            }
        }
    }
}
