"""Exercise checkers for Chapter 07, your own data."""

from __future__ import annotations

from retina_tutorial import scale
from retina_tutorial.exercises._core import (
    Result,
    _as_number,
    _close,
    _finish,
    _not_a_number,
    _unanswered,
)


def check_camera_factor(
    answer, fov, field_degrees: float, model_scale=scale.DRIVE, *, verbose: bool = True
) -> Result:
    """Check the factor that brings a photograph from another camera to the model's scale.

    Explained in ``book/07_your_own_data.ipynb`` (exercise 1): the model's
    pixels per degree over the photograph's, where the photograph's are its
    FOV diameter (:func:`retina_tutorial.scale.fov_diameter`) over the
    camera's field angle. Within 0.3 % passes.

    Parameters
    ----------
    answer : float or None
        The factor (below 1 shrinks the photograph).
    fov : (H, W) bool ndarray
        The photograph's FOV mask.
    field_degrees : float
        Its camera's field angle.
    model_scale : retina_tutorial.scale.Scale
        The scale the model was trained at (DRIVE's for the shipped model).
    verbose : bool
        Print the feedback.
    """
    photo = scale.Scale(scale.fov_diameter(fov), field_degrees)
    truth = model_scale.pixels_per_degree / photo.pixels_per_degree
    if answer is None:
        return _unanswered("the resize factor (one number)", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one number", verbose)
    area_diameter = 2 * (float(fov.sum()) / 3.141592653589793) ** 0.5
    if _close(value, truth, 0.003):
        return _finish(True, (
            f"{photo.fov_diameter:.0f} pixels over {field_degrees:g}° is "
            f"{photo.pixels_per_degree:.1f} pixels per degree against the model's "
            f"{model_scale.pixels_per_degree:.1f}: resizing by {truth:.3f} makes the vessels "
            "as wide in pixels as those it learned from."
        ), verbose)  # fmt: skip
    by_width = model_scale.fov_diameter / photo.fov_diameter
    by_area = model_scale.pixels_per_degree / (area_diameter / field_degrees)
    if _close(value, by_area, 0.003) and not _close(by_area, truth, 0.003):
        message = (
            "That diameter comes from the FOV's area; the frame cuts the circle, so the "
            "area underestimates it. Use its width, scale.fov_diameter."
        )
    elif _close(value, by_width, 0.02):
        message = (
            "That matches the FOV widths, not the field angles: this camera sees "
            f"{field_degrees:g}° across its FOV, the model's {model_scale.field_degrees:g}°, "
            "so a degree spans a different number of pixels. Compare pixels per degree."
        )
    elif value > 0 and _close(1 / value, truth, 0.02):
        message = (
            "That factor goes the other way: the model's pixels per degree over the photograph's."
        )
    else:
        message = (
            "Hint: pixels per degree = FOV diameter (scale.fov_diameter) / field angle; "
            "divide the model's (model_scale.pixels_per_degree) by the photograph's."
        )
    return _finish(False, message, verbose)
