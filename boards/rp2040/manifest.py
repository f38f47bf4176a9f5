# Freezes blynklog and the firmware into a Pico W MicroPython build:
#   cd micropython/ports/rp2
#   make BOARD=RPI_PICO_W FROZEN_MANIFEST=/path/to/blynklog/boards/rp2040/manifest.py
# Frozen modules cost no RAM for their bytecode. main.py, boot.py and config.json stay on the
# file system (tools/deploy.py copies them), so configuration never needs a rebuild.
include("$(BOARD_DIR)/manifest.py")  # RPI_PICO_W: port modules and the networking bundle
include("../../lib/manifest.py")
require("ntptime")
module("app.py", base_path="../../firmware")
module("sensors.py", base_path="../../firmware")
module("settings.py", base_path="../../firmware")
module("errlog.py", base_path="../../firmware")
module("hw.py", base_path="../../firmware")
module("board.py")
