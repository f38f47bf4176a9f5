# Freezes blynklog and the firmware into an ESP32 MicroPython build:
#   cd micropython/ports/esp32
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/blynklog/boards/esp32/manifest.py
# Frozen modules cost no RAM for their bytecode. main.py, boot.py and config.json stay on the
# file system (tools/deploy.py copies them), so configuration never needs a rebuild.
include("$(PORT_DIR)/boards/manifest.py")
include("../../lib/manifest.py")
require("ntptime")
module("app.py", base_path="../../firmware")
module("sensors.py", base_path="../../firmware")
module("settings.py", base_path="../../firmware")
module("errlog.py", base_path="../../firmware")
module("hw.py", base_path="../../firmware")
module("board.py")
