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
