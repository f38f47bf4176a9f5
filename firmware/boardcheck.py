# boardcheck: what a board cannot do with the firmware's settings, checked where the settings are
# validated (settings.load at a boot whose config changed, and tools/deploy.py on the host), not
# at every wake. The facts are the board class's attributes (firmware/hw.py, boards/*/board.py):
# wdt_max_ms, has_deep_sleep, adc_pins, adc_note, adc_atten, i2c_buses, i2c_sda, i2c_scl, and its
# wdt_default(). Needs no machine module. Raises ValueError("key: message").

_WDT_MARGIN_MS = 2000  # the watchdog outlasts the longest unfed step by this much
_NTP_MAX_MS = 5000  # the firmware's NTP wait: min(5000, radio_budget_ms // 2)


def _fail(key, message):
    raise ValueError("%s: %s" % (key, message))


def _pins(pins):
    return ", ".join([str(p) for p in pins])


def check(cls, fw):
    # fw: settings.load()'s result; cls: the board class
    for k in fw.get("board") or {}:
        if k not in cls.board_keys:
            _fail(
                "board." + k,
                "unknown key for %s (%s)"
                % (
                    cls.name,
                    "known: " + ", ".join(cls.board_keys)
                    if cls.board_keys
                    else "it takes no board settings; sleep, watchdog_ms and the like are top-level keys",
                ),
            )
    wdt = fw["watchdog_ms"]
    if cls.wdt_max_ms and wdt and wdt > cls.wdt_max_ms:
        _fail("watchdog_ms", "at most %d on %s, got %d" % (cls.wdt_max_ms, cls.name, wdt))
    if wdt is None:
        wdt = cls.wdt_default(cls, fw)
    # sync() feeds the watchdog between network steps: one wait (a read, the TLS handshake, NTP)
    # must fit in it
    net = fw.get("upload_timeout_ms", 10000)
    ntp = min(_NTP_MAX_MS, fw["radio_budget_ms"] // 2)
    if wdt and wdt < max(net, ntp) + _WDT_MARGIN_MS:
        _fail(
            "watchdog_ms",
            "%d ms%s does not outlast one network wait (upload.timeout_ms %d, NTP %d) and %d ms: "
            "make upload.timeout_ms at most %d or the watchdog longer"
            % (
                wdt,
                "" if fw["watchdog_ms"] else " (%s's default)" % cls.name,
                net,
                ntp,
                _WDT_MARGIN_MS,
                wdt - _WDT_MARGIN_MS,
            ),
        )
    if fw["sleep"] == "deep" and not cls.has_deep_sleep:
        _fail("sleep", "%s has no deep sleep: use \"light\" or \"auto\"" % cls.name)
    for i, s in enumerate(fw["sensors"]):
        key = "sensors[%d]" % i
        if s["type"] == "adc":
            if cls.adc_pins is not None and s["pin"] not in cls.adc_pins:
                _fail(
                    key + ".pin",
                    "%s reads ADC on pins %s only, got %d%s" % (cls.name, _pins(cls.adc_pins), s["pin"], cls.adc_note),
                )
            if not cls.adc_atten and s.get("atten") is not None:
                _fail(key + ".atten", "%s's ADC has no attenuation: leave atten out" % cls.name)
        elif s.get("i2c") is not None:
            _check_i2c(cls, key + ".i2c", s["i2c"])
    buses = {}  # bus id -> the key and the pins of the first sensor on it
    for i, s in enumerate(fw["sensors"]):
        if s["type"] in ("sht3x", "aht20"):
            _one_bus(cls, "sensors[%d].i2c" % i, s.get("i2c") or {}, buses)


def _check_i2c(cls, key, spec):
    bus = spec.get("id", cls.i2c_default["id"])
    if cls.i2c_buses is None:
        return
    if bus not in cls.i2c_buses:
        _fail(key, "%s has I2C buses %s, got %d" % (cls.name, _pins(cls.i2c_buses), bus))
    for name, pins in (("sda", cls.i2c_sda), ("scl", cls.i2c_scl)):
        pin = spec.get(name)
        if pins is not None and pin is not None and pin not in pins[bus]:
            _fail(
                "%s.%s" % (key, name),
                "I2C %d's %s on %s is one of pins %s, got %d" % (bus, name.upper(), cls.name, _pins(pins[bus]), pin),
            )


def _one_bus(cls, key, spec, buses):
    # the bus as sensors.i2c_bus opens it (the board's default pins on its default bus): SCL and
    # SDA on two pins, and one bus opened once, with its first sensor's pins and freq, so every
    # sensor on it must name the same (a later one's would be left unused)
    d = cls.i2c_default
    bus = spec.get("id", d["id"])
    if bus != d["id"]:
        d = {}
    pins = (spec.get("scl", d.get("scl")), spec.get("sda", d.get("sda")), spec.get("freq", d.get("freq", 100000)))
    if pins[0] is not None and pins[0] == pins[1]:
        _fail(key, "SCL and SDA on one pin, %d" % pins[0])
    first = buses.get(bus)
    if first is None:
        buses[bus] = (key, pins)
    elif first[1] != pins:
        _fail(
            key,
            "I2C %d is opened once, as %s has it (scl %r, sda %r, freq %r): give the sensors on one bus "
            "the same scl, sda and freq" % ((bus, first[0]) + first[1]),
        )
