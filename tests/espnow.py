# A stand-in for MicroPython's espnow module (ESP32), for the gateway's tests on CPython and the
# unix ports: the same names and signatures as ports/esp32/modules/espnow.py over the C module
# _espnow (ESPNowBase), with the radio replaced by a queue this board receives from.
#   e = ESPNow(); e.active(True); e.config(rxbuf=8192, timeout_ms=300000)
#   e.recv(timeout_ms=None) -> [mac, msg] (new bytes) or (None, None) at the timeout
#   e.irecv(timeout_ms=None) -> [mac, msg] reused on every call (the bytearray is the class's), or
#     (None, None); for mac, msg in e: ... (irecv, waiting the configured timeout_ms)
#   e.recvinto(data, timeout_ms=None) -> the message's length, 0 at the timeout
#   e.any(), e.send(peer, msg, sync=True) / e.send(msg), e.add_peer(mac, lmk=None, channel=0,
#   ifidx=0, encrypt=False), e.del_peer(mac), e.get_peer(mac), e.peers_table, e.stats() ->
#   (tx_pkts, tx_responses, tx_failures, rx_packets, rx_dropped_packets), e.irq(callback)
# As on the board: timeout_ms None waits the configured timeout (300,000 ms by default), 0 does not
# wait, a negative one waits for ever; receiving or sending while inactive raises OSError
# ("ESP_ERR_ESPNOW_NOT_INIT"); a message is at most 250 bytes; the receive buffer holds rxbuf bytes
# (526 by default) of messages, each taking its length plus a header, and drops what does not fit
# (counted in stats()); one ESPNow object per process (the class is a singleton's front).
# The test side: deliver(mac, msg) puts a node's packet on the air for this board; sent() is what
# this board sent. reset() empties both and deactivates.
import time

MAX_DATA_LEN = 250
ADDR_LEN = 6
KEY_LEN = 16
MAX_TOTAL_PEER_NUM = 20
MAX_ENCRYPT_PEER_NUM = 6
_HEADER = 12  # bytes a message takes in the receive buffer beside its own (magic, length, mac, rssi)
_BROADCAST = b"\xff" * 6

_air = []  # (mac, msg) received and buffered, oldest first
_sent = []  # (peer or None, msg) this board sent
_state = {"active": False, "rxbuf": 526, "timeout_ms": 300000, "rate": None, "irq": None}
_stats = [0, 0, 0, 0, 0]
_peers = {}  # mac -> (lmk, channel, ifidx, encrypt)


def reset():
    del _air[:]
    del _sent[:]
    _peers.clear()
    for i in range(5):
        _stats[i] = 0
    _state.update({"active": False, "rxbuf": 526, "timeout_ms": 300000, "rate": None, "irq": None})


def deliver(mac, msg):
    # a node's packet reaches this board: buffered when active and rxbuf has room, else dropped
    if len(mac) != ADDR_LEN or len(msg) > MAX_DATA_LEN:
        raise ValueError("mac: 6 bytes; msg: at most 250 bytes")
    if not _state["active"]:
        return False
    used = 0
    for _, m in _air:
        used += len(m) + _HEADER
    if used + len(msg) + _HEADER > _state["rxbuf"]:
        _stats[4] += 1
        return False
    _air.append((bytes(mac), bytes(msg)))
    _stats[3] += 1
    cb = _state["irq"]
    if cb is not None:
        cb[0](cb[1])
    return True


def sent():
    return list(_sent)


def _sleep_ms(ms):
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


def _ticks():
    if hasattr(time, "ticks_ms"):
        return time.ticks_ms()
    return int(time.monotonic() * 1000)


def _elapsed(t0):
    if hasattr(time, "ticks_diff"):
        return time.ticks_diff(time.ticks_ms(), t0)
    return _ticks() - t0


def _need_active():
    if not _state["active"]:
        raise OSError(-12389, "ESP_ERR_ESPNOW_NOT_INIT")


def _mac(mac):
    if not isinstance(mac, (bytes, bytearray)) or len(mac) != ADDR_LEN:
        raise ValueError("invalid peer MAC address")
    return bytes(mac)


class ESPNowBase:
    def active(self, flag=None):
        if flag is None:
            return _state["active"]
        _state["active"] = bool(flag)
        if not flag:
            del _air[:]
        return _state["active"]

    def config(self, *args, **kw):
        if args:
            if len(args) != 1 or kw or args[0] not in ("rxbuf", "timeout_ms", "rate"):
                raise ValueError("unknown config param")
            return _state[args[0]]
        for k in kw:
            if k not in ("rxbuf", "timeout_ms", "rate"):
                raise ValueError("unknown config param")
            _state[k] = kw[k]
        return None

    def any(self):
        _need_active()
        return bool(_air)

    def recvinto(self, data, timeout_ms=None):
        _need_active()
        if timeout_ms is None:
            timeout_ms = _state["timeout_ms"]
        t0 = _ticks()
        while not _air:
            if timeout_ms >= 0 and _elapsed(t0) >= timeout_ms:
                return 0
            _sleep_ms(1)
            _need_active()
        mac, msg = _air.pop(0)
        data[0] = mac
        data[1][:] = msg
        return len(msg)

    def send(self, peer, msg=None, sync=True):
        _need_active()
        if msg is None:  # send(msg): to every peer
            peer, msg = None, peer
        else:
            peer = _mac(peer)
            if peer != _BROADCAST and peer not in _peers:
                raise OSError(-12392, "ESP_ERR_ESPNOW_NOT_FOUND")
        if isinstance(msg, str):
            msg = msg.encode()
        if len(msg) > MAX_DATA_LEN:
            raise ValueError("msg too long")
        _sent.append((peer, bytes(msg)))
        _stats[0] += 1
        _stats[1] += 1
        return True

    def add_peer(self, mac, lmk=None, channel=0, ifidx=0, encrypt=None):
        mac = _mac(mac)
        if mac in _peers:
            raise OSError(-12395, "ESP_ERR_ESPNOW_EXIST")
        if encrypt is None:
            encrypt = lmk is not None
        if len(_peers) >= MAX_TOTAL_PEER_NUM:
            raise OSError(-12391, "ESP_ERR_ESPNOW_FULL")
        if encrypt and sum(1 for p in _peers.values() if p[3]) >= MAX_ENCRYPT_PEER_NUM:
            raise OSError(-12391, "ESP_ERR_ESPNOW_FULL")
        _peers[mac] = (lmk, channel, ifidx, bool(encrypt))

    def del_peer(self, mac):
        mac = _mac(mac)
        if mac not in _peers:
            raise OSError(-12392, "ESP_ERR_ESPNOW_NOT_FOUND")
        del _peers[mac]

    def get_peer(self, mac):
        mac = _mac(mac)
        if mac not in _peers:
            raise OSError(-12392, "ESP_ERR_ESPNOW_NOT_FOUND")
        p = _peers[mac]
        return (mac, p[0], p[1], p[2], p[3])

    def get_peers(self):
        return tuple(self.get_peer(m) for m in _peers)

    @property
    def peers_table(self):
        return {}

    def stats(self):
        return tuple(_stats)

    def irq(self, callback, arg=None):
        _state["irq"] = (callback, arg) if callback is not None else None


class ESPNow(ESPNowBase):
    # as ports/esp32/modules/espnow.py: static buffers for irecv()
    _data = [None, bytearray(MAX_DATA_LEN)]
    _none_tuple = (None, None)

    def irecv(self, timeout_ms=None):
        n = self.recvinto(self._data, timeout_ms)
        return self._data if n else self._none_tuple

    def recv(self, timeout_ms=None):
        n = self.recvinto(self._data, timeout_ms)
        return [bytes(x) for x in self._data] if n else self._none_tuple

    def irq(self, callback):
        ESPNowBase.irq(self, callback, self)

    def __iter__(self):
        return self

    def __next__(self):
        return self.irecv()
