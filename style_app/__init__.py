"""style_app: fast neural style transfer with swappable normalization layers.

The networks are the subpackage `style_app.models`: in a checkout they sit in the top-level
`models/` folder, which setuptools' package-dir mapping installs under that name (wheel and
editable install alike)."""

__all__ = ["Stylizer"]


def __getattr__(name: str) -> object:
    """`from style_app import Stylizer`, imported on first use: `import style_app.cli` stays light,
    so the CLI catches a Ctrl-C while torch loads."""
    if name == "Stylizer":
        from style_app.stylizer import Stylizer
        return Stylizer
    raise AttributeError(f"module 'style_app' has no attribute {name!r}")
