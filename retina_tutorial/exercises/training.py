"""Exercise checkers for Chapter 04, training."""

from __future__ import annotations

import numpy as np

from retina_tutorial import run_history
from retina_tutorial.exercises._core import (
    Result,
    _as_number,
    _close,
    _finish,
    _not_a_number,
    _pair_of_numbers,
    _unanswered,
    variants,
)

#: What ``keras.config.epsilon()`` clips probabilities to, as
#: :func:`retina_tutorial.losses.masked_bce` does.
_EPSILON = 1e-7


def _loss_inputs(y_true, y_pred):
    """(vessel, fov, probabilities) as flat float64 arrays, checked for the loss exercises."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim < 2 or y_true.shape[-1] != 2:
        raise ValueError(
            "y_true must have the vessel and FOV channels on its last axis, "
            f"got shape {y_true.shape}."
        )
    if y_pred.shape == y_true.shape[:-1]:
        y_pred = y_pred[..., None]
    if y_pred.shape != (*y_true.shape[:-1], 1):
        raise ValueError(
            f"y_pred must have shape {(*y_true.shape[:-1], 1)} for y_true {y_true.shape}, "
            f"got {y_pred.shape}."
        )
    return y_true[..., 0].ravel(), y_true[..., 1].ravel() > 0.5, y_pred[..., 0].ravel()


def _bce_terms(vessel, p, log=np.log):
    p = np.clip(p, _EPSILON, 1 - _EPSILON)
    return -(vessel * log(p) + (1 - vessel) * log(1 - p))


def _soft_dice_loss(vessel, p, smooth: float = 1.0) -> float:
    return 1.0 - (2.0 * np.sum(p * vessel) + smooth) / (np.sum(p) + np.sum(vessel) + smooth)


def check_masked_bce(answer, y_true, y_pred, *, verbose: bool = True) -> Result:
    """Check a binary cross-entropy computed by hand over the FOV pixels.

    Explained in ``book/04_training.ipynb`` (exercise 1). The right answer is
    :func:`retina_tutorial.losses.masked_bce`: the mean over FOV pixels of
    ``-(y log p + (1 - y) log(1 - p))``, natural logarithm, ``p`` clipped to
    ``[1e-7, 1 - 1e-7]``.

    Parameters
    ----------
    answer : float or None
        The learner's loss.
    y_true : (..., 2) array-like
        Vessel (channel 0) and FOV (channel 1), 0 or 1.
    y_pred : (..., 1) or (...) array-like
        Probabilities in [0, 1].
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    vessel, inside, p = _loss_inputs(y_true, y_pred)
    if not inside.any():
        raise ValueError("y_true has no FOV pixel: choose an example with pixels inside the FOV.")
    if answer is None:
        return _unanswered("the loss you computed (one number)", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one number", verbose)
    terms = _bce_terms(vessel, p)
    truth = float(terms[inside].mean())
    if _close(value, truth, 1e-3):
        outside = int((~inside).sum())
        if outside:
            ignored = (
                "the one outside the FOV counts"
                if outside == 1
                else f"the {outside} outside the FOV count"
            )
            ignored = f"; {ignored} for nothing, whatever is predicted there"
        else:
            ignored = ", all of them inside the FOV"
        return _finish(
            True,
            (
                f"The FOV-restricted cross-entropy is {truth:.4f}: {int(inside.sum())} pixels count"
                f"{ignored}."
            ),
            verbose,
        )
    if _close(value, float(terms.mean()), 1e-3):
        message = (
            "You averaged over every pixel, those outside the FOV too. Keep only the pixels "
            "whose FOV channel is 1, then take the mean."
        )
    elif _close(value, float(terms[inside].sum()), 1e-3):
        message = (
            f"That is the sum over the FOV pixels; divide it by their number ({int(inside.sum())})."
        )
    elif _close(value, float(terms[inside].sum() / terms.size), 1e-3):
        message = (
            f"You summed the right pixels but divided by all {terms.size}; divide by the "
            f"{int(inside.sum())} pixels inside the FOV."
        )
    elif _close(value, -truth, 1e-3):
        message = (
            "The sign is off: cross-entropy is -(y log p + (1 - y) log(1 - p)), never negative."
        )
    elif _close(value, float(_bce_terms(vessel, p, np.log10)[inside].mean()), 1e-3):
        message = "You used log10; cross-entropy uses the natural logarithm, `np.log`."
    elif _close(value, float(_bce_terms(vessel, p, np.log2)[inside].mean()), 1e-3):
        message = "You used log2; cross-entropy in Keras uses the natural logarithm, `np.log`."
    else:
        message = (
            f"{value:.4f} is off. Hint: per pixel -(y log p + (1 - y) log(1 - p)) with "
            "`np.log`, then the mean over the pixels whose FOV channel is 1."
        )
    return _finish(False, message, verbose)


def check_soft_dice(answer, y_true, y_pred, *, smooth: float = 1.0, verbose: bool = True) -> Result:
    """Check a soft Dice loss computed by hand over the FOV pixels.

    Explained in ``book/04_training.ipynb`` (exercise 2). The right answer is
    :func:`retina_tutorial.losses.masked_dice_loss`:
    ``1 - (2 sum(p y) + s) / (sum(p) + sum(y) + s)`` over FOV pixels, with the
    probabilities themselves (not thresholded) and ``s = smooth``.

    Parameters
    ----------
    answer : float or None
        The learner's loss.
    y_true : (..., 2) array-like
        Vessel (channel 0) and FOV (channel 1), 0 or 1.
    y_pred : (..., 1) or (...) array-like
        Probabilities in [0, 1].
    smooth : float
        The smoothing term (``losses.DICE_SMOOTH``).
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    vessel, inside, p = _loss_inputs(y_true, y_pred)
    if answer is None:
        return _unanswered("the soft Dice loss you computed (one number)", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one number", verbose)
    y, q = vessel[inside], p[inside]
    truth = _soft_dice_loss(y, q, smooth)
    if abs(value - truth) <= 5e-4:  # 3 decimals; the nearest mistake (hard 0.5) is 0.006 away
        return _finish(
            True,
            (
                f"The soft Dice loss is {truth:.4f} (Dice {1 - truth:.4f}). It is computed from "
                "the probabilities themselves, so a small change of any probability changes it: "
                "that is what gives the network a gradient."
            ),
            verbose,
        )
    hard = (q >= 0.5).astype(np.float64)
    if _close(value, 1 - truth, 1e-3):
        message = "That is the Dice coefficient itself; the loss is 1 - Dice, 0 when perfect."
    elif _close(value, _soft_dice_loss(vessel, p, smooth), 1e-3):
        message = (
            "You counted pixels outside the FOV too. Keep only the pixels whose FOV channel is 1."
        )
    elif smooth and _close(value, _soft_dice_loss(y, q, 0.0), 1e-3):
        message = (
            f"You left out the smoothing term s = {smooth:g} (`losses.DICE_SMOOTH`), added "
            "to the numerator and the denominator."
        )
    elif _close(value, _soft_dice_loss(y, hard, smooth), 1e-3):
        message = (
            "You thresholded the probabilities at 0.5. The *soft* Dice uses the "
            "probabilities themselves; a thresholded Dice has no gradient to train with."
        )
    else:
        message = (
            f"{value:.4f} is off. Hint: with y and p the FOV pixels' labels and "
            "probabilities, 1 - (2 sum(p y) + s) / (sum(p) + sum(y) + s)."
        )
    return _finish(False, message, verbose)


def check_checkpoint_epochs(answer, history, *, verbose: bool = True) -> Result:
    """Check which epoch each checkpoint rule keeps: the article's and ours.

    Explained in ``book/04_training.ipynb`` (exercise 3). The article saved
    the model whenever the *training* loss fell (``monitor="loss"``), so it
    kept the epoch with the lowest ``loss``; the package keeps the epoch with
    the highest ``val_auc`` (:func:`retina_tutorial.run_history.best_epoch`).
    Epochs are counted from 1, as the progress bar does; the first of equal
    scores wins, as ``ModelCheckpoint`` keeps it.

    Parameters
    ----------
    answer : tuple of (int, int) or None
        ``(article_epoch, our_epoch)``, counted from 1.
    history : dict of str to list of float
        With ``loss`` and ``val_auc`` columns (and ``val_loss`` for feedback).
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    for key in ("loss", "val_auc"):
        if key not in history or len(history[key]) == 0:
            raise ValueError(
                f"history needs a non-empty {key!r} column, like the history of train.train."
            )
    loss = np.asarray(history["loss"], dtype=float)
    auc = np.asarray(history["val_auc"], dtype=float)
    if answer is None:
        return _unanswered("the pair `(article_epoch, our_epoch)`, counted from 1", verbose)
    values = _pair_of_numbers(answer, "`(article_epoch, our_epoch)`", verbose)
    if isinstance(values, Result):
        return values
    kept = run_history.best_epoch(history)  # the rule best.keras is saved by
    if kept is None:
        raise ValueError("history has no epoch with a finite val_auc and loss to keep.")
    article, ours = int(np.nanargmin(loss)) + 1, kept["index"] + 1
    given = (values[0], values[1])
    if given == (article, ours):
        lost = auc[ours - 1] - auc[article - 1]
        tail = (
            f" The article's choice validates {lost:.4f} lower in AUC."
            if lost > 0
            else " Here both rules agree; they part as soon as the network starts to overfit."
        )
        return _finish(
            True,
            (
                f"The training loss is lowest at epoch {article}, the validation AUC highest at "
                f"epoch {ours}." + tail
            ),
            verbose,
        )
    if given == (article - 1, ours - 1):
        message = "Both are one too low: count epochs from 1, as the progress bar does (index + 1)."
    elif given == (ours, article):
        message = (
            "Right epochs, wrong order: the article's (lowest training loss) first, ours second."
        )
    elif "val_loss" in history and given == (article, int(np.nanargmin(history["val_loss"])) + 1):
        message = (
            "Your second number is the epoch with the lowest validation *loss*. The package "
            "monitors the validation AUC (`train.MONITOR`), and keeps its highest value."
        )
    elif given[1] == int(np.nanargmin(auc)) + 1:
        message = (
            "Your second number is the epoch with the *lowest* val_auc; a higher AUC is better."
        )
    elif given[0] == article:
        message = "The article's epoch is right; ours is the epoch with the highest val_auc."
    elif given[1] == ours:
        message = (
            "Our epoch is right; the article kept the epoch with the lowest training loss (`loss`)."
        )
    else:
        message = (
            "Hint: the article's checkpoint kept the lowest `loss`, ours the highest "
            "`val_auc`; `np.argmin` and `np.argmax` give the index, add 1."
        )
    return _finish(False, message, verbose)


def check_skipped_batches(
    answer, finished_epochs: int, steps_per_epoch: int, batch_size: int, *, verbose: bool = True
) -> Result:
    """Check how many batches a resumed run skips in the patch stream.

    Explained in ``book/04_training.ipynb`` (exercise 4). A run resumed after
    ``finished_epochs`` finished epochs skips the batches those epochs used,
    ``finished_epochs * steps_per_epoch``, so it trains on exactly the batches
    an uninterrupted run would have used; the epoch that was cut short is
    repeated from its start.

    Parameters
    ----------
    answer : int or None
        Number of batches skipped.
    finished_epochs, steps_per_epoch, batch_size : int
        Of the interrupted run.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    if answer is None:
        return _unanswered("the number of batches the resumed run skips", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one whole number", verbose)
    truth = finished_epochs * steps_per_epoch
    if value == truth:
        return _finish(
            True,
            (
                f"{finished_epochs} finished epochs x {steps_per_epoch} steps = {truth} batches. "
                "Skipping them gives the resumed run the batches the uninterrupted run would "
                "have seen next, so on a CPU it ends with the same weights."
            ),
            verbose,
        )
    if value == truth * batch_size:
        message = (
            f"That counts patches; the question asks for batches (of {batch_size} patches each)."
        )
    elif value == (finished_epochs + 1) * steps_per_epoch:
        message = (
            "The epoch that was cut short is not skipped: nothing of it was saved, so the "
            "resumed run repeats it from its first batch."
        )
    elif value == finished_epochs:
        message = f"That is the number of epochs; each epoch takes {steps_per_epoch} batches."
    else:
        message = "Hint: every finished epoch used `steps_per_epoch` batches of the stream."
    return _finish(False, message, verbose)


# --- the values a grading variant gives (see exercises.given) --------------------


@variants("04-ex1")
def _loss_values(rng) -> dict:
    pixels = int(rng.integers(4, 7))
    vessel = rng.integers(0, 2, pixels)
    inside = np.ones(pixels, int)
    inside[rng.choice(pixels, 2, replace=False)] = 0
    y_true = np.stack([vessel, inside], -1).reshape(1, 1, pixels, 2).astype("float32")
    y_pred = rng.uniform(0.05, 0.95, (1, 1, pixels, 1)).round(2).astype("float32")
    return {"y_true": y_true, "y_pred": y_pred}


@variants("04-ex3")
def _history_values(rng) -> dict:
    epochs = int(rng.integers(7, 11))
    loss = np.sort(rng.uniform(0.1, 0.35, epochs))[::-1].round(3)
    best = int(rng.integers(2, epochs - 2))
    val_auc = 0.975 - 0.0015 * np.abs(np.arange(epochs) - best) - 0.01 * (np.arange(epochs) < 2)
    val_loss = 0.17 + 0.01 * np.abs(np.arange(epochs) - best)
    return {
        "history": {
            "loss": loss.tolist(),
            "val_loss": val_loss.round(3).tolist(),
            "val_auc": val_auc.round(4).tolist(),
        }
    }


@variants("04-ex4")
def _resume_values(rng) -> dict:
    return {"epochs_done": int(rng.choice([2, 3, 4, 5, 7, 8, 9]))}
