"""Networks: the normalization factory, the feed-forward style network and the VGG loss network."""
from models.norms import NORM_KINDS, make_norm
from models.transformer import ARCHS, ArchConfig, TransformerNet

__all__ = ["NORM_KINDS", "make_norm", "ARCHS", "ArchConfig", "TransformerNet"]
