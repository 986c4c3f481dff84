"""Which images a model has learned from, carried in its file, and the check that uses it.

Explained in ``book/07_your_own_data.ipynb``.

A score on images a model trained on (or chose its best epoch on) says how
well it remembers them, not how well it segments new eyes. Every image is
named by a key, ``"<data set> <id>"`` (``"DRIVE 21"``, ``"CHASE_DB1 11L"``);
an image made from another one (the STARE stand-in's, made from DRIVE
photographs) also carries the key of the one it was made from
(:attr:`retina_tutorial.datasets.Dataset.made_from`). :func:`retina_tutorial.train.train`
records the keys of the training and validation images on the model, added
to those of the model it started from, and :mod:`retina_tutorial.model_files`
stores them in the ``.keras`` file, so a copied file still knows them.
:func:`check_unseen` (called by :func:`retina_tutorial.evaluate.evaluate_model`)
refuses to score a model on test images it has seen.
"""

from __future__ import annotations

import dataclasses

#: What a model without a record is taken to have seen: nothing known.
UNKNOWN = None
#: The key recorded for the images behind an init model that had no record.
UNKNOWN_INIT = "unknown (its init model had no record)"


class SeenImagesError(ValueError):
    """A model would be scored on images it was trained or validated on."""


@dataclasses.dataclass(frozen=True)
class Record:
    """What a model learned from, as kept on the model (``model.provenance``).

    A frozen dataclass rather than a dict: Keras tracks dicts set on a model
    and would try to save this one with the weights.
    """

    trained_on: tuple
    validated_on: tuple

    def to_dict(self) -> dict:
        return {"trained_on": sorted(self.trained_on), "validated_on": sorted(self.validated_on)}


def attach(model, record: dict | None) -> None:
    """Keep ``record`` (as :func:`of_model` returns it) on ``model``; None forgets it."""
    model.provenance = (
        None
        if record is None
        else Record(tuple(record["trained_on"]), tuple(record["validated_on"]))
    )


def image_keys(dataset, split: str) -> set:
    """The keys of a split's images, and of the images they were made from.

    Parameters
    ----------
    dataset : retina_tutorial.datasets.Dataset
    split : {'train', 'validation', 'test'}
    """
    made_from = dataset.made_from or {}
    keys = set()
    for image_id in getattr(dataset, split).ids:
        keys.add(f"{dataset.name} {image_id}")
        keys.update(made_from.get(image_id, ()))
    return keys


def of_model(model) -> dict | None:
    """``{"trained_on": [...], "validated_on": [...]}`` (sorted keys), or None when unknown."""
    found = getattr(model, "provenance", UNKNOWN)
    return found.to_dict() if isinstance(found, Record) else UNKNOWN


def after_training(initial, dataset) -> dict:
    """The record of a model trained on ``dataset``, starting from ``initial`` (or from scratch).

    A start from a model without a record adds :data:`UNKNOWN_INIT` to
    ``trained_on``: the check then knows less, and :func:`describe` says so.
    """
    trained = image_keys(dataset, "train")
    validated = image_keys(dataset, "validation")
    if initial is not None:
        earlier = of_model(initial)
        if earlier is None:
            trained.add(UNKNOWN_INIT)
        else:
            trained.update(earlier["trained_on"])
            validated.update(earlier["validated_on"])
    return {"trained_on": sorted(trained), "validated_on": sorted(validated)}


def describe(record: dict | None) -> str:
    """The record in a line: which data sets, how many images of each."""
    if record is None:
        return "unknown (the model carries no record of its training images)"
    parts = []
    for name in ("trained_on", "validated_on"):
        counts: dict = {}
        for key in record[name]:
            if key != UNKNOWN_INIT:
                data_set = key.rsplit(" ", 1)[0]
                counts[data_set] = counts.get(data_set, 0) + 1
        shown = [f"{count} {data_set} images" for data_set, count in sorted(counts.items())]
        if UNKNOWN_INIT in record[name]:
            shown.append("the unrecorded images of the model it started from")
        parts.append(f"{name.replace('_', ' ')} {', '.join(shown) or 'nothing'}")
    return "; ".join(parts)


def check_unseen(model, dataset, split: str = "test") -> None:
    """Refuse to score ``model`` on images of ``split`` that it was trained or validated on.

    Raises
    ------
    SeenImagesError
        Naming the images and what to do instead. A model without a record
        passes: nothing is known against it.
    """
    record = of_model(model)
    if record is None:
        return
    keys = image_keys(dataset, split)
    seen = sorted(keys & set(record["trained_on"]))
    chosen = sorted(keys & set(record["validated_on"]))
    if not seen and not chosen:
        return
    what = []
    if seen:
        what.append(f"trained on {_listed(seen)}")
    if chosen:
        what.append(f"chose its best epoch on {_listed(chosen)}")
    raise SeenImagesError(
        f"{getattr(model, 'name', 'this model')} {' and '.join(what)}, which are (or were made "
        f"from) {dataset.name}'s {split} images: a score there measures memory, not "
        "segmentation. Evaluate it on images it never saw (for a model fine-tuned on a "
        "stand-in, the stand-in's own test images), or train it again without them."
    )


def _listed(keys) -> str:
    keys = list(keys)
    shown = ", ".join(keys[:6]) + (", ..." if len(keys) > 6 else "")
    return f"{len(keys)} image{'s' if len(keys) != 1 else ''} ({shown})"
