"""Errors meant for the user: each message is one line naming the file or port and the cause."""

from __future__ import annotations

__all__ = ["EmgError", "InputError", "DeviceError"]


class EmgError(Exception):
    """Base class of the errors the command line prints as one line, without a traceback."""


class InputError(EmgError, ValueError):
    """A file or argument could not be used; the message starts with its path."""

    def __init__(self, path: object, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DeviceError(EmgError, OSError):
    """A serial device misbehaved (wrong board, silent, unplugged); the message names the port."""

    def __init__(self, port: object, reason: str):
        self.port = str(port)
        self.reason = reason
        super().__init__(f"{self.port}: {reason}")
