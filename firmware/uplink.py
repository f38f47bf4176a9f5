# uplink: one upload of the firmware (app.App.upload): the checks that keep the radio off when
# it cannot help (battery_min, the Logger's upload_wait_ms()), the radio marker around Wi-Fi, NTP
# when due, sync() within the radio budget with the watchdog's feed. Imported only by a wake
# that uploads: a wake that only samples does not load it. One task only.
from app import _int


def _radio_can_help(app):
    # None when the radio may come up; else why not (the schedule moves on)
    low = app.fw["battery_min"]
    if low is not None and app.battery is not None and app.battery < low:
        return "battery %s below battery_min %s" % (app.battery, low)
    wait = app.log.upload_wait_ms()
    if wait is None:
        return "the Logger will not upload (%s)" % (getattr(app.log, "unverified", None) or "see its warning")
    if wait > 0:
        app.not_before = app.board.ms() + wait
        return "the Logger cannot upload for %d s (back-off or the day's quota)" % (wait // 1000)
    return None


def upload(app):
    b = app.board
    fw = app.fw
    t = app.totals
    start = b.ms()
    app.last_upload = start
    why = _radio_can_help(app)
    if why:
        t["radio_skips"] += 1
        app.errors.report("upload", "radio stays off: " + why)
        return None
    t["uploads"] += 1
    app._radio = {"on": True, "n": _int(app._radio.get("n"), 0), "t": app._unix_now()}
    app._write_radio()
    b.led(True)
    try:
        err = b.wifi_up(fw["wifi"])
        b.feed()
        if err:
            t["wifi_failures"] += 1
            app.errors.report("wifi", err)
            return None
        clock = app.log.clock
        budget = fw["radio_budget_ms"]
        if b.can_ntp and (
            not clock.is_set() or app.last_ntp is None or b.ms() - app.last_ntp >= fw["ntp_every_s"] * 1000
        ):
            if clock.sync_ntp(timeout_ms=min(5000, budget // 2)):
                app.last_ntp = b.ms()
            else:
                app.errors.report("ntp", clock.last_error or "no answer")
            b.feed()
        left = budget - (b.ms() - start)
        if left < 500:
            app.errors.report("upload", "radio budget spent before the upload")
            return None
        if hasattr(app.log, "health_hook"):
            app.log.health_hook = app.health
        r = app.log.sync(budget_ms=left, feed=b.feed)
        app.last_report = r
        app.apply_remote()  # a light-sleeping board: from the next cycle
        for k in ("sent", "requests", "handshakes", "bytes_sent"):
            t[k] += r.get(k) or 0
        print(
            "upload: sent %d, pending %d, %d requests, %d handshakes, %d bytes, stopped %s, %d ms"
            % (
                r.get("sent", 0),
                r.get("pending", 0),
                r.get("requests") or 0,
                r.get("handshakes") or 0,
                r.get("bytes_sent") or 0,
                r.get("stopped"),
                b.ms() - start,
            )
        )
        if r.get("last_error"):
            app.errors.report("upload", r["last_error"])
        return r
    finally:
        b.wifi_down()
        b.led(False)
        b.feed()
        app._radio = {"on": False, "n": 0, "t": app._radio.get("t")}  # no reset under the radio
        app._write_radio()
