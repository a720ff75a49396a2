"""style_app: fast neural style transfer with swappable normalization layers."""
from style_app.stylizer import Stylizer

__all__ = ["Stylizer"]
