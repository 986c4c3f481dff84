"""Settings: the run profile and where the data lives.

This is the one module that reads environment variables. Everything else asks
it. Explained in ``book/01_data_preparation.ipynb``.

Three settings exist:

``RETINA_TUTORIAL_PROFILE``
    ``quick`` (default) for CI and a first look on a laptop CPU, or ``full``
    for the real training run. A third profile, ``finetune``, is chosen by
    name: it fine-tunes the shipped model on a few images of another data set.
``RETINA_TUTORIAL_DATA``
    The DRIVE folder (or the ``DRIVE.zip`` as distributed), or the folder or
    archive of STARE, CHASE_DB1 or HRF, or a CSV listing your own images
    (:func:`retina_tutorial.data.load_dataset`). When it is unset the package
    uses the synthetic fundus set it makes itself.
``RETINA_TUTORIAL_OWN_DATA``
    The other camera's data set that chapter 07 brings in: a STARE or
    CHASE_DB1 folder as distributed, HRF, or your own CSV
    (:func:`retina_tutorial.data.load_own_dataset`). When it is unset the
    chapter makes a stand-in from the main data set's photographs, and says
    so.
"""

from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path

PROFILE_VARIABLE = "RETINA_TUTORIAL_PROFILE"
DATA_VARIABLE = "RETINA_TUTORIAL_DATA"
OWN_DATA_VARIABLE = "RETINA_TUTORIAL_OWN_DATA"


@dataclasses.dataclass(frozen=True)
class Profile:
    """Everything a run's size depends on.

    Fields with a default take the 2019 article's choice: Adam at a constant
    learning rate of 1e-4, binary cross-entropy, rotations up to 90 degrees
    and zooms of 20 %, no test-time augmentation. Both profiles change some
    of them, and ``book/04_training.ipynb`` says why: at 1e-4 a CPU run of an
    hour is far from converged, while 2e-3 with a cosine decay gets there.

    Parameters
    ----------
    name : str
        ``"quick"``, ``"full"`` or ``"finetune"``.
    preset : {'compact', 'wide', 'article'}
        U-Net preset built by :func:`retina_tutorial.model.build_unet`.
    patch_size : int
        Side of the square training patches, in pixels.
    batch_size : int
        Patches per training step.
    steps_per_epoch : int
        Training steps between two validations.
    epochs : int
        Maximum number of epochs (early stopping may end sooner).
    learning_rate : float
        Initial Adam learning rate (the article's 1e-4 by default).
    lr_schedule : {'constant', 'cosine', 'cosine_restarts'}
        How the learning rate changes over the run: ``'cosine'`` decays it to
        0 over all epochs; ``'cosine_restarts'`` decays it to 0 over
        ``first_cycle_epochs``, then starts again at half the peak for a
        cycle 1.5 times as long, and so on (warm restarts, Loshchilov and
        Hutter, 2017). With restarts the schedule sets the run's length:
        early stopping is off, and ``best.keras`` is the best epoch of any
        cycle.
    loss : {'bce', 'dice', 'bce_dice'}
        Training loss, computed inside the field of view.
    tta : bool
        Whether evaluation averages predictions over flips.
    seed : int
        Seed for weights, patches and augmentation.
    rotation : float
        Largest random rotation of a training patch, in degrees (0: none).
        Flips are always on; 0 and 0 for ``rotation`` and ``zoom`` leave only
        the flips, which move pixels exactly without resampling.
    zoom : float
        Largest random zoom change of a training patch, in [0, 1).
    transpose : bool
        Also swap rows and columns of half the training patches: with the
        flips, all eight exact symmetries of the square.
    first_cycle_epochs : int
        Length of the first cosine cycle with ``lr_schedule='cosine_restarts'``,
        fewer than ``epochs``; 0 (unused) with the other schedules.
    contrast_sigma : float
        Width in pixels of the local contrast normalisation the U-Net sees
        beside the colour image (``build_unet(contrast_sigma=...)``); 0 for
        the colour image alone.
    """

    name: str
    preset: str
    patch_size: int
    batch_size: int
    steps_per_epoch: int
    epochs: int
    learning_rate: float = 1e-4
    lr_schedule: str = "constant"
    loss: str = "bce"
    tta: bool = False
    seed: int = 0
    rotation: float = 90.0
    zoom: float = 0.2
    transpose: bool = False
    first_cycle_epochs: int = 0
    contrast_sigma: float = 0.0

    def __str__(self) -> str:
        fields = ", ".join(
            f"{field.name}={getattr(self, field.name)!r}"
            for field in dataclasses.fields(self)
            if field.name != "name"
        )
        # Wrapped so it reads on a book page and in a terminal.
        return textwrap.fill(
            f"Profile {self.name!r}: {fields}",
            width=76,
            subsequent_indent="    ",
            break_long_words=False,
        )

    def to_dict(self) -> dict:
        """Plain dictionary, for ``config.json`` and model cards."""
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        preset="compact",
        patch_size=64,
        batch_size=16,
        steps_per_epoch=30,
        epochs=4,
        learning_rate=2e-3,
        lr_schedule="cosine",
        loss="bce",
        tta=False,
    ),
    "full": Profile(
        name="full",
        preset="wide",
        patch_size=96,
        batch_size=16,
        steps_per_epoch=100,
        epochs=32,
        learning_rate=2e-3,
        lr_schedule="cosine",
        loss="bce",
        tta=False,
        rotation=0.0,
        zoom=0.0,
    ),
    # Fine-tuning the shipped (wide) model on a few images of another data
    # set: its recipe, a tenth of its learning rate, a short schedule.
    "finetune": Profile(
        name="finetune",
        preset="wide",
        patch_size=96,
        batch_size=16,
        steps_per_epoch=25,
        epochs=8,
        learning_rate=2e-4,
        lr_schedule="cosine",
        loss="bce",
        tta=False,
        rotation=0.0,
        zoom=0.0,
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """Return the profile called ``name``, or the one the environment selects.

    Parameters
    ----------
    name : str, optional
        ``"quick"`` or ``"full"``. When omitted, ``RETINA_TUTORIAL_PROFILE``
        decides, and ``"quick"`` is the default.

    Raises
    ------
    ValueError
        If the name is not a known profile.

    Examples
    --------
    >>> get_profile("quick").name
    'quick'
    """
    if name is None:
        name = os.environ.get(PROFILE_VARIABLE, "").strip() or "quick"
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(
            f"Unknown profile {name!r}: choose one of {known} (argument or {PROFILE_VARIABLE})."
        ) from None


def data_location(path: str | os.PathLike | None = None) -> Path | None:
    """Where DRIVE is, from the argument or ``RETINA_TUTORIAL_DATA``.

    Returns ``None`` when neither is given, which means: use synthetic data.
    The path is not checked here; :func:`retina_tutorial.data.load_dataset`
    checks it and says what is wrong.
    """
    return _location(path, DATA_VARIABLE)


def own_data_location(path: str | os.PathLike | None = None) -> Path | None:
    """Where chapter 07's other data set is, from the argument or ``RETINA_TUTORIAL_OWN_DATA``.

    Returns ``None`` when neither is given, which means: make a stand-in.
    Checked by :func:`retina_tutorial.data.load_own_dataset`.
    """
    return _location(path, OWN_DATA_VARIABLE)


def _location(path, variable: str) -> Path | None:
    if path is None:
        path = os.environ.get(variable, "").strip() or None
    if path is None:
        return None
    return Path(path).expanduser()
