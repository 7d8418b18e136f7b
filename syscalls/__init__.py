"""Darwin (macOS arm64) syscalls for the emulated guest.

Modules: ``table`` (the one table), ``kernel`` (dispatch and the return
convention), ``kinds`` (argument decoding), ``errno``/``consts``/``structs``
(Darwin values and layouts), and one module of handlers per area.
"""
