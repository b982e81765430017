"""User-facing errors.

Every error a person can cause (a bad flag, a malformed dataset row, a corrupt run directory, a server that
times out) is raised as a :class:`MindError` subclass whose message is one line naming what is wrong and how
to fix it. The CLI prints it as ``error: <message>`` and exits with status 2; the dashboard shows it with
``st.error``. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class MindError(Exception):
    """Base class: a problem with the user's input, not with the code."""

    exit_code = 2


class ConfigError(MindError, ValueError):
    """An impossible or unknown configuration value."""


class DataError(MindError, ValueError):
    """A malformed dataset file or row."""


class RunDirError(MindError):
    """A missing, corrupt or partial run directory."""


class BackendError(MindError):
    """A model backend (HTTP server, local model) that failed after its retries."""
