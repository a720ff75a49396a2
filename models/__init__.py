"""Networks: the normalization factory, the feed-forward style network and the VGG loss network.

The names below load on first use (PEP 562), so importing a light submodule (`models.names`) does
not load torch."""
import importlib

__all__ = ["NORM_KINDS", "make_norm", "ARCHS", "ArchConfig", "TransformerNet"]
_HOME = {"NORM_KINDS": "names", "make_norm": "norms", "ARCHS": "transformer", "ArchConfig": "transformer",
         "TransformerNet": "transformer"}


def __getattr__(name: str) -> object:
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
