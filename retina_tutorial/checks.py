"""Argument checks shared by the whole package, so every function means the same by "an integer".

An integer is a Python ``int`` or a NumPy integer, never a ``bool`` (``True``
is an ``int`` to Python but never a count anyone meant). A real number is any
:class:`numbers.Real` (Python and NumPy floats and integers), never a
``bool``, and never ``nan``. Each check returns the value as a plain Python
``int`` or ``float``, so callers store and print plain numbers.

The module imports nothing of the package: every stage can use it.
"""

from __future__ import annotations

import math
import numbers


def integer(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int``, after checking that it is one within the bounds.

    Parameters
    ----------
    value : object
        What the caller was given.
    name : str
        How the error message names it, e.g. ``"batch_size"``.
    minimum, maximum : int, optional
        Inclusive bounds.

    Raises
    ------
    ValueError
        Naming ``name``, the bounds and the value given.

    Examples
    --------
    >>> integer(3, "side", minimum=1)
    3
    >>> integer(True, "side")
    Traceback (most recent call last):
    ...
    ValueError: side must be an integer, got True.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer{_bounds(minimum, maximum)}, got {value!r}.")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer{_bounds(minimum, maximum)}, got {value!r}.")
    return value


def real(value, name: str, *, minimum: float | None = None, maximum: float | None = None) -> float:
    """``value`` as a ``float``, after checking that it is a number within the bounds.

    Parameters
    ----------
    value : object
    name : str
    minimum, maximum : float, optional
        Inclusive bounds.

    Raises
    ------
    ValueError
        If ``value`` is not a real number, is ``nan``, or lies outside the bounds.

    Examples
    --------
    >>> real(0.5, "threshold", minimum=0, maximum=1)
    0.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"{name} must be a number{_bounds(minimum, maximum)}, got {value!r}.")
    value = float(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be a number{_bounds(minimum, maximum)}, got {value!r}.")
    return value


def _bounds(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum:g}, {maximum:g}]"
    if minimum is not None:
        return f" >= {minimum:g}"
    if maximum is not None:
        return f" <= {maximum:g}"
    return ""
