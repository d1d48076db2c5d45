"""Tests of the emulator extension: boto3 against a server started for the test run.

Run from the repository root: `.venv/bin/python -m unittest discover -s emulator/tests -t .`
Environment:
  EMULATOR_TEST_ENDPOINT=http://127.0.0.1:PORT  use that running server instead of starting one;
  EMULATOR_TEST_PLAIN=1                          start plain moto_server (no extension): every
                                                 test of a fix must then fail.
"""
