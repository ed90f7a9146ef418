"""Errors a user can act on: each names the file (and line) at fault."""


class ThresherError(Exception):
    """Base class: the CLI prints these as one line and exits non-zero."""


class InputError(ThresherError):
    """Unreadable, corrupt or empty input."""


class ConfigError(ThresherError, ValueError):
    """An invalid option or configuration value (a ValueError too, for API callers)."""


class OutputError(ThresherError):
    """The run directory cannot be written (disk full, quota, permissions): names the file."""
