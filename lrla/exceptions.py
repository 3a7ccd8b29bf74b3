"""Warnings and errors raised by lrla.

``ConvergenceWarning`` is scikit-learn's class, so one filter silences (or
escalates) the warning for both libraries.
"""

from sklearn.exceptions import ConvergenceWarning

__all__ = ["ConvergenceWarning"]
