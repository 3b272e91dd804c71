"""Errors a user can act on: the command line prints them in one line, without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the input (exit 2) or a runtime failure with a known cause (exit 1)."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def runtime_error(message: str) -> UserError:
    """A failure of the environment (a taken port, read-only storage): exit 1."""
    return UserError(message, exit_code=1)
