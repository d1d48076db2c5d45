"""`python -m emulator [moto_server arguments]`: see emulator.server."""

from .server import main

main()
