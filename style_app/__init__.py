"""style_app: fast neural style transfer with swappable normalization layers."""
import importlib
import importlib.abc
import importlib.util
import sys
from pathlib import Path

__all__ = ["Stylizer"]
#: A source checkout's networks: the top-level models/ folder (a wheel has style_app/models/ instead).
CHECKOUT_MODELS = Path(__file__).resolve().parent.parent / "models"


def __getattr__(name: str) -> object:
    """`from style_app import Stylizer`, imported on first use: `import style_app.cli` stays light,
    so the CLI catches a Ctrl-C while torch loads."""
    if name == "Stylizer":
        from style_app.stylizer import Stylizer
        return Stylizer
    raise AttributeError(f"module 'style_app' has no attribute {name!r}")


class _CheckoutModels(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `style_app.models` in a source checkout, on its first import (so `import style_app`
    loads no torch).

    A wheel installs the networks as `style_app.models` (no generic top-level `models` in
    site-packages); a checkout keeps them at the top level, where `models.norms` stays a public
    name. Both names must give the same module objects, or a class would exist twice and
    isinstance checks would fail: when `import models` finds our folder, `style_app.models.X` is
    the module `models.X`. The folder is found beside this package, never through sys.path, so a
    user's own `models` package cannot stand in for ours."""

    PACKAGE = f"{__name__}.models"

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        if fullname == self.PACKAGE:
            top = importlib.util.find_spec("models")  # what `import models` loads (or has loaded)
            alias = bool(top and top.origin and Path(top.origin).resolve() == CHECKOUT_MODELS / "__init__.py")
        else:
            alias = fullname.startswith(self.PACKAGE + ".") and sys.modules[self.PACKAGE] is sys.modules.get("models")
        if alias:
            top = importlib.util.find_spec(fullname.removeprefix(f"{__name__}."))
            return importlib.util.spec_from_loader(fullname, self, origin=top.origin,
                                                   is_package=top.submodule_search_locations is not None)
        if fullname == self.PACKAGE:
            return importlib.util.spec_from_file_location(fullname, CHECKOUT_MODELS / "__init__.py",
                                                          submodule_search_locations=[str(CHECKOUT_MODELS)])
        return None  # other names, and submodules found on style_app.models.__path__

    def create_module(self, spec):
        """The module already loaded (or loaded now) under its top-level name `models...`."""
        return importlib.import_module(spec.name.removeprefix(f"{__name__}."))

    def exec_module(self, module) -> None:
        """Nothing: the module ran once, under its top-level name."""


if not (Path(__file__).resolve().parent / "models").is_dir():  # a checkout, not an installed wheel
    sys.meta_path.insert(0, _CheckoutModels())
