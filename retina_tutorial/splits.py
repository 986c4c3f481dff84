"""Renamed :mod:`retina_tutorial.datasets` after 0.8.0: the module splits nothing.

It holds the :class:`~retina_tutorial.datasets.Split` and
:class:`~retina_tutorial.datasets.Dataset` containers and the readers that
fill them. Each old name here still works, with a DeprecationWarning, until
:data:`retina_tutorial.deprecated.REMOVED_IN`; import from
:mod:`retina_tutorial.datasets` instead. Nothing is imported from there until
an old name is used.
"""

from retina_tutorial import deprecated

#: Every public name of the module as it was, now in retina_tutorial.datasets.
__getattr__ = deprecated.forwarder(
    __name__,
    {
        name: f"datasets.{name}"
        for name in (
            "DataError",
            "Split",
            "Dataset",
            "stack",
            "one_image",
            "DISPLAY_NAMES",
            "display_name",
            "shown_location",
            "read_rgb",
            "as_float",
            "read_binary",
            "at_scale",
        )
    },
)
