"""style_app: fast neural style transfer with swappable normalization layers."""
import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path


def _use_checkout_models():
    """Make a source checkout's top-level `models/` package importable as `style_app.models`.

    A wheel installs the networks as `style_app.models` (no generic top-level `models` in
    site-packages); a checkout keeps them at the top level, where `models.norms` stays a public
    name. Both names must give the same module objects, or a class would exist twice and
    isinstance checks would fail, so whichever loads first is registered under the other name too.
    The folder is found beside this package, never through sys.path, so a user's own `models`
    package cannot stand in for ours."""
    folder = Path(__file__).resolve().parent.parent / "models"
    top = importlib.util.find_spec("models")  # what `import models` loads (or has loaded)
    if top is not None and top.origin and Path(top.origin).resolve() == folder / "__init__.py":
        for name in ["models", *(f"models.{m.name}" for m in pkgutil.iter_modules([str(folder)]))]:
            sys.modules[f"{__name__}.{name}"] = importlib.import_module(name)
        return sys.modules["models"]
    spec = importlib.util.spec_from_file_location(f"{__name__}.models", folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if not (Path(__file__).resolve().parent / "models").is_dir():  # a checkout, not an installed wheel
    models = _use_checkout_models()

from style_app.stylizer import Stylizer  # noqa: E402  (needs style_app.models)

__all__ = ["Stylizer"]
