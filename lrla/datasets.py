"""Problem instances with known ground truth, and loaders of data shipped inside installed packages.

Each family of lrla adds its generators here, in its own section. Every
generator takes ``random_state`` and returns plain NumPy arrays.
"""

from __future__ import annotations

import numpy as np

from ._rng import check_random_state
from ._validation import check_int, check_option

# --- hadamard -----------------------------------------------------------------

HADAMARD_INPUT_KINDS = ("e1", "pair", "block4", "block8", "sparse2", "sparse8", "sparse32", "flat", "gaussian")


def make_hadamard_input(dim, kind, *, random_state=None):
    """A unit vector of length ``dim`` from the sweep of inputs the Hadamard claims use.

    Parameters
    ----------
    dim : int
        Length (>= 32 for the sparse and block kinds that need that many coordinates).
    kind : str
        ``"e1"``; ``"pair"`` = (e1 + e2)/sqrt 2; ``"block4"``, ``"block8"`` =
        indicator of the first 4 (8) coordinates, normalised (the extremal
        inputs: supported on a subgroup); ``"sparseK"`` = K random coordinates
        with random signs; ``"flat"`` = all-ones / sqrt(dim);
        ``"gaussian"`` = g/||g||.
    random_state : None, int, Generator or RandomState
        Used by the random kinds.
    """
    dim = check_int(dim, "dim", min_value=1)
    check_option(kind, "kind", HADAMARD_INPUT_KINDS)
    rng = check_random_state(random_state)
    u = np.zeros(dim)
    if kind == "e1":
        u[0] = 1.0
    elif kind in ("pair", "block4", "block8"):
        k = {"pair": 2, "block4": 4, "block8": 8}[kind]
        if dim < k:
            raise ValueError(f"`dim` must be >= {k} for kind {kind!r}; got {dim}.")
        u[:k] = 1.0
    elif kind.startswith("sparse"):
        k = int(kind[len("sparse"):])
        if dim < k:
            raise ValueError(f"`dim` must be >= {k} for kind {kind!r}; got {dim}.")
        support = rng.choice(dim, size=k, replace=False)
        u[support] = rng.choice([-1.0, 1.0], size=k)
    elif kind == "flat":
        u[:] = 1.0
    else:
        u = rng.standard_normal(dim)
    return u / np.linalg.norm(u)


def make_subspace(n, k, *, coherence="incoherent", random_state=None):
    """Orthonormal basis (n x k) of a k-dimensional subspace of R^n.

    ``coherence="incoherent"``: a uniformly random subspace (leverage scores
    about k/n); ``"coherent"``: the span of k coordinate vectors (leverage
    scores 0 or 1), the hard case for uniform row sampling.
    """
    n = check_int(n, "n", min_value=1)
    k = check_int(k, "k", min_value=1, max_value=n)
    check_option(coherence, "coherence", ("incoherent", "coherent"))
    rng = check_random_state(random_state)
    if coherence == "coherent":
        U = np.zeros((n, k))
        U[rng.choice(n, size=k, replace=False), np.arange(k)] = 1.0
        return U
    Q, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return Q
