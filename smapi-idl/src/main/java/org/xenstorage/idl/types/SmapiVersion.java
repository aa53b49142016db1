package org.xenstorage.idl.types;

/** {@code smapi_version}. */
public enum SmapiVersion {
    SMAPIv1, SMAPIv2, SMAPIv3
}
