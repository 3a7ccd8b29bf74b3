"""Concat family: estimator cost, clustering time, compression vs the paper's own implementation and baselines.

The paper's implementation (github.com/mshamrai/concatenated-matrix-svd,
Apache-2.0) is not a package and is never vendored here. To include it, point
``LRLA_CONCAT_REFERENCE`` at the ``src/clustering`` directory of a local
checkout (``LRLA_CONCAT_REFERENCE_COMMIT`` may name its commit); its modules
are imported from there (without the package ``__init__``, which needs
``hdbscan``) and its progress bars are silenced.
Without the variable the reference columns say "not run".
"""

from __future__ import annotations

import copy
import functools
import importlib
import os
import subprocess
import sys
import types

import numpy as np

from lrla.concat import IncrementalSVD, captured_energy, cluster_matrices, compression_ratio
from lrla.concat.bounds import _energy_profile
from lrla.concat.incremental import _update_numpy
from lrla.datasets import load_digits_blocks, load_mlp_weight_blocks, make_block_family

from .core import Report, benchmark, machine_line, md_table, pinned_blas, time_interleaved

REFERENCE_ENV = "LRLA_CONCAT_REFERENCE"
COMBOS = (("max_norm", "norm"), ("residuals", "norm"), ("residuals", "residual"), ("approximate", "norm"),
          ("approximate", "residual"))


def _timing(method):
    """max_norm takes about a millisecond on the small inputs: each sample loops it for 50 ms, more rounds."""
    return dict(repeat=9, min_time=0.05) if method == "max_norm" else dict(repeat=3)


@functools.lru_cache(maxsize=1)
def _reference():
    """The paper's three clustering classes, or None when no checkout is configured."""
    path = os.environ.get(REFERENCE_ENV)
    if not path or not os.path.isdir(path):
        return None
    name = "_concat_svd_reference"
    pkg = types.ModuleType(name)
    pkg.__path__ = [path]
    sys.modules[name] = pkg
    classes = {}
    for mod_name, cls in (("max_norm", "MaxNormClusterAlgorithm"), ("residuals", "ResidualsClusterAlgorithm"),
                          ("approximate", "ApproximateClusterAlgorithm")):
        mod = importlib.import_module(f"{name}.{mod_name}")
        if hasattr(mod, "tqdm"):
            mod.tqdm = functools.partial(mod.tqdm, disable=True)
        classes[mod_name] = getattr(mod, cls)
    commit = os.environ.get(REFERENCE_ENV + "_COMMIT", "")
    if not commit:
        try:
            commit = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True, check=False).stdout.strip()
        except OSError:
            commit = ""
    classes["commit"] = commit or "unknown commit"
    return classes


def _ref_clusters(model, blocks, method):
    """Index lists of the reference's clusters (max_norm keeps arrays only: map them back by identity)."""
    if method == "max_norm":
        where = {id(A): j for j, A in enumerate(blocks)}
        return [np.array([where[id(A)] for A in c]) for c in model.clusters_]
    labels = model.labels_
    return [np.flatnonzero(labels == c) for c in np.unique(labels)]


def _cr_from_clusters(blocks, clusters, rank):
    """The paper's effective compression ratio; the numerator counts every block, as the paper's metric does."""
    m = blocks[0].shape[0]
    params = 0
    for c in clusters:
        W = sum(blocks[j].shape[1] for j in c)
        params += m * W if len(c) == 1 else min(rank * (m + W), m * W)
    return m * sum(A.shape[1] for A in blocks) / params


def _errors(blocks, clusters, rank):
    out = []
    for c in clusters:
        if len(c) > 1:
            sub = [blocks[j] for j in c]
            N = sum(float(np.vdot(A, A)) for A in sub)
            out.append(np.sqrt(max(0.0, N - _energy_profile(sub, rank)[-1]) / N))
    return np.array(out) if out else np.zeros(1)


def _load_line():
    try:
        return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def _caption():
    ref = _reference()
    return (f"{machine_line()}; BLAS pinned to 1 thread; {_load_line()} (machine shared with other jobs: "
            f"ratios measured interleaved in one run are what to read). Reference: "
            + (f"mshamrai/concatenated-matrix-svd @ {ref['commit']}" if ref else "not run (set LRLA_CONCAT_REFERENCE)"))


# ----------------------------------------------------------------------------- estimator cost


@benchmark(id="concat.estimator-add", description="IncrementalSVD.add per block vs cluster size, vs the paper's "
           "update, the plain-numpy update and an exact re-SVD per step")
def bench_estimator_add(quick):
    rng = np.random.default_rng(0)
    m, d, r, p, batch = 256, 8, 16, 5, 32
    sizes = (32, 128) if quick else (32, 128, 512)
    blocks = [rng.standard_normal((m, d)) for _ in range(max(sizes) + batch)]
    ref = _reference()
    rows = []
    with pinned_blas(1):
        est = IncrementalSVD(r, oversample=p)
        ref_model = ref["approximate"](r_target=r, oversampling=p) if ref else None
        ref_state = None
        n = 0
        for K in sizes:
            while n < K:
                est.add(blocks[n])
                if ref_model is not None:
                    Q, S = (None, None) if ref_state is None else ref_state
                    _, Q, S = ref_model._update_top_singular_values(blocks[n], Q=Q, S=S)
                    ref_state = (Q, S)
                n += 1
            new = blocks[K:K + batch]
            truth = captured_energy(blocks[:K + batch], r)

            def run_lrla(est=est, new=new):
                e = copy.copy(est)
                for A in new:
                    e.add(A)
                return e.energy_

            def run_numpy(est=est, new=new):
                Q, lam = est.basis_, est.eigenvalues_
                for A in new:
                    Q, lam = _update_numpy(Q, lam, A, r + p, None)
                return float(lam[:r].sum())

            C = np.hstack(blocks[:K + 1])
            cands = {"lrla": run_lrla, "numpy": run_numpy,
                     "exact": lambda C=C: float(np.sum(np.linalg.svd(C, compute_uv=False)[:r] ** 2))}
            checks = {"lrla": lambda e, t=truth: _assert(0.8 * t <= e <= t * (1 + 1e-10), f"energy {e} vs {t}"),
                      "numpy": lambda e, t=truth: _assert(0.8 * t <= e <= t * (1 + 1e-10), f"energy {e} vs {t}"),
                      "exact": None}
            if ref_model is not None:
                def run_ref(state=ref_state, new=new):
                    Q, S = state
                    for A in new:
                        sv, Q, S = ref_model._update_top_singular_values(A, Q=Q, S=S)
                    return float(np.sum(sv ** 2))

                cands["paper"] = run_ref
                checks["paper"] = lambda e, t=truth: _assert(0.8 * t <= e <= t * (1 + 1e-8), f"energy {e} vs {t}")
            t = time_interleaved(cands, repeat=5 if quick else 9, check=checks)
            per = {k: v / batch for k, v in t.items()}
            per["exact"] = t["exact"]  # one SVD per appended block
            rows.append([K, per["lrla"] * 1e3, per["numpy"] * 1e3, per.get("paper", float("nan")) * 1e3,
                         per["exact"] * 1e3, per["lrla"] / per["paper"] if "paper" in per else "n/a",
                         per["lrla"] / per["exact"]])
    md = (f"Per-block cost of appending a {m} x {d} block at rank {r} (p = {p}) to a cluster of K blocks "
          f"(ms, median of interleaved rounds). 'exact' = one SVD of the whole concatenation per appended block.\n\n"
          + md_table(["K", "lrla add", "numpy update", "paper update", "exact re-SVD", "lrla / paper",
                      "lrla / exact"], rows) + f"\n\n{_caption()}\n")
    return Report(md, rows)


def _assert(cond, msg):
    if not cond:
        raise AssertionError(msg)


# ----------------------------------------------------------------------------- clustering time


def _check_clustering(blocks, rank, eps):
    def check(labels):
        labels = np.asarray(labels)
        _assert(labels.shape == (len(blocks),) and labels.min() >= 0, "not a labelling of every block")
        clusters = [np.flatnonzero(labels == c) for c in np.unique(labels)]
        worst = _errors(blocks, clusters, rank).max()
        _assert(worst <= eps * (1 + 1e-9), f"a cluster has error {worst} > eps {eps}")
    return check


@benchmark(id="concat.clustering-time", description="clustering time vs number of blocks, per method and order, "
           "lrla vs the paper's implementation")
def bench_clustering_time(quick):
    sizes = (100, 200) if quick else (100, 200, 400, 800)
    rank, eps = 16, 0.1
    ref = _reference()
    rows = []
    with pinned_blas(1):
        for n in sizes:
            blocks = make_block_family("groups", n, 64, 4, rank=6, n_groups=8, noise=0.05, random_state=n)
            for method, order in COMBOS:
                cands = {"lrla": lambda b=blocks, mt=method, o=order: cluster_matrices(b, rank, eps, method=mt,
                                                                                       order=o)}
                checks = {"lrla": _check_clustering(blocks, rank, eps)}
                if ref:
                    kw = {} if method == "max_norm" else {"sorting_strategy": order}
                    cands["paper"] = lambda b=blocks, mt=method, kw=kw: ref[mt](eps=eps, r_target=rank, **kw).fit(list(b))
                    checks["paper"] = None
                t = time_interleaved(cands, check=checks, **_timing(method))
                rows.append([n, f"{method}/{order}", t["lrla"], t.get("paper", float("nan")),
                             t["lrla"] / t["paper"] if "paper" in t else "n/a"])
    from validation.stats import loglog_slope

    slope_rows = []
    for method, order in COMBOS:
        sel = [r for r in rows if r[1] == f"{method}/{order}"]
        ns = [r[0] for r in sel]
        fits = [loglog_slope(ns, [r[k] for r in sel]) if len(ns) >= 3 and np.isfinite([r[k] for r in sel]).all()
                else None for k in (2, 3)]
        slope_rows.append([f"{method}/{order}"] + [f"{f.slope:.2f} [{f.ci_low:.2f}, {f.ci_high:.2f}]" if f else "n/a"
                                                    for f in fits])
    scale_rows = _max_norm_at_scale(quick, rank, eps, ref)
    md = (f"Seconds to cluster n blocks (64 x 4, 8 groups of 6-dim subspaces, 5% noise; rank {rank}, eps {eps}); "
          f"every lrla run is checked: partition and every cluster's exact error <= eps. max_norm rows: median of "
          f"9 interleaved rounds, each looping the call for 50 ms (other rows: 3 rounds of one call).\n\n"
          + md_table(["n blocks", "method/order", "lrla s", "paper s", "lrla / paper"], rows)
          + "\n\nLog-log slope of time vs n (95% CI; needs three sizes, full mode):\n\n"
          + md_table(["method/order", "lrla slope", "paper slope"], slope_rows)
          + "\n\n**max_norm at scale** (same family and rank/eps, n up to 32000 blocks, where one call takes "
            f"milliseconds to seconds; median of {5 if quick else 11} interleaved rounds; patience 10 as by "
            "default, or none, "
            "i.e. the paper's patience set to n + 1, so that every block goes through the greedy). Clusters: "
            "lrla's (a partition, every cluster's exact error <= eps checked) and the paper's (its output, "
            "which drops the seed's other blocks when nothing can be added).\n\n"
          + md_table(["n blocks", "patience", "lrla clusters", "paper clusters", "paper lost blocks", "lrla s",
                      "paper s", "lrla / paper"], scale_rows)
          + f"\n\n{_caption()}\n")
    return Report(md, rows + scale_rows)


def _max_norm_at_scale(quick, rank, eps, ref):
    sizes = (2000,) if quick else (2000, 8000, 32000)
    rows = []
    with pinned_blas(1):
        for n in sizes:
            blocks = make_block_family("groups", n, 64, 4, rank=6, n_groups=8, noise=0.05, random_state=n)
            for patience in (10, None):
                cands = {"lrla": lambda b=blocks, p=patience: cluster_matrices(b, rank, eps, method="max_norm",
                                                                               patience=p)}
                checks = {"lrla": _check_clustering(blocks, rank, eps)}
                if ref:
                    cands["paper"] = lambda b=blocks, p=patience: ref["max_norm"](
                        eps=eps, r_target=rank, patience=p or len(b) + 1).fit(list(b))
                    checks["paper"] = None
                t = time_interleaved(cands, repeat=5 if quick else 11, check=checks)
                labels = cluster_matrices(blocks, rank, eps, method="max_norm", patience=patience)
                row = [n, patience or "none", int(labels.max()) + 1]
                if ref:
                    model = ref["max_norm"](eps=eps, r_target=rank, patience=patience or n + 1).fit(list(blocks))
                    row += [len(model.clusters_), n - sum(len(c) for c in model.clusters_), t["lrla"], t["paper"],
                            t["lrla"] / t["paper"]]
                else:
                    row += ["not run", "not run", t["lrla"], "not run", "n/a"]
                rows.append(row)
    return rows


# ----------------------------------------------------------------------------- compression


def _baselines(blocks, rank, eps, labels_ref, rng):
    """Per-matrix SVD, concatenate-all, k-means on subspace features, random grouping (matched sizes)."""
    from sklearn.cluster import KMeans

    m = blocks[0].shape[0]
    out = []
    # per-matrix SVD at the smallest rank meeting eps for each block
    params = 0
    for A in blocks:
        s2 = np.linalg.svd(A, compute_uv=False) ** 2
        tail = s2.sum() - np.cumsum(s2)
        r_j = int(np.argmax(tail <= eps * eps * s2.sum())) + 1
        params += min(r_j * (m + A.shape[1]), m * A.shape[1])
    out.append(["per-matrix SVD (own rank)", m * sum(A.shape[1] for A in blocks) / params, 0.0, "0 (by construction)"])
    # concatenate everything: rank r, and the smallest rank meeting eps
    allc = [np.arange(len(blocks))]
    out.append([f"concatenate-all, rank {rank}", _cr_from_clusters(blocks, allc, rank),
                float(_errors(blocks, allc, rank).max()), "1/1" if _errors(blocks, allc, rank).max() > eps else "0/1"])
    W = sum(A.shape[1] for A in blocks)
    prof = _energy_profile(blocks, min(m, W))
    N = prof[-1] + 0.0
    N = sum(float(np.vdot(A, A)) for A in blocks)
    r_star = int(np.argmax(N - prof <= eps * eps * N)) + 1
    out.append([f"concatenate-all, rank {r_star} (meets eps)", m * W / min(r_star * (m + W), m * W), eps, "0/1"])
    # k-means on vec(U U^T) of each block's top left singular vectors, as many clusters as lrla found
    n_clusters = int(np.unique(labels_ref).size)
    k = min(4, min(A.shape[1] for A in blocks))
    feats = []
    for A in blocks:
        U = np.linalg.svd(A, full_matrices=False)[0][:, :k]
        feats.append((U @ U.T).ravel())
    km = KMeans(n_clusters=min(n_clusters, len(blocks)), n_init=3, random_state=0).fit(np.array(feats))
    clusters = [np.flatnonzero(km.labels_ == c) for c in np.unique(km.labels_)]
    errs = _errors(blocks, clusters, rank)
    out.append([f"k-means on subspaces ({n_clusters} clusters)", _cr_from_clusters(blocks, clusters, rank),
                float(errs.max()), f"{int((errs > eps).sum())}/{int(sum(len(c) > 1 for c in clusters))}"])
    # random grouping with lrla's cluster sizes
    sizes = np.bincount(labels_ref)
    perm = rng.permutation(len(blocks))
    clusters = np.split(perm, np.cumsum(sizes)[:-1])
    errs = _errors(blocks, clusters, rank)
    out.append(["random grouping (same sizes)", _cr_from_clusters(blocks, clusters, rank), float(errs.max()),
                f"{int((errs > eps).sum())}/{int(sum(len(c) > 1 for c in clusters))}"])
    return out


@benchmark(id="concat.compression", description="compression ratio at eps in {0.01, 0.05, 0.1, 0.2} on digits "
           "blocks and MLP weights: three methods, the paper's implementation and baselines")
def bench_compression(quick):
    datasets = [("digits per class, 64 x 8", load_digits_blocks(8), 16)]
    if not quick:
        datasets.append(("MLP weights on digits, 64 x 1 vectors", load_mlp_weight_blocks(1), 8))
    eps_grid = (0.05, 0.2) if quick else (0.01, 0.05, 0.1, 0.2)
    ref = _reference()
    rng = np.random.default_rng(0)
    sections = []
    all_rows = []
    with pinned_blas(1):
        for name, blocks, rank in datasets:
            rows, base_rows = [], []
            for eps in eps_grid:
                labels_best = None
                for method, order in COMBOS:
                    cands = {"lrla": lambda b=blocks, mt=method, o=order, e=eps: cluster_matrices(
                        b, rank, e, method=mt, order=o)}
                    checks = {"lrla": _check_clustering(blocks, rank, eps)}
                    if ref:
                        kw = {} if method == "max_norm" else {"sorting_strategy": order}
                        cands["paper"] = lambda b=blocks, mt=method, kw=kw, e=eps: ref[mt](
                            eps=e, r_target=rank, **kw).fit(list(b))
                        checks["paper"] = None
                    t = time_interleaved(cands, check=checks, **_timing(method))
                    labels = cluster_matrices(blocks, rank, eps, method=method, order=order)
                    if (method, order) == ("approximate", "residual"):
                        labels_best = labels
                    cr = compression_ratio(blocks, labels, rank)
                    n_cl = int(labels.max()) + 1
                    err = float(_errors(blocks, [np.flatnonzero(labels == c) for c in range(n_cl)], rank).max())
                    row = [eps, f"{method}/{order}", cr, n_cl, err, t["lrla"]]
                    if ref:
                        kw = {} if method == "max_norm" else {"sorting_strategy": order}
                        model = ref[method](eps=eps, r_target=rank, **kw).fit(list(blocks))
                        rcl = _ref_clusters(model, blocks, method)
                        lost = len(blocks) - sum(len(c) for c in rcl)
                        rerr = float(_errors(blocks, rcl, rank).max())
                        covered = np.zeros(len(blocks), bool)
                        for c in rcl:
                            covered[c] = True
                        fixed = rcl + [np.array([j]) for j in np.flatnonzero(~covered)]
                        row += [_cr_from_clusters(blocks, rcl, rank), lost, _cr_from_clusters(blocks, fixed, rank),
                                rerr, t["paper"], t["lrla"] / t["paper"]]
                    else:
                        row += ["not run"] * 6
                    rows.append(row)
                for b in _baselines(blocks, rank, eps, labels_best, rng):
                    base_rows.append([eps] + b)
            all_rows += rows
            sections.append(
                f"**{name}** ({len(blocks)} blocks, rank {rank}). lrla: CR, clusters, largest exact cluster error "
                f"(<= eps asserted in the run), seconds; paper: CR as its metric reports it (numerator counts every "
                f"block), blocks its output loses (max_norm drops the seed's other blocks when nothing can be "
                f"added), CR once those blocks are stored as singletons, largest exact error, seconds. Times: "
                f"median of interleaved rounds (max_norm: 9 rounds, each looping the call for 50 ms; others: 3 "
                f"rounds of one call).\n\n"
                + md_table(["eps", "method/order", "lrla CR", "clusters", "max error", "lrla s", "paper CR",
                            "paper lost blocks", "paper CR, lost blocks stored", "paper max error", "paper s",
                            "lrla / paper time"], rows)
                + "\n\nBaselines at the same eps (k-means and random grouping use the cluster count / sizes of "
                  "lrla's approximate/residual):\n\n"
                + md_table(["eps", "baseline", "CR", "max error", "clusters over eps"], base_rows))
    md = "\n\n".join(sections) + f"\n\n{_caption()}\n"
    return Report(md, all_rows)
