# blynklog: log sensor samples into flash, upload them to Blynk Cloud in batches.
__version__ = "0.1.0"
