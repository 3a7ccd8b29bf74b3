"""Where lrla's warnings point (private)."""

from __future__ import annotations

import sys


def user_stacklevel():
    """``stacklevel`` naming the first frame outside lrla and scikit-learn, for a warning issued by our caller.

    Warnings are raised deep inside the library, which users reach directly, through
    functional forms (``complete_matrix``, ``subgradient_recovery``, ``sensitivity_sample``),
    through scikit-learn's ``fit_transform`` (and its set_output wrapper) or through
    another estimator (``NystroemKRR``): a fixed stacklevel names a library line in most
    of these. Use as ``warnings.warn(message, category, stacklevel=user_stacklevel())``.
    """
    frame, level = sys._getframe(2), 2  # level 1 is the function that warns; start at its caller
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in ("lrla", "sklearn"):
        frame, level = frame.f_back, level + 1
    return level
