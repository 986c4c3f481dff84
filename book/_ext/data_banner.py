"""Sphinx extension: a banner on every page naming the data it was built on.

The book's numbers and figures are computed when it is built: on DRIVE
when ``RETINA_TUTORIAL_DATA`` points at it, otherwise on the synthetic set
that the package draws. Readers must see which before they read a number.
"""

from __future__ import annotations

from retina_tutorial import data, datasets

GET_DRIVE = "intro.html#getting-drive"


def banner(source: str) -> str:
    """The banner's HTML for a build on ``source`` (a data set's kind)."""
    if source == "synthetic":
        return (
            "<strong>Synthetic build.</strong> The numbers and figures on "
            "these pages were computed on synthetic, DRIVE-like images that "
            "the package draws itself, not on DRIVE: they show what the "
            "code does, and their scores say nothing about real photographs. "
            "Figures marked <em>on DRIVE</em> come from the shipped model's "
            f'DRIVE reports. <a href="{GET_DRIVE}">Get DRIVE</a> to build '
            "the book on real photographs."
        )
    if source == "drive":
        return (
            "<strong>DRIVE build.</strong> The numbers and figures on these "
            "pages were computed on the DRIVE photographs when the book was "
            "built."
        )
    name = datasets.display_name(source)
    return (
        f"<strong>{name} build.</strong> The numbers and figures on these "
        f"pages were computed on {name}, not on DRIVE, which the chapters "
        "were written for."
    )


def announce(app, config) -> None:
    """Put the banner for the configured data in the theme's announcement bar.

    The ``config-inited`` handler :func:`setup` connects: the book is built
    on the data :func:`retina_tutorial.data.configured_source` names.

    Parameters
    ----------
    app : sphinx.application.Sphinx
        Unused; Sphinx passes it to every handler.
    config : sphinx.config.Config
        Its ``html_theme_options`` get ``announcement`` set to
        :func:`banner`; the other options are kept.
    """
    options = dict(config.html_theme_options or {})
    options["announcement"] = banner(data.configured_source())
    config.html_theme_options = options


def setup(app):
    """Sphinx's entry point: connect :func:`announce` to ``config-inited``."""
    app.connect("config-inited", announce)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
