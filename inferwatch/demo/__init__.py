"""`inferwatch demo`: the whole chain on one machine, on loopback, with nothing but the package.

Simulated engines of several kinds play the incident scenario, the exporter scrapes them and
simulates GPUs, the rules engine evaluates the default pack on its embedded source, and the
notifier delivers to the console and to a local webhook receiver. `stack.py` wires and runs it,
`view.py` shows it, `rules.py` compresses the pack's durations, `channels.py` holds the two
local channels, `cli.py` is the command.
"""
