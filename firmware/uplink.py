# uplink: one upload of the firmware (app.App.upload): the checks that keep the radio off when
# it cannot help (battery_min, the Logger's upload_wait_ms()), the radio marker around Wi-Fi, NTP
# when due, sync() within the radio budget with the watchdog's feed; the board's health figures
# handed to the Logger before it (log.health_hook) and the remote settings it read applied after
# it (app.apply_remote), in _begin() and _end(), which upload() and upload_async() share.
# Imported only by a wake that uploads: a wake that only samples does not load it. One task only;
# in asyncio mode (app.App.run_async) upload_task() is the uploading task, on sync_async().
from app import _int

_CHECK_S = 1  # asyncio mode: how often the upload task looks whether an upload is due


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
    left = _begin(app)
    if left is None:
        return None
    try:
        if left < 0:
            return None
        return _end(app, app.log.sync(budget_ms=left, feed=app.board.feed))
    finally:
        _radio_off(app)


async def upload_async(app):
    # upload() in asyncio mode: the same steps, the sync on sync_async() (Wi-Fi and NTP still block)
    left = _begin(app)
    if left is None:
        return None
    try:
        if left < 0:
            return None
        return _end(app, await app.log.sync_async(budget_ms=left))
    finally:
        _radio_off(app)


async def upload_task(app, done):
    # asyncio mode's uploads: when one is due by the schedule, checked every _CHECK_S, until done[0]
    import asyncio

    while not done[0]:
        if app.upload_due(app.board.ms()):
            try:
                await upload_async(app)
            except Exception as e:
                app.totals["loop_errors"] += 1
                app.errors.report("upload", e)
        await asyncio.sleep(_CHECK_S)


def _begin(app):
    # The checks, the radio marker, Wi-Fi and NTP -> the budget left for the sync (ms), -1 when
    # there is no sync (the radio is up: _radio_off follows), or None when the radio stayed off.
    b = app.board
    fw = app.fw
    t = app.totals
    start = b.ms()
    slot = getattr(app, "_slot", None)  # the due time of the cycle that uploads (App.cycle)
    app.last_upload = start if slot is None or slot > start else slot
    app._upload_start = start
    why = _radio_can_help(app)
    if why:
        t["radio_skips"] += 1
        app.errors.report("upload", "radio stays off: " + why)
        return None
    t["uploads"] += 1
    # the marker's time is the upload's, as last_upload counts it (its cycle's due time): a power-on
    # that finds it counts the next upload from there, not from the start a sampling later
    due = app._unix_now()
    if due is not None:
        due -= start - app.last_upload
    app._radio = {"on": True, "n": _int(app._radio.get("n"), 0), "t": due}
    app._write_radio()
    b.led(True)
    try:
        err = b.wifi_up(fw["wifi"])
        b.feed()
        if err:
            t["wifi_failures"] += 1
            app.errors.report("wifi", err)
            return -1
        clock = app.log.clock
        budget = fw["radio_budget_ms"]
        if b.can_ntp and (
            not clock.is_set() or app.last_ntp is None or b.ms() - app.last_ntp >= fw["ntp_every_s"] * 1000
        ):
            if clock.sync_ntp(timeout_ms=min(5000, budget // 2)):
                app.last_ntp = b.ms()
            else:
                app.errors.report("ntp", clock.last_error or "no answer")
                if clock.is_set():
                    # asked: again after ntp_every_s, not at every upload while NTP is blocked
                    # (its timeout waited out with the radio on); the sync's Date keeps the clock
                    app.last_ntp = b.ms()
            b.feed()
        left = budget - (b.ms() - start)
        if left < 500:
            app.errors.report("upload", "radio budget spent before the upload")
            return -1
        if hasattr(app.log, "health_hook"):
            app.log.health_hook = app.health
        return left
    except BaseException:
        _radio_off(app)
        raise


def _end(app, r):
    b = app.board
    t = app.totals
    app.last_report = r
    app.apply_remote()  # a light-sleeping or asyncio-mode board: from the next cycle
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
            b.ms() - app._upload_start,
        )
    )
    if r.get("last_error"):
        app.errors.report("upload", r["last_error"])
    return r


def _radio_off(app):
    b = app.board
    b.wifi_down()
    b.led(False)
    b.feed()
    app._radio = {"on": False, "n": 0, "t": app._radio.get("t")}  # no reset under the radio
    app._write_radio()
