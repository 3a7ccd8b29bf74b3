"""Where a warning should point (private)."""

from __future__ import annotations

import sys


def user_stacklevel():
    """``stacklevel`` naming the first frame outside lrla and scikit-learn, for a warning issued by our caller.

    Warnings of this package are raised deep inside ``fit``, which users reach
    directly, through scikit-learn's ``fit_transform`` (and its set_output
    wrapper), through :class:`NystroemKRR` or through ``InkEstimate.fit``: a
    fixed stacklevel names a library line in most of these.
    """
    frame, level = sys._getframe(2), 2  # level 1 is the function that warns; start at its caller
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in ("lrla", "sklearn"):
        frame, level = frame.f_back, level + 1
    return level
