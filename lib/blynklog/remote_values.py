# blynklog.remote_values: the accepted remote settings (Logger.remote()), what stats() adds about
# them, and the check of a value against its setting's declared type and bounds (config.py's
# "remote" section). Kept apart from remote.py so that a wake that only asks remote() (the
# firmware's, for its schedule) or stats() loads this much: it reads state.json's "remote" entry,
# written by remote.py at a sync. RAM: the result dict.
_INT_MAX = 2147483647
_INF = float("inf")


def check(spec, v):
    # -> (value, None) when v is a valid value of the setting, else (None, why)
    if isinstance(v, str):  # the plain-text answer of one pin, a JSON number's text (remote.py)
        t = v.strip(" \t\r\n")
        m, e, x = t.lower().partition("e")
        whole, dot, frac = m.partition(".")
        w = whole[1:] if whole[:1] in ("+", "-") else whole
        x = x[1:] if x[:1] in ("+", "-") else x
        # a decimal number of ASCII digits, sign, fraction and exponent only: float() and int()
        # differ by runtime past that (MicroPython's float() takes "." as 0.0, CPython's int()
        # "\u0661\u0662" as 12, both take Python's "1_000", no number Blynk writes)
        if not w + frac or (w + frac + x).strip("0123456789") or (e and not x):
            return None, "not a number: %r" % v[:20]
        if spec["type"] == "int" and not e:
            # "60" or "60.00000" (a double datastream's text) exactly: no float, which is
            # float32 on a board (16777217.0 read as 16777216)
            if frac.strip("0"):
                return None, "%s is not an integer" % t.rstrip("0")[:20]
            v = int(whole) if w else 0
        else:
            v = float(t)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None, "not a number: %r" % (v,)
    if isinstance(v, float) and (v != v or v == _INF or v == -_INF):
        return None, "not finite"
    if spec["type"] == "int":
        if isinstance(v, float):
            if v != int(v):
                return None, "%r is not an integer" % v
            v = int(v)
        if not -_INT_MAX - 1 <= v <= _INT_MAX:
            return None, "%d does not fit a 32-bit integer" % v
    else:
        v = float(v)
    lo = spec["min"]
    hi = spec["max"]
    if lo is not None and v < lo:
        return None, "%r is below %r" % (v, lo)
    if hi is not None and v > hi:
        return None, "%r is above %r" % (v, hi)
    return v, None


def sources(cfg):
    # name -> the datastream each setting is read from ("V20/20 " and the device, quota.target():
    # its pin, id, server and device), kept with the values read ("of"): a value read from
    # another datastream (the configuration moved the setting, or named another device, since)
    # is no value of the setting, and a read is due at once when they differ
    from .quota import target

    settings = cfg["remote"]["settings"]
    where = target(cfg)
    out = {}
    for name in settings:
        out[name] = "%s/%d %s" % (settings[name]["pin"], settings[name]["id"], where)
    return out


def same_source(kept, cfg):
    # the values kept (state "remote") of the settings the configuration still reads from the
    # datastream they were read from: name -> value, not checked again
    got = _dict(kept.get("v"))
    of = kept.get("of")  # None: kept before "of" was (their datastreams are taken as they are)
    of = of if isinstance(of, dict) or of is None else {}
    now = sources(cfg)
    out = {}
    for name in got:
        if name in now and (of is None or of.get(name) == now[name]):
            out[name] = got[name]
    return out


def values(log):
    # the settings accepted at the last read, checked again against the configuration (it may
    # have changed since: a setting read from another datastream then has none): name -> value
    settings = log._cfg["remote"]["settings"]
    got = same_source(_dict(log._state.get("remote")), log._cfg)
    out = {}
    for name in got:
        v, why = check(settings[name], got[name])
        if why is None:
            out[name] = v
    return out


def stats(log, out):
    # what Logger.stats() adds: the last settings read's refusals and failure
    if log._cfg["remote"] is not None:
        kept = _dict(log._state.get("remote"))
        out["remote_refused"] = dict(_dict(kept.get("refused")))  # a copy: not the state's own
        out["remote_error"] = kept.get("error")


def _dict(v):
    # a dict read back from the state file, or {} (absent, or a damaged file)
    return v if isinstance(v, dict) else {}
