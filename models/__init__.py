"""Networks: the normalization factory, the feed-forward style network and the VGG loss network."""
from .norms import NORM_KINDS, make_norm
from .transformer import ARCHS, ArchConfig, TransformerNet

__all__ = ["NORM_KINDS", "make_norm", "ARCHS", "ArchConfig", "TransformerNet"]
