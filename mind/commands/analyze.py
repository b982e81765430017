"""``mind analyze``: DP-mixture clusters, separation metrics and an aligned 2-D map for every hidden-state snapshot
of a run; results go to ``<run>/analysis/`` (see :mod:`mind.analysis.store`) and a table of metrics is printed."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="cluster and map the hidden-state snapshots of a run (writes <run>/analysis/)",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--run", required=True, help="run directory written by `mind train`")
    p.add_argument("--projector", choices=("umap", "pca"), default="umap", help="2-D map method")
    p.add_argument("--center", choices=("problem", "none"), default="problem",
                   help="subtract each problem's mean state before clustering (default: problem; isolates the "
                        "perspective component, since raw states cluster by problem content)")
    p.add_argument("--max-clusters", type=int, default=20, help="components of the DP mixture (an upper bound)")
    p.add_argument("--n-components", type=int, default=32, help="PCA dimensions before clustering and mapping")
    p.add_argument("--map-max-points", type=int, default=4000, help="UMAP landmark rows; others are placed")
    p.add_argument("--text", action="store_true", help="also embed the rationale texts with Sentence-BERT")
    p.add_argument("--seed", type=int, default=0, help="random_state of PCA, mixture and UMAP")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def format_table(metrics) -> str:
    """Fixed-width table of the per-step metrics."""
    cols = [("step", "step", "{:d}"), ("n", "n", "{:d}"), ("ari", "ARI", "{:.3f}"), ("ami", "AMI", "{:.3f}"),
            ("nmi", "NMI", "{:.3f}"), ("homogeneity", "homog", "{:.3f}"), ("completeness", "compl", "{:.3f}"),
            ("silhouette", "silh", "{:.3f}"), ("n_active_clusters", "active", "{:d}")]
    cols = [c for c in cols if c[0] in metrics.columns]
    rows = [[head for _, head, _ in cols]]
    for rec in metrics.to_dict("records"):
        row = []
        for key, _, fmt in cols:
            v = rec.get(key)
            row.append("-" if v is None or v != v else fmt.format(int(v) if fmt == "{:d}" else float(v)))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in rows)


def run(args) -> int:
    from mind.analysis.analyze import analyze_run
    from mind.errors import ConfigError

    for name in ("max_clusters", "n_components", "map_max_points"):
        if getattr(args, name) < 2:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 2, got {getattr(args, name)}")
    res = analyze_run(
        args.run, projector=args.projector, max_clusters=args.max_clusters, n_components=args.n_components, center=args.center,
        text=args.text, map_max_points=args.map_max_points, random_state=args.seed, progress=not args.quiet,
    )
    print(format_table(res.metrics))
    if res.summary.get("text"):
        t = res.summary["text"]
        print(f"text view ({t['n']} rationales): ARI {t['ari']:.3f}  AMI {t['ami']:.3f}  "
              f"active clusters {t['n_active_clusters']}")
    print(f"wrote {res.summary['run']}/analysis/ in {res.summary['timings_s']['total']:.1f} s")
    return 0
