"""Train the U-Net on patches and keep the model that validates best.

Explained in ``book/04_training.ipynb``.

:func:`train` does one run into one folder::

    runs/quick/
        config.json    profile, data, package and library versions
        history.csv    one row per epoch: loss, auc, dice and their val_ twins
        best.keras     the model of the epoch with the highest val_auc
        last.keras     the model of the last finished epoch
        summary.json   epochs run, wall time, best epoch and its scores
        backup/        only while a run is unfinished: what --resume needs

Training draws random patches from the 17 training images
(:func:`retina_tutorial.pipeline.training_patches`); after each epoch the
model is scored on the 3 whole validation images, inside their field of
view. A run that is interrupted (a closed laptop, a Colab time-out) continues
from its last finished epoch with ``resume=True`` and, on a CPU, ends with the
same weights as if it had never stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import retina_tutorial
from retina_tutorial import (
    augment,
    config,
    data,
    datasets,
    losses,
    model_files,
    pipeline,
    provenance,
    scale,
)
from retina_tutorial.model import PRESETS, build_unet, model_depth, required_multiple
from retina_tutorial.run_history import MONITOR, best_epoch, read_history, truncate_history

#: What a run folder may hold; any of them means "a run lives here".
RUN_FILES = ("config.json", "history.csv", "best.keras", "last.keras", "summary.json", "backup")

#: Epochs without a better val_auc before training stops early.
PATIENCE = 10

#: With ``lr_schedule='cosine_restarts'``: each cycle is this much longer
#: than the one before and starts at this fraction of its peak rate.
RESTART_LENGTH_FACTOR = 1.5
RESTART_PEAK_FACTOR = 0.5


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : keras.Model
        The U-Net with the weights of the best epoch (as in ``best.keras``),
        compiled. After a GPU run it computes in mixed precision, while the
        saved ``best.keras`` and ``last.keras`` compute in float32
        (:func:`float32_copy`).
    history : dict of str to list of float
        ``history.csv`` as columns: ``epoch`` (counted from 0, as Keras
        does), ``loss``, ``auc``, ``dice``, ``val_loss``, ``val_auc``,
        ``val_dice`` and ``learning_rate`` (at the end of the epoch); all
        epochs, also those run before a resume.
    summary : dict
        The contents of ``summary.json``: ``epochs_run``, ``stopped_by``
        (``"epochs"``, ``"early_stopping"``, ``"nan_loss"`` or
        ``"callback"``), ``wall_time_seconds`` (of this call only; see
        ``resumed_from_epoch``), ``best_epoch`` (counted from 1),
        ``best_val_auc``, ``best_val_dice``, ``best_val_loss``,
        ``data_source`` and a few more.
    out_dir : Path
        The run folder.
    """

    model: keras.Model
    history: dict
    summary: dict
    out_dir: Path


def train(
    profile,
    dataset,
    out_dir,
    *,
    resume: bool = False,
    init=None,
    rescale: bool = True,
    callbacks=(),
    strategy=None,
    verbose: int = 1,
) -> TrainResult:
    """Train a U-Net as ``profile`` says and write the run folder.

    Explained in ``book/04_training.ipynb``.

    The best epoch is the one with the highest validation AUC (``val_auc``),
    not the lowest training loss: the training loss keeps falling as the
    network memorises its training patches, while the validation images,
    never trained on, show whether it finds vessels in eyes it has not seen.
    ``best.keras`` is rewritten only when ``val_auc`` improves; training
    stops when it has not improved for ``PATIENCE`` (10) epochs, except under
    a schedule with warm restarts, which sets the length itself
    (:func:`patience`). The learning rate follows
    :func:`learning_rate_schedule`.

    A run is reproducible for a seed on a CPU: the same profile and data give
    the same weights and history, also across an interruption and a resume.
    The seed (``profile.seed``) feeds generators of the run's own (the
    initial weights', the patches'), so the caller's random state
    (``random``, NumPy, TensorFlow, Keras) is neither used nor changed.
    On a GPU, training uses mixed precision (``mixed_float16``) for speed and
    is not bit-for-bit reproducible.

    Parameters
    ----------
    profile : retina_tutorial.config.Profile or str
        Sizes of the run, or the name of one (``"quick"``, ``"full"``).
    dataset : retina_tutorial.data.Dataset
        Trains on ``dataset.train``, validates on ``dataset.validation``.
    out_dir : str or Path
        Run folder; created if missing. It must not hold a run already,
        unless ``resume`` is True.
    resume : bool
        Continue the unfinished run in ``out_dir`` from its last finished
        epoch (``retina-tutorial train --resume``).
    init : str, Path or keras.Model, optional
        Start from these weights instead of random ones: ``"pretrained"``
        (the shipped model), a ``.keras`` file or a model of the same
        architecture as the profile's preset. For fine-tuning on a few
        images of another data set (the ``finetune`` profile; explained in
        ``book/07_your_own_data.ipynb``).
    rescale : bool
        Resize the images to DRIVE's pixels per degree of the camera's field
        first (:func:`retina_tutorial.datasets.at_scale`), the scale every
        model of this package is trained and predicts at, so models trained
        on any data set are interchangeable. Images already within 5 % of it
        (DRIVE's own, the synthetic set's) are not touched. The scale the
        model saw (DRIVE's, or without ``rescale`` the training images'
        median) is recorded in the run and in its files.
    callbacks : sequence of keras.callbacks.Callback
        Extra callbacks, called after the package's own (so at the end of an
        epoch they see its checkpoints already written).
    strategy : tf.distribute.Strategy, optional
        Where to train, e.g. ``tf.distribute.MirroredStrategy()`` for several
        GPUs. Defaults to the current (normally the single-device) strategy.
        ``profile.batch_size`` is the global batch, shared by the replicas.
    verbose : int
        0 silent, 1 progress bar and a closing summary line, 2 one short
        line per finished epoch (printed before any extra callback runs, so
        an epoch that finished is always reported) and the summary line.

    Returns
    -------
    TrainResult
        The best model, the history, the summary and the folder.

    Raises
    ------
    ValueError
        Unknown profile name, an invalid profile field, a dataset without
        training or validation images, a patch size the U-Net cannot take,
        or a folder that holds a run when ``resume`` is False (or none that
        can be resumed when it is True). A finished run is never overwritten.

    Examples
    --------
    >>> from retina_tutorial import config, data
    >>> dataset = data.load_dataset(synthetic=True)  # doctest: +SKIP
    >>> result = train(config.get_profile("quick"), dataset, "runs/quick")  # doctest: +SKIP
    >>> result.summary["best_val_auc"]  # doctest: +SKIP
    0.95...
    """
    if isinstance(profile, str):
        profile = config.get_profile(profile)
    _check_profile(profile)
    _check_data(dataset)
    out_dir = Path(out_dir)
    initial = _initial_model(init)
    start_epoch, best_so_far = _prepare_folder(out_dir, profile, dataset, resume)
    train_split, validation_split = dataset.train, dataset.validation
    field = dataset.field_degrees
    if rescale:
        stated = dataset.stated_scale
        train_split = datasets.at_scale(train_split, field, scale.DRIVE, stated=stated)[0]
        validation_split = datasets.at_scale(validation_split, field, scale.DRIVE, stated=stated)[0]
        training_scale = scale.DRIVE
    else:
        training_scale = dataset.stated_scale or scale.of_masks(train_split.fov, field)

    strategy = strategy or tf.distribute.get_strategy()
    _check_replicas(profile, strategy)
    gpu = _has_gpu()
    # Weights (and dropout) are seeded from a generator of the model's own and
    # the patches are keyed on profile.seed: on a CPU this alone makes runs
    # repeat exactly (the tests check it), without touching the process's
    # random state or tf.config.experimental.enable_op_determinism(), which is
    # process-wide and cannot be undone.
    with strategy.scope():
        with _dtype_policy("mixed_float16" if gpu else None):
            model = build_unet(
                preset=profile.preset,
                contrast_sigma=profile.contrast_sigma,
                seed=profile.seed,
                # Saved in every checkpoint: prediction resizes photographs to it.
                training_scale=training_scale,
            )
        if initial is not None and not resume:
            _start_from(model, initial, profile)
        # Saved in every checkpoint: evaluate refuses test images it has seen.
        provenance.attach(model, provenance.after_training(initial, dataset))
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=learning_rate_schedule(profile)),
            loss=losses.get_loss(profile.loss),
            metrics=[losses.FovAUC(), losses.FovDice()],
        )
        # Made now, not inside the first training step: a step that creates
        # variables is traced twice, which cost 2 s of every run's start.
        model.optimizer.build(model.trainable_variables)
    multiple = required_multiple(model)

    training = pipeline.training_patches(
        train_split,
        patch_size=profile.patch_size,
        batch_size=profile.batch_size,
        seed=profile.seed,
        rotation=profile.rotation,
        zoom=profile.zoom,
        transpose=profile.transpose,
        # Batches are numbered from the start of the run: a resumed run starts
        # at the first batch it has not trained on, as if it had never stopped.
        start=start_epoch * profile.steps_per_epoch,
    )
    # One whole image per replica and step: a replica given no image (a batch
    # of 1 split over 2) makes TensorFlow fail, so the last batch is filled
    # with blank images (FOV 0, never scored).
    validation = pipeline.validation_data(
        validation_split, multiple=multiple, batch_size=int(strategy.num_replicas_in_sync)
    )

    if not resume:
        out_dir.mkdir(parents=True, exist_ok=True)
        run_config = _run_config(profile, dataset, model, gpu, strategy)
        run_config["init"] = _describe_init(init)
        _write_json(out_dir / "config.json", run_config)

    early_stopping = _EarlyStopping(
        monitor=MONITOR,
        mode="max",
        patience=patience(profile),
        restore_best_weights=True,
        resumed=best_so_far,
        best_path=out_dir / "best.keras",
        verbose=min(verbose, 1),
    )
    csv_logger = keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=bool(start_epoch))
    own_callbacks = [
        keras.callbacks.TerminateOnNaN(),
        _LogLearningRate(),
        csv_logger,  # before the backup: an epoch in the backup is always in the history
        _Checkpoint(
            str(out_dir / "best.keras"),
            monitor=MONITOR,
            mode="max",
            save_best_only=True,
            initial_value_threshold=None if best_so_far is None else best_so_far["value"],
        ),
        _Checkpoint(str(out_dir / "last.keras")),
        early_stopping,
        _Backup(str(out_dir / "backup")),
    ]
    if verbose >= 2:
        own_callbacks.append(_EpochLine(profile.epochs))
    started = time.perf_counter()
    try:
        model.fit(
            training,
            steps_per_epoch=profile.steps_per_epoch,
            epochs=profile.epochs,
            initial_epoch=start_epoch,
            validation_data=validation,
            shuffle=False,  # patches are drawn at random already
            callbacks=own_callbacks + list(callbacks),
            verbose=1 if verbose == 1 else 0,  # 2: _EpochLine prints instead
        )
    finally:
        # An interrupted fit never calls on_train_end, which closes the CSV file.
        csv_file = getattr(csv_logger, "csv_file", None)
        if csv_file is not None and not csv_file.closed:
            csv_file.close()
    wall_time = time.perf_counter() - started

    history = read_history(out_dir / "history.csv")
    if (out_dir / "best.keras").exists():
        model.load_weights(out_dir / "best.keras")
    if gpu:
        # float16 layers would run slowly on a CPU; the saved models are
        # meant to be evaluated and shared anywhere.
        for name in ("best.keras", "last.keras"):
            if (out_dir / name).exists():
                saved = model_files.load(out_dir / name)
                copy = float32_copy(saved)
                model_files.attach_info(copy, model_files.info_of(saved))
                model_files.save(copy, out_dir / name)
    summary = _summarise(
        profile, dataset, model, history, early_stopping, wall_time, start_epoch, gpu, strategy
    )
    _write_json(out_dir / "summary.json", summary)
    if verbose:
        print(summary_line(summary, out_dir))
    return TrainResult(model=model, history=history, summary=summary, out_dir=out_dir)


def float32_copy(model: keras.Model) -> keras.Model:
    """The same model computing in float32, e.g. one trained with mixed precision.

    Explained in ``book/04_training.ipynb``.

    Mixed precision (``mixed_float16``) makes training on a GPU about twice
    as fast, but float16 layers are slow on a CPU. Weights are float32 under
    both policies, so they are copied unchanged.

    Parameters
    ----------
    model : keras.Model
        A functional model (a U-Net from :func:`retina_tutorial.model.build_unet`).

    Returns
    -------
    keras.Model
        Uncompiled; every layer with the ``float32`` policy.
    """

    def to_float32(value):
        if isinstance(value, dict):
            if value.get("class_name") == "DTypePolicy":
                return "float32"
            return {key: to_float32(item) for key, item in value.items()}
        if isinstance(value, list):
            return [to_float32(item) for item in value]
        return value

    copy = keras.Model.from_config(to_float32(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def _check_profile(profile) -> None:
    if not isinstance(profile, config.Profile):
        raise ValueError(
            f"train: profile must be a config.Profile or a profile name, got "
            f"{type(profile).__name__}. Use config.get_profile('quick')."
        )
    for field in ("patch_size", "batch_size", "steps_per_epoch", "epochs"):
        value = getattr(profile, field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"train: profile.{field} must be a positive integer, got {value!r}.")
    if not (isinstance(profile.learning_rate, (int, float)) and profile.learning_rate > 0):
        raise ValueError(
            "train: profile.learning_rate must be a positive number, "
            f"got {profile.learning_rate!r}."
        )
    if profile.lr_schedule not in ("constant", "cosine", "cosine_restarts"):
        raise ValueError(
            "train: profile.lr_schedule must be 'constant', 'cosine' or 'cosine_restarts', "
            f"got {profile.lr_schedule!r}."
        )
    cycle = profile.first_cycle_epochs
    if profile.lr_schedule == "cosine_restarts":
        if isinstance(cycle, bool) or not isinstance(cycle, int) or not 0 < cycle < profile.epochs:
            raise ValueError(
                "train: profile.first_cycle_epochs must be a positive integer below "
                f"epochs ({profile.epochs}) with lr_schedule='cosine_restarts', got {cycle!r}."
            )
    elif cycle != 0:
        raise ValueError(
            f"train: profile.first_cycle_epochs is {cycle!r}, but only "
            "lr_schedule='cosine_restarts' uses it. Set it to 0, or choose that schedule."
        )
    sigma = profile.contrast_sigma
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma >= 0:
        raise ValueError(
            f"train: profile.contrast_sigma must be a number >= 0 (0 turns it off), got {sigma!r}."
        )
    if not isinstance(profile.transpose, bool):
        raise ValueError(
            f"train: profile.transpose must be True or False, got {profile.transpose!r}."
        )
    for field in ("rotation", "zoom"):
        value = getattr(profile, field)
        bound = augment.range_error(field, value)
        if bound:
            raise ValueError(f"train: profile.{field} must lie in {bound}, got {value!r}.")
    if profile.preset not in PRESETS:
        known = ", ".join(repr(p) for p in PRESETS)
        raise ValueError(
            f"train: profile.preset {profile.preset!r} is unknown; choose one of {known}."
        )
    losses.get_loss(profile.loss)
    multiple = 2 ** PRESETS[profile.preset]["depth"]
    if profile.patch_size % multiple:
        raise ValueError(
            f"train: profile.patch_size {profile.patch_size} is not a multiple of "
            f"{multiple}, which the {profile.preset!r} U-Net needs (2 ** depth). "
            "Choose a patch size such as 64 or 96."
        )


def _check_data(dataset) -> None:
    if not isinstance(dataset, data.Dataset):
        raise ValueError(
            f"train: dataset must be a retina_tutorial.data.Dataset, got "
            f"{type(dataset).__name__}. "
            "Make one with data.load_dataset()."
        )
    for name in ("train", "validation"):
        if len(getattr(dataset, name)) == 0:
            raise ValueError(
                f"train: the dataset's {name} split holds no images ({dataset.description}). "
                "Training needs images to train on and to validate on; check the data folder."
            )


def _initial_model(init):
    """The model whose weights a run starts from (None: random weights)."""
    if init is None or isinstance(init, keras.Model):
        return init
    if str(init) == "pretrained":
        from retina_tutorial import pretrained

        return pretrained.load()
    from retina_tutorial import inference

    return inference.load_model(init)


def _start_from(model, initial, profile) -> None:
    shapes = [tuple(w.shape) for w in model.weights]
    if shapes != [tuple(w.shape) for w in initial.weights]:
        raise ValueError(
            f"train: init model {initial.name!r} ({initial.count_params():,} parameters) does not "
            f"have the architecture of profile {profile.name!r} (preset {profile.preset!r}, "
            f"{model.count_params():,} parameters). Fine-tune with a profile of the same preset: "
            "the shipped model is preset 'wide', as in the 'finetune' profile."
        )
    model.set_weights(initial.get_weights())


def _describe_init(init):
    if init is None:
        return None
    if isinstance(init, keras.Model):
        return f"in-memory model {init.name!r}"
    if str(init) == "pretrained":
        from retina_tutorial import pretrained

        return pretrained.describe()
    return str(init)


def _check_replicas(profile, strategy) -> None:
    replicas = int(strategy.num_replicas_in_sync)
    if profile.batch_size % replicas:
        raise ValueError(
            f"train: profile.batch_size {profile.batch_size} cannot be split evenly over "
            f"{replicas} replicas; use a multiple of {replicas}."
        )


def _prepare_folder(out_dir: Path, profile, dataset, resume: bool):
    """Refuse to overwrite a run; on resume, read where it stopped.

    Returns the number of finished epochs and the best ``val_auc`` so far
    (``{"value", "epoch"}`` or None).
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"train: {out_dir} is a file; give a folder for the run.")
    present = [name for name in RUN_FILES if (out_dir / name).exists()]
    finished = (out_dir / "summary.json").exists()
    metadata = out_dir / "backup" / "training_metadata.json"
    if not resume:
        if finished:
            raise ValueError(
                f"train: {out_dir} already holds a finished run ({', '.join(present)}). "
                "It is never overwritten: choose another folder (--out)."
            )
        if present:
            raise ValueError(
                f"train: {out_dir} already holds an unfinished run ({', '.join(present)}). "
                "Continue it with resume=True (--resume), or choose another folder (--out)."
            )
        return 0, None
    if finished:
        raise ValueError(
            f"train: {out_dir} holds a finished run (summary.json): there is nothing to "
            "resume. To train again, choose another folder (--out)."
        )
    if not (out_dir / "config.json").exists() or not metadata.exists():
        raise ValueError(
            f"train: {out_dir} has no backup to resume from (backup/training_metadata.json "
            "is written when an epoch finishes). Start a new run without --resume, "
            "in an empty or new folder."
        )
    saved = json.loads((out_dir / "config.json").read_text())
    # A field added to Profile after the run started holds its default there.
    defaults = {field.name: field.default for field in dataclasses.fields(config.Profile)}
    changed = sorted(
        key
        for key, value in profile.to_dict().items()
        if saved["profile"].get(key, defaults[key]) != value
    )
    if changed:
        raise ValueError(
            f"train: cannot resume {out_dir} with a different profile (changed: "
            f"{', '.join(changed)}). Resume with the profile it started with, "
            f"{saved['profile'].get('name')!r}, or start a new run in another folder."
        )
    if saved["data"]["source"] != dataset.source:
        raise ValueError(
            f"train: {out_dir} was trained on {saved['data']['source']} data, not "
            f"{dataset.source}. Resume it with the same data."
        )
    finished_epochs = int(json.loads(metadata.read_text())["epoch"])
    history = truncate_history(out_dir / "history.csv", finished_epochs)
    best = best_epoch(history)
    if best is not None:
        best["finished_epochs"] = finished_epochs
    return finished_epochs, best


def learning_rate_schedule(profile):
    """The learning rate Adam follows in a run of ``profile``, step by step.

    Explained in ``book/04_training.ipynb`` (*Training longer*), with the
    schedules in :class:`retina_tutorial.config.Profile` (``lr_schedule``).

    Parameters
    ----------
    profile : retina_tutorial.config.Profile

    Returns
    -------
    float or keras.optimizers.schedules.LearningRateSchedule
        ``profile.learning_rate`` itself for ``'constant'``; for
        ``'cosine'``, a decay from it to 0 over ``epochs * steps_per_epoch``
        steps; for ``'cosine_restarts'``, a first cycle of
        ``first_cycle_epochs`` epochs, each next one ``RESTART_LENGTH_FACTOR``
        (1.5) times as long and starting at ``RESTART_PEAK_FACTOR`` (0.5) times
        the previous peak. A schedule is called with the step (counted from
        0) and gives the rate.

    Examples
    --------
    >>> from retina_tutorial import config
    >>> schedule = learning_rate_schedule(config.get_profile("quick"))  # 4 x 30 steps
    >>> [round(float(schedule(step)), 6) for step in (0, 60, 120)]
    [0.002, 0.001, 0.0]
    """
    if profile.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=profile.learning_rate,
            decay_steps=profile.epochs * profile.steps_per_epoch,
        )
    if profile.lr_schedule == "cosine_restarts":
        return keras.optimizers.schedules.CosineDecayRestarts(
            initial_learning_rate=profile.learning_rate,
            first_decay_steps=profile.first_cycle_epochs * profile.steps_per_epoch,
            t_mul=RESTART_LENGTH_FACTOR,
            m_mul=RESTART_PEAK_FACTOR,
        )
    return profile.learning_rate


def patience(profile) -> int:
    """Epochs without a better ``val_auc`` before a run of ``profile`` stops early.

    Explained in ``book/04_training.ipynb`` (*Callbacks: what is saved, and
    when*).

    Parameters
    ----------
    profile : retina_tutorial.config.Profile

    Returns
    -------
    int
        ``PATIENCE`` (10); ``profile.epochs`` (never stop early) with
        ``lr_schedule='cosine_restarts'``, since after a warm restart the
        validation score drops for a while by design.

    Examples
    --------
    >>> from retina_tutorial import config
    >>> patience(config.get_profile("quick"))
    10
    """
    return profile.epochs if profile.lr_schedule == "cosine_restarts" else PATIENCE


def _has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


@contextlib.contextmanager
def _dtype_policy(name):
    # The policy is global in Keras; set it only while the model is built, so
    # nothing else in the process changes precision behind the caller's back.
    if name is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _finite_loss(logs) -> bool:
    loss = (logs or {}).get("loss")
    return loss is None or math.isfinite(float(loss))


class _LogLearningRate(keras.callbacks.Callback):
    """Add the learning rate reached at the end of each epoch to the logs (and history.csv)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            rate = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))


class _EpochLine(keras.callbacks.Callback):
    """Print one line per finished epoch, short enough for a book page."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        scores = ", ".join(
            f"{name} {logs[name]:.4f}"
            for name in ("loss", "val_loss", "val_auc", "val_dice")
            if name in logs
        )
        seconds = time.perf_counter() - self.started
        print(f"epoch {epoch + 1}/{self.epochs} ({seconds:.0f} s): {scores}", flush=True)


class _Checkpoint(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint that never saves the weights of an epoch whose loss was NaN."""

    def on_epoch_end(self, epoch, logs=None):
        if _finite_loss(logs):
            super().on_epoch_end(epoch, logs)
            if os.path.exists(self.filepath):
                # Readable by the oldest supported Keras, and knows its scale.
                model_files.make_portable(self.filepath, model_files.info_of(self.model))


class _Backup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore that keeps the last good epoch when the loss turns NaN."""

    def on_epoch_end(self, epoch, logs=None):
        if _finite_loss(logs):
            super().on_epoch_end(epoch, logs)


class _EarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that ignores NaN epochs and carries its state over a resume."""

    def __init__(self, *, resumed, best_path, **kwargs):
        super().__init__(**kwargs)
        self.resumed = resumed
        self.best_path = best_path

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.resumed is None:
            return
        # As if the earlier epochs had run in this session: same best score,
        # same patience left, the best weights from best.keras.
        self.best = self.resumed["value"]
        self.best_epoch = self.resumed["epoch"]
        self.wait = self.resumed["finished_epochs"] - 1 - self.resumed["epoch"]
        if self.restore_best_weights and self.best_path.exists():
            saved = model_files.load(self.best_path)
            self.best_weights = saved.get_weights()

    def on_epoch_end(self, epoch, logs=None):
        if _finite_loss(logs):
            super().on_epoch_end(epoch, logs)


def _run_config(profile, dataset, model, gpu, strategy) -> dict:
    return {
        "profile": profile.to_dict(),
        "data": _data_description(dataset),
        "model": {
            "preset": profile.preset,
            "parameters": int(model.count_params()),
            "depth": model_depth(model),
            "training_scale": scale.recorded(model).to_dict(),
            "provenance": provenance.of_model(model),
        },
        "mixed_precision": gpu,
        "replicas": int(strategy.num_replicas_in_sync),
        "versions": {
            "retina_tutorial": retina_tutorial.__version__,
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
        },
    }


def _data_description(dataset) -> dict:
    return {
        "source": dataset.source,
        "description": dataset.description,
        "train_ids": list(dataset.train.ids),
        "validation_ids": list(dataset.validation.ids),
        "image_shape": list(dataset.train.images.shape[1:3]),
    }


def _summarise(
    profile, dataset, model, history, early_stopping, wall_time, start_epoch, gpu, strategy
):
    epochs_run = len(history.get("epoch", []))
    losses_seen = np.asarray(history.get("loss", []), dtype=float)
    if not np.isfinite(losses_seen).all():
        stopped_by = "nan_loss"
    elif early_stopping.stopped_epoch > 0:
        stopped_by = "early_stopping"
    elif epochs_run < profile.epochs:
        stopped_by = "callback"
    else:
        stopped_by = "epochs"
    best = best_epoch(history)
    summary = {
        "profile": profile.name,
        "preset": profile.preset,
        "parameters": int(model.count_params()),
        "epochs_run": epochs_run,
        "epochs_planned": profile.epochs,
        "stopped_by": stopped_by,
        "resumed_from_epoch": start_epoch,
        "wall_time_seconds": round(wall_time, 1),
        "best_epoch": None,
        "best_val_auc": None,
        "best_val_dice": None,
        "best_val_loss": None,
        "data_source": dataset.source,
        "data_description": dataset.description,
        "mixed_precision": gpu,
        "replicas": int(strategy.num_replicas_in_sync),
        "retina_tutorial_version": retina_tutorial.__version__,
    }
    if best is not None:
        summary["best_epoch"] = best["epoch"] + 1  # counted from 1, as the progress bar does
        for name in ("val_auc", "val_dice", "val_loss"):
            value = float(history[name][best["index"]])
            summary[f"best_{name}"] = value if math.isfinite(value) else None
    return summary


def summary_line(summary: dict, out_dir) -> str:
    """The closing line :func:`train` prints: epochs, time, the best epoch and its file.

    Explained in ``book/04_training.ipynb``. Wrapped to 79 columns (a
    terminal, a book page) without breaking a path; it names the run
    folder, not its whole path, since it ends up on book pages.

    Parameters
    ----------
    summary : dict
        A run's ``summary.json`` (:attr:`TrainResult.summary`).
    out_dir : str or Path
        The run folder.

    Returns
    -------
    str
        One sentence, continuation lines indented by four spaces: the
        epochs run (and those run after a resume), the profile, the data,
        the wall time, and the best epoch's ``val_auc`` and ``val_dice``
        with its ``best.keras``; or that no epoch finished with a finite
        loss. A run stopped by a NaN loss says so, with what to try.

    Examples
    --------
    >>> summary = {"epochs_run": 4, "profile": "quick", "data_source": "synthetic",
    ...            "wall_time_seconds": 61.2, "best_epoch": 4, "best_val_auc": 0.9512,
    ...            "best_val_dice": 0.7801, "stopped_by": "epochs"}
    >>> print(summary_line(summary, "runs/quick"))
    Trained 4 epochs (quick profile, synthetic data) in 61\N{NO-BREAK SPACE}s: best val_auc 0.9512,
        val_dice 0.7801 at epoch 4 -> quick/best.keras
    """
    out_dir = Path(out_dir)
    line = (
        f"Trained {summary['epochs_run']} epochs ({summary['profile']} profile, "
        f"{summary['data_source']} data)"
    )
    resumed = summary.get("resumed_from_epoch") or 0
    if resumed and summary["epochs_run"] > resumed:
        last = summary["epochs_run"]
        line += f", epoch{f's {resumed + 1}-' if last > resumed + 1 else ' '}{last} after resuming,"
    line += f" in {summary['wall_time_seconds']:.0f}\N{NO-BREAK SPACE}s"  # never split
    if summary["best_epoch"] is None:
        line += f"; no epoch finished with a finite loss, so no best.keras in {out_dir.name}/."
        return _wrap(line)
    scores = ", ".join(
        f"{name} {summary[f'best_{name}']:.4f}"
        for name in ("val_auc", "val_dice")
        if summary[f"best_{name}"] is not None
    )
    # The run folder's name, not its path: this line ends up on book pages.
    line += f": best {scores} at epoch {summary['best_epoch']} -> {out_dir.name}/best.keras"
    if summary["stopped_by"] == "nan_loss":
        line += " (stopped: the loss became NaN; try a lower learning rate)"
    return _wrap(line)


def _wrap(line: str) -> str:
    # Fits a terminal and a book page; paths are never broken.
    return textwrap.fill(
        line, 79, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False
    )


def _write_json(path: Path, content: dict) -> None:
    path.write_text(json.dumps(content, indent=2, allow_nan=False) + "\n")
