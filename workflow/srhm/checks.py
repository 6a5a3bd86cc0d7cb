"""Argument checks shared by the package: each raises ValueError naming the argument and the constraint."""

from __future__ import annotations

import math
from numbers import Integral, Real


def check_int(name: str, value: object, minimum: int) -> int:
    """`value` as an int, or a ValueError naming `name` unless it is an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_optional_int(name: str, value: object, minimum: int) -> None:
    """None, or an integer >= minimum."""
    if value is not None:
        check_int(name, value, minimum)


def check_real(name: str, value: object, positive: bool = False) -> None:
    """A finite real >= 0 (> 0 when positive)."""
    if (isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value < 0
            or (positive and value == 0)):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
