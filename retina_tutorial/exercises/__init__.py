"""Checkers for the exercises at the end of each chapter.

Explained in the Exercises section of every chapter, starting with
``book/01_data_preparation.ipynb``.

Every checker takes the learner's answer (and, where the right answer depends
on the data, the data it is about), prints friendly and specific feedback and
returns a :class:`Result`. An answer left as ``None`` is "not answered yet",
never an error, so an exercise cell runs as it stands. Teachers can collect
``result.passed`` for graded assignments::

    result = exercises.check_fov_fraction(answer, dataset.test)
    result.passed   # True or False

The checkers compute the right answer themselves, from the same data the
learner used, so they work on DRIVE and on the synthetic set alike. One module
per chapter holds its checkers; all of them are importable from here.

For graded courses, :func:`given` hands an exercise the numbers its
statement gives, which a grading variant changes; :data:`VARIANTS` maps the
tag of each exercise it changes (``"02-ex1"``) to the function that draws
the variant's values (explained in ``book/instructors.md``, *What grading
guarantees*).
"""

from retina_tutorial.exercises._core import TOLERANCE, VARIANTS, WIDTH, Result, given
from retina_tutorial.exercises.architecture import (
    check_bottleneck_shape,
    check_conv_parameters,
    check_padded_shape,
    check_receptive_field,
)
from retina_tutorial.exercises.augmentation import (
    GEOMETRIC_TRANSFORMS,
    PHOTOMETRIC_TRANSFORMS,
    check_binary_targets,
    check_flip_both,
    check_paired_transforms,
    check_patch_reach,
)
from retina_tutorial.exercises.data_preparation import (
    check_background_accuracy,
    check_fov_fraction,
    check_observer_agreement,
    check_vessel_fraction,
)
from retina_tutorial.exercises.evaluation import (
    check_auc_two_ways,
    check_calibration_error,
    check_chance_pr_auc,
    check_paired_interval,
    check_smallest_margin,
    check_youden_threshold,
)
from retina_tutorial.exercises.going_further import (
    check_centreline_recall,
    check_fov_share,
    check_scale_factor,
    check_tile_count,
    check_tta,
)
from retina_tutorial.exercises.own_data import (
    check_camera_factor,
    check_images_improved,
    check_threshold_spread,
)
from retina_tutorial.exercises.training import (
    check_checkpoint_epochs,
    check_masked_bce,
    check_skipped_batches,
    check_soft_dice,
)

__all__ = [
    "GEOMETRIC_TRANSFORMS",
    "PHOTOMETRIC_TRANSFORMS",
    "TOLERANCE",
    "VARIANTS",
    "WIDTH",
    "Result",
    "check_auc_two_ways",
    "check_background_accuracy",
    "check_binary_targets",
    "check_bottleneck_shape",
    "check_calibration_error",
    "check_camera_factor",
    "check_centreline_recall",
    "check_chance_pr_auc",
    "check_checkpoint_epochs",
    "check_conv_parameters",
    "check_flip_both",
    "check_fov_fraction",
    "check_fov_share",
    "check_images_improved",
    "check_masked_bce",
    "check_observer_agreement",
    "check_padded_shape",
    "check_paired_interval",
    "check_paired_transforms",
    "check_patch_reach",
    "check_receptive_field",
    "check_scale_factor",
    "check_skipped_batches",
    "check_smallest_margin",
    "check_soft_dice",
    "check_threshold_spread",
    "check_tile_count",
    "check_tta",
    "check_vessel_fraction",
    "check_youden_threshold",
    "given",
]
