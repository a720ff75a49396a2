"""style_app: fast neural style transfer with swappable normalization layers."""

__all__ = ["Stylizer"]


def __getattr__(name: str) -> object:
    """`from style_app import Stylizer`, imported on first use: `import style_app.cli` stays light,
    so the CLI catches a Ctrl-C while torch loads."""
    if name == "Stylizer":
        from style_app.stylizer import Stylizer
        return Stylizer
    raise AttributeError(f"module 'style_app' has no attribute {name!r}")
