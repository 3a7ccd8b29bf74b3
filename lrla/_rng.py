"""Random-state handling.

Every randomized public function takes ``random_state`` (None, an int, a
``numpy.random.SeedSequence``, a ``numpy.random.Generator`` or a legacy
``numpy.random.RandomState``) and normalises it once, here, into a
``Generator``. Numba kernels never touch numpy's global RNG: they receive
pre-drawn random numbers or explicit integer seeds for the counter-based
generator below, so results do not depend on thread scheduling.
"""

from __future__ import annotations

import numbers

import numpy as np
from numba import njit

__all__ = ["check_random_state", "kernel_seed", "spawn", "splitmix64", "counter_uniform", "counter_sign"]


def check_random_state(random_state, name="random_state"):
    """Normalise ``random_state`` into a ``numpy.random.Generator``.

    An int or a SeedSequence gives a new, reproducible Generator; a Generator
    is used as it is (its state advances); a ``RandomState`` seeds a new
    Generator from one draw (so it advances too, as in scikit-learn); None
    gives fresh OS entropy.
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, np.random.SeedSequence):
        return np.random.default_rng(random_state)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"`{name}` must be a non-negative integer seed; got {random_state}.")
        return np.random.default_rng(int(random_state))
    raise TypeError(
        f"`{name}` must be None, an int, a SeedSequence, a numpy Generator or a RandomState; "
        f"got {type(random_state).__name__}."
    )


def kernel_seed(rng):
    """Draw a 63-bit integer seed for a Numba kernel from a Generator."""
    return int(rng.integers(0, 2**63 - 1, dtype=np.int64))


def spawn(rng, n):
    """``n`` independent child Generators derived from ``rng`` (reproducibly)."""
    return [np.random.default_rng(s) for s in rng.integers(0, 2**63 - 1, size=n, dtype=np.int64)]


@njit(cache=True, inline="always")
def splitmix64(x):
    """SplitMix64 finaliser: a bijective 64-bit hash (Steele, Lea & Flood 2014)."""
    x = np.uint64(x) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True, inline="always")
def counter_uniform(seed, counter):
    """Uniform [0, 1) double from (seed, counter): stateless, so any thread order gives the same value."""
    h = splitmix64(np.uint64(seed) ^ splitmix64(np.uint64(counter)))
    return np.float64(h >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def counter_sign(seed, counter):
    """Rademacher sign (+1.0 / -1.0) from (seed, counter)."""
    h = splitmix64(np.uint64(seed) ^ splitmix64(np.uint64(counter)))
    return 1.0 if (h >> np.uint64(63)) == np.uint64(0) else -1.0
