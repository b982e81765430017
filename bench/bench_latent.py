"""Benchmark (issue 6, target 4): latent map of 10,000 x 576 planted hidden states, fast path vs naive pipeline.

Fast path: ``LatentMap()`` defaults (standardise + PCA-32, diagonal DP mixture with tol 1e-3*N, UMAP on an exact
kNN graph over <= 4000 landmarks, other rows placed). Naive: ``umap.UMAP()`` with default settings on the raw
vectors + a full-covariance DP mixture on the raw vectors (sklearn defaults except ``max_iter``, capped by
``--naive-max-iter`` because one iteration on 576-D full covariances takes tens of seconds here; the naive time is
therefore a lower bound).

Cold = a new process (imports + first fit, numba cache as left by earlier runs); warm = later fits in that process.
Each pipeline runs in its own worker processes; medians over repeats. Usage::

    python bench/bench_latent.py [--n 10000] [--dim 576] [--repeats 5] [--cold-repeats 3] [--naive-max-iter 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

T0 = time.perf_counter()


def fast(X):
    from mind.analysis import LatentMap

    lm = LatentMap().fit(X)
    return lm.labels_


def naive(X, max_iter):
    import warnings

    from sklearn.mixture import BayesianGaussianMixture

    from mind.analysis.numba_cache import configure_numba_cache

    configure_numba_cache()
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        umap.UMAP().fit_transform(X)
        g = BayesianGaussianMixture(n_components=20, covariance_type="full", max_iter=max_iter,
                                    weight_concentration_prior_type="dirichlet_process", random_state=0)
        return g.fit_predict(X)


def worker(args) -> None:
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    d = np.load(args.data)
    X, y = d["X"], d["y"]
    times, aris = [], []
    for i in range(args.fits):
        t = time.perf_counter()
        labels = fast(X) if args.worker == "fast" else naive(X, args.naive_max_iter)
        end = time.perf_counter()
        times.append(end - (T0 if i == 0 else t))  # the first fit counts the process start and imports
        aris.append(float(adjusted_rand_score(y, labels)))
    print(json.dumps({"times": times, "ari": aris}))


def spawn(kind, data, fits, naive_max_iter) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--data", data, "--fits", str(fits),
           "--naive-max-iter", str(naive_max_iter)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=576)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5, help="warm fast fits (median)")
    ap.add_argument("--cold-repeats", type=int, default=3, help="new processes for the fast path (median)")
    ap.add_argument("--naive-max-iter", type=int, default=5)
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--worker", choices=("fast", "naive"), help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--fits", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    import numpy as np

    from mind.analysis.numba_cache import configure_numba_cache
    from mind.analysis.synthetic import planted_clusters

    print(f"NUMBA_CACHE_DIR={configure_numba_cache()}  cpus={os.cpu_count()}  n={args.n} dim={args.dim} k={args.k}")
    X, y = planted_clusters(n=args.n, d=args.dim, k=args.k, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "planted.npz")
        np.savez(data, X=X, y=y)
        spawn("fast", data, 1, 0)  # make sure the numba cache is populated (first-ever run compiles)
        colds, res = [], None
        for i in range(args.cold_repeats):
            r = spawn("fast", data, 1 + (args.repeats if i == 0 else 0), 0)
            colds.append(r["times"][0])
            res = res or r
        fast_row = {"cold": statistics.median(colds), "warm": statistics.median(res["times"][1:]),
                    "ari": res["ari"][0]}
        naive_row = None
        if not args.skip_naive:
            r = spawn("naive", data, 2, args.naive_max_iter)
            naive_row = {"cold": r["times"][0], "warm": r["times"][1], "ari": r["ari"][0]}

    print(f"\n{'pipeline':<34}{'cold s':>9}{'warm s':>9}{'ARI':>8}")
    print(f"{'fast (LatentMap defaults)':<34}{fast_row['cold']:>9.2f}{fast_row['warm']:>9.2f}{fast_row['ari']:>8.3f}")
    if naive_row:
        name = f"naive (UMAP raw, full DP, {args.naive_max_iter} it)"
        print(f"{name:<34}{naive_row['cold']:>9.2f}{naive_row['warm']:>9.2f}{naive_row['ari']:>8.3f}")
        print(f"\nsummary: warm {naive_row['warm'] / fast_row['warm']:.1f}x faster, cold "
              f"{naive_row['cold'] / fast_row['cold']:.1f}x faster, ARI fast - naive = "
              f"{fast_row['ari'] - naive_row['ari']:+.3f}; fast warm {fast_row['warm']:.2f} s (target <= 5), "
              f"cold {fast_row['cold']:.2f} s (target <= 25)")
    else:
        print(f"\nsummary: fast warm {fast_row['warm']:.2f} s (target <= 5), cold {fast_row['cold']:.2f} s (target <= 25)")


if __name__ == "__main__":
    main()
