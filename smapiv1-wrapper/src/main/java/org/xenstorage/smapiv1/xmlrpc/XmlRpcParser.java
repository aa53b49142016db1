package org.xenstorage.smapiv1.xmlrpc;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import javax.xml.XMLConstants;
import javax.xml.parsers.ParserConfigurationException;
import javax.xml.parsers.SAXParser;
import javax.xml.parsers.SAXParserFactory;
import org.apache.ws.commons.util.NamespaceContextImpl;
import org.apache.xmlrpc.common.TypeFactoryImpl;
import org.apache.xmlrpc.common.XmlRpcHttpRequestConfigImpl;
import org.apache.xmlrpc.common.XmlRpcStreamConfig;
import org.apache.xmlrpc.parser.AtomicParser;
import org.apache.xmlrpc.parser.NullParser;
import org.apache.xmlrpc.parser.TypeParser;
import org.apache.xmlrpc.parser.XmlRpcRequestParser;
import org.apache.xmlrpc.parser.XmlRpcResponseParser;
import org.xml.sax.Attributes;
import org.xml.sax.ContentHandler;
import org.xml.sax.ErrorHandler;
import org.xml.sax.InputSource;
import org.xml.sax.Locator;
import org.xml.sax.SAXException;
import org.xml.sax.SAXParseException;
import org.xml.sax.XMLReader;

/**
 * Decodes XML-RPC messages with Apache XML-RPC's parsers on a hardened SAX parser: DOCTYPE
 * declarations are refused outright (so no entity expansion, internal or external, can happen),
 * external DTDs are never loaded, and Apache's extension types (serialized Java objects, DOM nodes,
 * {@code i8}, ... in its namespace) are refused. {@code <nil/>} without a namespace is accepted, as
 * Python's {@code xmlrpc.client} writes it. {@code dateTime.iso8601} is kept as text
 * ({@link XmlRpcDateTime}). Structs decode to {@code Map<String,Object>}, arrays to {@code Object[]},
 * {@code int}/{@code i4} to {@link Integer}, {@code boolean} to {@link Boolean}.
 *
 * <p>Thread-safe: every call uses its own parser.
 */
public final class XmlRpcParser {
    /**
     * The deepest element nesting accepted. Apache's value parsers recurse once per level, so a document
     * nested thousands deep would overflow the stack; real drivers' answers stay under 20.
     */
    static final int MAX_DEPTH = 256;
    private static final SAXParserFactory FACTORY = hardenedFactory();
    private static final XmlRpcHttpRequestConfigImpl CONFIG = new XmlRpcHttpRequestConfigImpl();
    private static final TypeFactoryImpl TYPES = new StandardTypesOnly();

    static {
        CONFIG.setEnabledForExtensions(false);
        CONFIG.setEncoding(XmlRpcStreamConfig.UTF8_ENCODING);
    }

    private XmlRpcParser() {
    }

    /** Decodes a {@code methodResponse}. */
    public static MethodResponse parseResponse(byte[] document) throws XmlRpcFormatException {
        ResponseHandler handler = new ResponseHandler();
        parse(document, handler);
        if (handler.params != 1 && handler.isSuccess()) {
            throw new XmlRpcFormatException(XmlRpcFormatException.Kind.UNEXPECTED_SHAPE,
                    "methodResponse with " + handler.params + " params", null);
        }
        if (handler.isSuccess()) {
            try {
                return new MethodResponse.Success(handler.getResult());
            } catch (org.apache.xmlrpc.XmlRpcException e) {
                throw new XmlRpcFormatException(XmlRpcFormatException.Kind.UNEXPECTED_SHAPE, e.getMessage(), e);
            }
        }
        String message = handler.getErrorMessage();
        return new MethodResponse.Fault(handler.getErrorCode(), message == null ? "" : message);
    }

    /** Decodes a {@code methodCall}. */
    public static MethodCall parseCall(byte[] document) throws XmlRpcFormatException {
        XmlRpcRequestParser handler = new XmlRpcRequestParser(CONFIG, TYPES);
        parse(document, handler);
        if (handler.getMethodName() == null) {
            throw new XmlRpcFormatException(XmlRpcFormatException.Kind.UNEXPECTED_SHAPE, "no methodName", null);
        }
        List<?> params = handler.getParams();
        return new MethodCall(handler.getMethodName(), params == null ? List.of() : new ArrayList<>(params));
    }

    private static void parse(byte[] document, ContentHandler handler) throws XmlRpcFormatException {
        try {
            SAXParser parser = FACTORY.newSAXParser();
            XMLReader reader = parser.getXMLReader();
            reader.setEntityResolver((publicId, systemId) -> {
                throw new SAXException("external entities are refused: " + systemId);
            });
            reader.setContentHandler(new ShapeMarking(handler));
            // without a handler of its own the parser prints "[Fatal Error] ..." to stderr, outside the log
            reader.setErrorHandler(new ErrorHandler() {
                @Override
                public void warning(SAXParseException e) {
                }

                @Override
                public void error(SAXParseException e) throws SAXException {
                    throw e;
                }

                @Override
                public void fatalError(SAXParseException e) throws SAXException {
                    throw e;
                }
            });
            reader.parse(new InputSource(new ByteArrayInputStream(document)));
        } catch (ShapeException e) {
            throw new XmlRpcFormatException(XmlRpcFormatException.Kind.UNEXPECTED_SHAPE, e.getMessage(), e);
        } catch (SAXException e) {
            throw new XmlRpcFormatException(XmlRpcFormatException.Kind.NOT_XML, e.getMessage(), e);
        } catch (IOException e) {
            throw new XmlRpcFormatException(XmlRpcFormatException.Kind.NOT_XML, e.toString(), e);
        } catch (ParserConfigurationException e) {
            throw new IllegalStateException("SAX parser unavailable", e);
        } catch (RuntimeException e) {
            // Apache's parsers throw unchecked exceptions on some malformed values (e.g. a bad int).
            throw new XmlRpcFormatException(XmlRpcFormatException.Kind.UNEXPECTED_SHAPE, e.toString(), e);
        }
    }

    private static SAXParserFactory hardenedFactory() {
        SAXParserFactory f = SAXParserFactory.newInstance();
        f.setNamespaceAware(true);
        f.setValidating(false);
        f.setXIncludeAware(false);
        try {
            f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
            f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            f.setFeature("http://xml.org/sax/features/external-general-entities", false);
            f.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
            f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        } catch (ParserConfigurationException | SAXException e) {
            throw new IllegalStateException("cannot harden the SAX parser", e);
        }
        return f;
    }

    /** A SAX error raised by the XML-RPC layer (the XML itself was fine). */
    private static final class ShapeException extends SAXException {
        ShapeException(SAXException cause) {
            super(cause.getMessage(), cause);
        }
    }

    /** Only the standard XML-RPC types plus a namespace-less {@code nil}; extension types are refused. */
    private static final class StandardTypesOnly extends TypeFactoryImpl {
        StandardTypesOnly() {
            super(null);
        }

        @Override
        public TypeParser getParser(XmlRpcStreamConfig config, NamespaceContextImpl context, String uri,
                                    String localName) {
            if (uri != null && !uri.isEmpty()) {
                return null; // Apache's extensions (serializable, dom, i8, ...): refused
            }
            return switch (localName) {
                case "nil" -> new NullParser();
                case "dateTime.iso8601" -> new DateTimeText();
                case "int", "i4", "boolean", "double", "array", "struct", "base64", "string" ->
                        super.getParser(config, context, uri, localName);
                default -> null;
            };
        }
    }

    private static final class DateTimeText extends AtomicParser {
        @Override
        protected void setResult(String text) {
            super.setResult((Object) new XmlRpcDateTime(text.trim()));
        }
    }

    /** Counts the {@code param}s of a response (Apache's parser keeps only the last one). */
    private static final class ResponseHandler extends XmlRpcResponseParser {
        private int depth;
        private int params;

        ResponseHandler() {
            super(CONFIG, TYPES);
        }

        @Override
        public void startElement(String uri, String localName, String qName, Attributes attrs) throws SAXException {
            depth++;
            if (depth == 3 && "param".equals(localName)) {
                params++;
            }
            super.startElement(uri, localName, qName, attrs);
        }

        @Override
        public void endElement(String uri, String localName, String qName) throws SAXException {
            depth--;
            super.endElement(uri, localName, qName);
        }
    }

    /** One SAX callback into the XML-RPC layer. */
    private interface SaxCall {
        void run() throws SAXException;
    }

    /**
     * Passes every SAX event to the XML-RPC layer and marks what that layer throws as a
     * {@link ShapeException}: the SAX parser's own errors (bad XML) never come through a content
     * handler, so what does is well-formed XML of the wrong XML-RPC shape.
     */
    private static final class ShapeMarking implements ContentHandler {
        private final ContentHandler inner;
        private int depth;

        ShapeMarking(ContentHandler inner) {
            this.inner = inner;
        }

        private static void marked(SaxCall call) throws SAXException {
            try {
                call.run();
            } catch (ShapeException e) {
                throw e;
            } catch (SAXException e) {
                throw new ShapeException(e);
            }
        }

        @Override
        public void setDocumentLocator(Locator locator) {
            inner.setDocumentLocator(locator);
        }

        @Override
        public void startDocument() throws SAXException {
            marked(inner::startDocument);
        }

        @Override
        public void endDocument() throws SAXException {
            marked(inner::endDocument);
        }

        @Override
        public void startPrefixMapping(String prefix, String uri) throws SAXException {
            marked(() -> inner.startPrefixMapping(prefix, uri));
        }

        @Override
        public void endPrefixMapping(String prefix) throws SAXException {
            marked(() -> inner.endPrefixMapping(prefix));
        }

        @Override
        public void startElement(String uri, String localName, String qName, Attributes attrs) throws SAXException {
            if (++depth > MAX_DEPTH) {
                // refused like a DOCTYPE: a parser error (not XML we accept), not a shape error
                throw new SAXException("XML nested deeper than " + MAX_DEPTH + " elements is refused");
            }
            marked(() -> inner.startElement(uri, localName, qName, attrs));
        }

        @Override
        public void endElement(String uri, String localName, String qName) throws SAXException {
            depth--;
            marked(() -> inner.endElement(uri, localName, qName));
        }

        @Override
        public void characters(char[] ch, int start, int length) throws SAXException {
            marked(() -> inner.characters(ch, start, length));
        }

        @Override
        public void ignorableWhitespace(char[] ch, int start, int length) throws SAXException {
            marked(() -> inner.ignorableWhitespace(ch, start, length));
        }

        @Override
        public void processingInstruction(String target, String data) throws SAXException {
            marked(() -> inner.processingInstruction(target, data));
        }

        @Override
        public void skippedEntity(String name) throws SAXException {
            marked(() -> inner.skippedEntity(name));
        }
    }
}
