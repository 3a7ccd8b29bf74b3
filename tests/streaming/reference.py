"""Plain-numpy references of the streaming kernels (row by row, same state layout)."""

import numpy as np


def random_order_pass(X, t_start, horizon, inv_dl, state, Z, Y, heavy, accumulate):
    for i, a in enumerate(np.asarray(X, dtype=np.float64)):
        nrm = float(a @ a)
        state[2] += nrm
        is_heavy = state[0] > 0 and nrm > 0 and nrm >= 0.5 * (horizon / state[1]) * state[0] * inv_dl
        heavy[i] = is_heavy
        if is_heavy:
            continue
        state[0] += nrm
        state[1] += 1.0
        if accumulate and nrm > 0:
            Y += np.outer(a, a @ Z)


def oja_pass(X, t_start, rates, decay_offset, Z, log_growth, energy):
    for i, a in enumerate(np.asarray(X, dtype=np.float64)):
        t = t_start + i + 1
        decay = decay_offset / (decay_offset + t) if decay_offset > 0 else 1.0
        s = a @ Z
        for j in range(Z.shape[1]):
            if s[j] == 0:
                continue
            z = Z[:, j] + rates[j] * decay * s[j] * a
            nrm = np.linalg.norm(z)
            Z[:, j] = z / nrm
            log_growth[j] += np.log(nrm)
            energy[j] += s[j] ** 2
