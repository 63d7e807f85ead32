"""The one place Numba is imported.

``jit`` compiles with fixed defaults (nopython, cached, no GIL). With the environment
variable ``EMG_NO_NUMBA=1`` it returns the plain Python function instead, so every kernel
also runs (slowly) without Numba, e.g. to debug or to check the compiled path against it.
"""

from __future__ import annotations

import os

__all__ = ["NUMBA_ENABLED", "jit"]

NUMBA_ENABLED = os.environ.get("EMG_NO_NUMBA", "").strip() not in ("1", "true", "yes")

_DEFAULTS = {"nopython": True, "cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}


def jit(func=None, **options):
    """Decorator: ``numba.njit`` with the project defaults (or identity when disabled)."""

    def wrap(f):
        if not NUMBA_ENABLED:
            return f
        import numba

        return numba.jit(**{**_DEFAULTS, **options})(f)

    return wrap(func) if func is not None else wrap
