# blynklog: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?=
BOARD ?= esp32
# A board-like MicroPython (a unix port built 32-bit with float32, as ESP32 and RP2040 are): when it
# is there, every portable test also runs on it. `make test MICROPYTHON_32=path` names another one;
# `make test MICROPYTHON_32=` leaves it out.
MICROPYTHON_32 ?= $(wildcard ../shared/board-port/micropython-32f)
export BLYNKLOG_MICROPYTHON_32 := $(abspath $(MICROPYTHON_32))
# The real Pico W firmware in an RP2040 emulator (MicroPython's own rp2 build run by rp2040js under
# Node.js): when the folder is there (and node), the emulated-board tier runs too (tests/test_pico*.py;
# the first run installs rp2040js into build/pico-sim-node with npm ci at the versions the folder's
# package-lock.json pins). `make test PICO_SIM=` leaves it out; BLYNKLOG_PICO_FULL=1 runs it in full.
PICO_SIM ?= $(wildcard ../shared/pico-sim)
export BLYNKLOG_PICO_SIM := $(abspath $(PICO_SIM))

.PHONY: test demo deploy bench emulator venv clean

venv: $(STAMP)

$(STAMP): requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# The whole suite: CPython items and unix-port items (both unix ports) in one pytest run, in
# TEST_JOBS parallel workers (pytest-xdist; most of the time goes to waiting on the unix ports and
# the emulator): a test module, or one module on one unix port, stays on one worker, the longest
# first (tests/conftest.py). `make test TEST_JOBS=0` runs it in one process.
TEST_JOBS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -o faulthandler_timeout=1200 $(if $(filter-out 0,$(TEST_JOBS)),-n $(TEST_JOBS),) tests

# The main job: the firmware loop on the virtual board against the local Blynk server.
demo: $(STAMP)
	$(BIN)/python tools/demo.py

# The local Blynk emulator for your own sketch: prints the URL, the CA, the credentials and a ready
# config.json; CONFIG=your-config.json creates the datastreams it declares. Serves until Ctrl-C.
emulator: $(STAMP)
	$(BIN)/python tools/emulator.py $(if $(CONFIG),--config $(CONFIG),) $(if $(EMU_PORT),--port $(EMU_PORT),) $(if $(EMU_OUT),--out $(EMU_OUT),)

# Compile and copy the package, firmware and board files to a board: make deploy PORT=/dev/ttyUSB0 BOARD=esp32
# (BOARD: esp32, rp2040 or unix; CONFIG: default firmware/config.json; only changed files are copied)
deploy: $(STAMP)
	$(BIN)/python tools/deploy.py --board $(BOARD) $(if $(PORT),--port $(PORT),) $(if $(CONFIG),--config $(CONFIG),)

# Benchmarks side by side with the naive approach; writes docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python tools/bench.py

clean:
	rm -rf build .pytest_cache
