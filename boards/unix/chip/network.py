# network (the virtual board's): one station interface. It connects at once while the world time is
# outside the state's offline windows; inside one it never connects (status: no access point), as
# an ESP32 out of its network's reach. The host's sockets carry the traffic. active(True) and
# active(False) switch the chip's radio (_vchip.set_radio: each change is an event with its world
# time and boot number in events.jsonl).
import _vchip

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202

_up = [False]  # connected, for ntptime


def hostname(name=None):
    return "vboard"


class WLAN:
    def __init__(self, interface_id=STA_IF):
        self._active = False
        self._ssid = None

    def active(self, on=None):
        _vchip.call()
        if on is None:
            return self._active
        self._active = bool(on)
        if not self._active:
            self.disconnect()
        _vchip.set_radio(self._active)

    def connect(self, ssid=None, key=None, **kw):
        _vchip.call()
        self._ssid = ssid

    def disconnect(self):
        _vchip.call()
        self._ssid = None
        _up[0] = False

    def isconnected(self):
        _vchip.call()
        _up[0] = bool(self._active and self._ssid and not _vchip.offline())
        return _up[0]

    def status(self, param=None):
        _vchip.call()
        if param == "rssi":  # a board near its access point; an error without a link, as on ESP32
            if not self.isconnected():
                raise OSError(-1)
            return -55
        if param is not None:
            raise ValueError("unknown status param")
        if not self._active or not self._ssid:
            return STAT_IDLE
        return STAT_NO_AP_FOUND if _vchip.offline() else STAT_GOT_IP

    def ifconfig(self, cfg=None):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")

    def config(self, *args, **kw):
        return None
