"""``lrla.show_versions()``: what a bug report needs to reproduce a number."""

from __future__ import annotations

import importlib
import os
import platform
import sys

_DEPENDENCIES = ("numpy", "scipy", "numba", "llvmlite", "sklearn", "threadpoolctl", "matplotlib", "tqdm", "cvxpy")


def _version(module_name):
    try:
        module = importlib.import_module(module_name)
    except Exception:
        return None
    return getattr(module, "__version__", "unknown")


def _info():
    import numba

    from . import __version__

    info = {
        "python": sys.version.replace("\n", " "),
        "executable": sys.executable,
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "lrla": __version__,
    }
    deps = {name: _version(name) for name in _DEPENDENCIES}
    threading = {
        "NUMBA_NUM_THREADS": os.environ.get("NUMBA_NUM_THREADS"),
        "numba.get_num_threads()": numba.get_num_threads(),
        "numba threading layer": numba.config.THREADING_LAYER,
        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR"),
    }
    try:
        from threadpoolctl import threadpool_info

        pools = threadpool_info()
    except Exception:  # threadpoolctl is a core dependency, but be robust in bug reports
        pools = []
    return info, deps, threading, pools


def show_versions():
    """Print versions of lrla, its dependencies, BLAS and Numba threading.

    Examples
    --------
    >>> import lrla
    >>> lrla.show_versions()  # doctest: +SKIP
    """
    info, deps, threading, pools = _info()
    print("\nSystem:")
    for k, v in info.items():
        print(f"{k:>24}: {v}")
    print("\nPython dependencies:")
    for k, v in deps.items():
        print(f"{k:>24}: {v if v is not None else 'not installed'}")
    print("\nNumba threading:")
    for k, v in threading.items():
        print(f"{k:>24}: {v}")
    print("\nthreadpoolctl (BLAS / OpenMP):")
    for pool in pools:
        for key in ("user_api", "internal_api", "num_threads", "version", "filepath"):
            print(f"{key:>24}: {pool.get(key)}")
        print()
