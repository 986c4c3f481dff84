"""A training run's history: its ``history.csv`` and the epoch that training keeps.

Explained in ``book/04_training.ipynb``. :mod:`retina_tutorial.train` writes
the history, cuts it back to the epochs in the backup when a run resumes
(:func:`truncate_history`), and saves the model of :func:`best_epoch` as
``best.keras``; :func:`retina_tutorial.plotting.plot_history` marks the same
epoch. Both read the rule here, so the plot can never mark another epoch
than the one saved. Plain Python and NumPy: reading a history needs no Keras.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

#: The validation score that chooses the epoch kept (higher is better).
MONITOR = "val_auc"


def read_history(path) -> dict:
    """Read a ``history.csv`` into columns of numbers.

    Explained in ``book/04_training.ipynb``.

    Parameters
    ----------
    path : str or Path
        ``history.csv`` of a run folder.

    Returns
    -------
    dict of str to list
        ``epoch`` as int (from 0), every other column as float (NaN kept;
        an empty cell is NaN). Empty when the file is missing or has no rows.
    """
    path = Path(path)
    if not path.exists():
        return {}
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        return {}
    return {key: [_number(row[key], integer=key == "epoch") for row in rows] for key in rows[0]}


def truncate_history(path, epochs: int) -> dict:
    """Keep only the first ``epochs`` epochs of a ``history.csv``, rewriting it if longer.

    Explained in ``book/04_training.ipynb`` (a run interrupted and resumed).
    A run killed after an epoch reached ``history.csv`` but before it reached
    the backup repeats that epoch when it resumes; its row must go, so that
    the history holds every epoch once.

    Parameters
    ----------
    path : str or Path
        ``history.csv`` of a run folder.
    epochs : int
        Epochs to keep: those the backup finished (rows with ``epoch`` below it).

    Returns
    -------
    dict of str to list
        The history as :func:`read_history` reads it after the cut. The file
        is rewritten only when it held more rows; a missing file stays
        missing (empty history).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "history.csv"
    ...     _ = path.write_text("epoch,loss\\n0,0.5\\n1,0.4\\n2,0.3\\n")
    ...     truncate_history(path, 2)
    {'epoch': [0, 1], 'loss': [0.5, 0.4]}
    """
    path = Path(path)
    history = read_history(path)
    if history and len(history["epoch"]) > epochs:
        keys = list(history)
        with path.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(keys)
            for row in zip(*(history[k] for k in keys)):
                if row[0] < epochs:
                    writer.writerow(row)
        history = read_history(path)
    return history


def best_epoch(history: dict) -> dict | None:
    """The epoch training keeps: the first highest ``val_auc`` of an epoch with a finite loss.

    Explained in ``book/04_training.ipynb``. An epoch whose training loss
    is not finite (NaN or infinite) is never kept, whatever its score: its
    weights are broken even if the validation score looks fine.

    Parameters
    ----------
    history : dict of lists
        Columns as :func:`read_history` returns them, or ``keras.callbacks.History.history``.

    Returns
    -------
    dict or None
        ``value`` (the score), ``epoch`` (as in the ``epoch`` column, from 0;
        the position when there is none) and ``index`` (the row); ``None``
        when no epoch has a finite score and loss.

    Examples
    --------
    >>> best_epoch({"epoch": [0, 1, 2], "loss": [1.0, float("nan"), 0.5],
    ...             "val_auc": [0.7, 0.95, 0.9]})
    {'value': 0.9, 'epoch': 2, 'index': 2}
    """
    if MONITOR not in history:
        return None
    scores = np.asarray(history[MONITOR], dtype=float)
    if "loss" in history:
        scores = np.where(np.isfinite(np.asarray(history["loss"], float)), scores, np.nan)
    if not np.isfinite(scores).any():
        return None
    index = int(np.nanargmax(scores))  # the first of equal scores, as the checkpoint keeps
    epochs = history.get("epoch", range(len(scores)))
    return {"value": float(scores[index]), "epoch": int(epochs[index]), "index": index}


def _number(cell, *, integer: bool):
    if cell in ("", None):
        if integer:
            raise ValueError("an epoch cell is empty: the file is damaged.")
        return float("nan")
    return int(float(cell)) if integer else float(cell)
