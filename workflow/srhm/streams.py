"""Named, independent random streams.

Every random draw in the project comes from a stream keyed by its purpose and by integer keys
(seeds, levels, layers). Keys are mixed by NumPy's SeedSequence, so two different key tuples never
share a stream, and the same tuple gives the same stream on every run and machine.
"""

from __future__ import annotations

import numpy as np

PURPOSES = ("grammar", "sample", "synonym", "diffeo", "init", "order", "probe", "bootstrap", "class_sample")


def stream(purpose: str, *keys: int) -> np.random.Generator:
    """A NumPy generator for `purpose` (one of PURPOSES) and non-negative integer `keys`."""
    return np.random.default_rng(seed_sequence(purpose, *keys))


def seed_sequence(purpose: str, *keys: int) -> np.random.SeedSequence:
    if purpose not in PURPOSES:
        raise ValueError(f"purpose={purpose!r} must be one of {PURPOSES}")
    for key in keys:
        if isinstance(key, bool) or int(key) != key or key < 0:
            raise ValueError(f"seed keys must be non-negative integers, got {key!r} for purpose {purpose!r}")
    return np.random.SeedSequence([PURPOSES.index(purpose), *map(int, keys)])


def torch_seed(purpose: str, *keys: int) -> int:
    """A 63-bit integer seed for torch.Generator, derived from the same keyed stream."""
    return int(seed_sequence(purpose, *keys).generate_state(1, np.uint64)[0] >> np.uint64(1))
