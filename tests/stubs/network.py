# Stand-in for `network` on CPython tests: a WLAN that connects at once (or never, when told).
STA_IF = 0
AP_IF = 1
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_GOT_IP = 3
STAT_WRONG_PASSWORD = -3
STAT_NO_AP_FOUND = -2
STAT_CONNECT_FAIL = -1

reachable = True  # tests set False to simulate no access point
rssi = -61  # the signal strength status("rssi") reports while connected, dBm


class WLAN:
    def __init__(self, interface_id=STA_IF):
        self._active = False
        self._connected = False

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)
        if not self._active:
            self._connected = False
        return None

    def connect(self, ssid=None, key=None, *, bssid=None):
        self._connected = self._active and reachable

    def disconnect(self):
        self._connected = False

    def deinit(self):
        # rp2 (cyw43): powers the radio chip down; the next use powers it up again
        self._active = False
        self._connected = False
        self.deinited = True

    def isconnected(self):
        return self._connected

    def status(self, param=None):
        if param == "rssi":  # ESP32 and cyw43: the station's RSSI in dBm; an error without a link
            if not self._connected:
                raise OSError(-1)
            return rssi
        if param is not None:
            raise ValueError("unknown status param")
        return STAT_GOT_IP if self._connected else STAT_IDLE

    def ifconfig(self, configtuple=None):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")

    def config(self, *args, **kwargs):
        return None
