"""What every exercise checker shares: the Result and the feedback helpers."""

from __future__ import annotations

import dataclasses
import math
import numbers
import textwrap
import types

import numpy as np

from retina_tutorial import data

#: Relative tolerance for answers that are fractions or scores.
TOLERANCE = 0.002
#: Printed feedback is wrapped to this width, so it fits a notebook and the
#: narrower box of a folded solution on a book page.
WIDTH = 74


@dataclasses.dataclass(frozen=True)
class Result:
    """What a checker found.

    Attributes
    ----------
    passed : bool
        The answer is right.
    message : str
        Feedback for people: what is right, what is off, a hint.
    answered : bool
        False while the answer is still ``None``.
    """

    passed: bool
    message: str
    answered: bool = True

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        state = "passed" if self.passed else ("not answered" if not self.answered else "not yet")
        return f"Result({state})"


# --- shared helpers ------------------------------------------------------------


def _finish(passed: bool, message: str, verbose: bool, answered: bool = True) -> Result:
    prefix = "Correct! " if passed else ("Not answered yet. " if not answered else "Not quite. ")
    result = Result(passed, prefix + message, answered)
    if verbose:
        print(textwrap.fill(result.message, WIDTH))
    return result


def _unanswered(what: str, verbose: bool) -> Result:
    return _finish(False, f"Replace `None` with {what}, then run the cell again.", verbose, False)


def _as_number(answer):
    """The answer as a float, or None if it is not one number."""
    if isinstance(answer, bool):
        return None
    if isinstance(answer, numbers.Real):
        return float(answer)
    array = np.asarray(answer) if isinstance(answer, np.ndarray) else None
    if array is not None and array.size == 1 and np.issubdtype(array.dtype, np.number):
        return float(array.reshape(()))
    return None


def _not_a_number(answer, expected: str, verbose: bool) -> Result:
    if isinstance(answer, np.ndarray):
        got = f"an array of shape {answer.shape}"
        hint = " Did you forget to reduce it to one number (e.g. with .mean())?"
    else:
        got = f"{type(answer).__name__} {answer!r}"
        hint = ""
    return _finish(False, f"Expected {expected}, got {got}.{hint}", verbose)


def _one_number(answer, what: str, verbose: bool):
    """The answer as a float, or the Result that says why there is none yet.

    ``what`` completes "Replace `None` with ..." for an unanswered exercise.
    """
    if answer is None:
        return _unanswered(what, verbose)
    value = _as_number(answer)
    return _not_a_number(answer, "one number", verbose) if value is None else value


def _close(value: float, target: float, tolerance: float = TOLERANCE) -> bool:
    return math.isclose(value, target, rel_tol=tolerance, abs_tol=1e-9)


def _nearest(value: float, candidates: dict, tolerance: float):
    """The name of the candidate value nearest to ``value``, if within ``tolerance`` (absolute).

    Grading compares an answer with the right value and with the values the
    likely mistakes give; an answer counts as the one it is nearest to, so a
    tolerance never lets a wrong protocol pass for a close right one.
    """
    right, truth = next(iter(candidates.items()))
    # A mistake that gives (almost) the right value cannot be told apart from
    # it at this precision: it does not count against a right answer.
    kept = {
        name: target
        for name, target in candidates.items()
        if name == right or abs(target - truth) > tolerance
    }
    name, target = min(kept.items(), key=lambda item: abs(item[1] - value))
    return name if abs(target - value) <= tolerance else None


#: An answer rounded to 4 decimals is within this of the value.
FOUR_DECIMALS = 6e-5
#: Said when an answer is near, but not within four-decimal rounding.
NEAR_MISS = (
    "Close, but not the value to 4 decimals: compute it over exactly the images "
    "asked for, with the masks asked for, and give at least 4 decimals."
)


def _vessel_shares(split) -> dict:
    """The vessel share inside the FOV ("right"), and the near mistakes.

    "unmasked" counts vessel pixels outside the FOV over the FOV pixels (5e-5
    off on DRIVE); "all pixels" divides by the whole image.
    """
    return {
        "right": float(np.mean(split.vessels[split.fov])),
        "unmasked": float(np.sum(split.vessels) / np.sum(split.fov)),
        "all pixels": float(np.mean(split.vessels)),
    }


def _check_split(split, name: str, *, second: bool = False) -> None:
    if not isinstance(split, data.Split):
        raise ValueError(
            f"{name} must be a Split such as dataset.test, got {type(split).__name__}."
        )
    if second and split.vessels_2nd is None:
        raise ValueError(
            f"{name} has no 2nd manual annotation: pass dataset.test, the split that has one."
        )


def _pair_of_numbers(answer, what: str, verbose: bool):
    """The answer as two numbers, or a Result saying why it is not."""
    if isinstance(answer, (str, dict)) or np.ndim(answer) != 1 or len(answer) != 2:
        return _finish(False, f"Give two numbers as a pair, {what}.", verbose)
    values = [_as_number(a) for a in answer]
    if None in values:
        return _finish(False, f"Both entries must be numbers: {what}.", verbose)
    return values


# --- the values an exercise gives ------------------------------------------------

_DRAWS: dict = {}
#: Exercise tag ("02-ex1") -> a function of a random generator that draws the
#: values a grading variant gives that exercise instead of the book's: the
#: exercises :func:`given` varies. Read-only; :func:`variants` registers one.
VARIANTS = types.MappingProxyType(_DRAWS)


def given(exercise: str, **values):
    """The values an exercise gives: the book's, or a grading variant's.

    Explained in ``book/instructors.md`` (*What grading guarantees*).

    While a course is graded (:func:`retina_tutorial.grading.variant`), an
    exercise with variants gets other values, drawn for that grading, so that
    only an answer computed from the variables passes. Everywhere else, in
    the book and while students work, it gets ``values`` as written.

    Parameters
    ----------
    exercise : str
        The exercise's tag, e.g. ``"02-ex1"``.
    **values
        The book's values, by name.

    Returns
    -------
    The values, in the order given; one value alone is returned as it is.
    """
    from retina_tutorial import grading

    seed = grading.variant()
    if seed is not None and exercise in VARIANTS:
        drawn = VARIANTS[exercise](grading.rng_for(exercise, seed))
        if set(drawn) != set(values):
            raise ValueError(
                f"Exercise {exercise} gives {sorted(values)}, its variants {sorted(drawn)}."
            )
        values = {name: drawn[name] for name in values}
    chosen = tuple(values.values())
    return chosen[0] if len(chosen) == 1 else chosen


def variants(exercise: str):
    """Register the function that draws ``exercise``'s grading values (a decorator)."""

    def register(draw):
        _DRAWS[exercise] = draw
        return draw

    return register
