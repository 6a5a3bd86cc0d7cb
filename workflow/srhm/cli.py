"""`srhm <verb>`: the operations the workflow rules run, usable by hand.

    srhm dataset v8_nc8_m8_s2_L3_s02_A_seed0 --size 20000 --out results/data/v8_nc8_m8_s2_L3_s02_A_seed0.npz
"""

from __future__ import annotations

import argparse
import sys
import time

from srhm.data import SRHM


def dataset(args: argparse.Namespace) -> None:
    """Sample the pool of one dataset: `size` distinct samples (train prefixes, test tail)."""
    ds = SRHM.from_name(args.name)
    start = time.perf_counter()
    pool = ds.sample(args.size, seed=ds.seed)
    pool.save(args.out, **ds.params, **{f"rules_{g}": rules for g, rules in enumerate(ds.rules)})
    print(f"{ds.name}: {args.size} distinct samples of d={ds.d} (P_max={ds.P_max}) "
          f"in {time.perf_counter() - start:.2f} s -> {args.out}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="srhm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser("dataset", help=dataset.__doc__)
    p.add_argument("name", help="dataset id, e.g. v8_nc8_m8_s2_L3_s02_A_seed0 (the seed is the grammar and sample seed)")
    p.add_argument("--size", type=int, required=True, help="number of distinct samples in the pool")
    p.add_argument("--out", required=True, help="output .npz path")
    p.set_defaults(run=dataset)

    args = parser.parse_args(argv)
    try:
        args.run(args)
    except ValueError as error:
        parser.exit(2, f"srhm {args.verb}: error: {error}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
