"""The single source of the package version (read by pyproject.toml and emg.__version__)."""

__version__ = "0.1.0"
