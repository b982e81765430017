"""The package version, in one place below everything (``mind.__version__`` re-exports it)."""

__version__ = "0.1.0"
