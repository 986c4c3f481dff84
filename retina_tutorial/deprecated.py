"""Old public names that moved or were renamed: they still work for one release, with a warning.

Each module that lost names sets ``__getattr__ = deprecated.forwarder(__name__, {...})``,
mapping an old name to ``"module.new_name"``; Python calls it only for
names the module no longer has.
"""

from __future__ import annotations

import importlib
import warnings

#: The release that removes the old names.
REMOVED_IN = "0.9"


def forwarder(module: str, moved: dict):
    """A module ``__getattr__`` that resolves each old name in ``moved`` with a DeprecationWarning.

    Parameters
    ----------
    module : str
        The module's ``__name__``.
    moved : dict of str to str
        Old name -> ``"home_module.new_name"``, the home a module of the package.
    """

    def __getattr__(name: str):
        if name not in moved:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        home, new_name = moved[name].rsplit(".", 1)
        warnings.warn(
            f"{module}.{name} is now retina_tutorial.{home}.{new_name}; the old name goes "
            f"in {REMOVED_IN}.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(f"retina_tutorial.{home}"), new_name)

    return __getattr__
