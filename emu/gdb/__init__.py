"""A GDB remote serial protocol stub for the emulated guest (issue 16).

packets.py frames bytes (no I/O), target.py holds and resumes guest
processes for a debugger, reverse.py steps a replay backwards, stub.py is
the session on a loopback socket that ties them together.
"""
