"""Argument types the host tools share (not a tool itself: emulator.py, gateway_udp.py and
mpbridge.py import it)."""

import argparse


def port_number(text):
    # argparse type of --port: a TCP or UDP port, 0..65535 (bind() would raise OverflowError past it)
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("expected a port number 0..65535, got %r" % text)
    return port


def int_in(lo, hi):
    # argparse type: an int lo..hi (a packet field's range: struct.pack would raise past it)
    def parse(text):
        try:
            n = int(text)
        except ValueError:
            n = None
        if n is None or not lo <= n <= hi:
            raise argparse.ArgumentTypeError("expected an int %d..%d, got %r" % (lo, hi, text))
        return n

    return parse
