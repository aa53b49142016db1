package org.xenstorage.messageswitch.protocol;

/** A message as the switch stores it: origin, enqueue time (ns since the epoch) and the message. */
public record Entry(Origin origin, long time, Message message) {
}
