"""Set-up shared by every test module."""

import signal

# A suite started with SIGINT ignored (a background job of a shell without job control, as a
# CI runner may start it) would pass the ignore on to every process the tests start, and the
# ctrl-C tests send those SIGINT as a terminal does: they get Python's own handling back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
