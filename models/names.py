"""The networks' names, without torch: the norm kinds and the zoo's architecture. Code that must
answer at once (`style-app --help` and `list`, reading weights headers) imports these alone;
`models.norms` and `models.transformer` re-export them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NormKind:
    """One kind of normalization: its name, how people label it, and what one set of statistics
    (mean and variance) covers for activations shaped (N, C, H, W)."""

    name: str
    label: str
    averages_over: str  # the axes, e.g. "H, W"
    that_is: str  # the same in words


#: Every kind `make_norm` builds, in teaching order: IN, BN, LN, GN, then none.
NORMS: dict[str, NormKind] = {kind.name: kind for kind in (
    NormKind("instance", "Instance norm (IN)", "H, W", "one channel of one image"),
    NormKind("batch", "Batch norm (BN)", "N, H, W", "one channel across the batch"),
    NormKind("layer", "Layer norm (LN)", "C, H, W", "all channels of one image"),
    NormKind("group", "Group norm (GN)", "C/G, H, W", "a group of channels of one image"),
    NormKind("none", "No norm", "-", "nothing (identity)"),
)}
NORM_KINDS = tuple(NORMS)
#: The kinds that normalize: the ones compared side by side.
COMPARED_NORMS = tuple(kind for kind in NORMS if kind != "none")


def norm_label(kind: str) -> str:
    """'Instance norm (IN)' for 'instance'; an unknown name as it is."""
    return NORMS[kind].label if kind in NORMS else kind


#: The shipped zoo's architecture: what the CLI, the Stylizer and the UI serve, and what `train`
#: trains, when no architecture is named (models.transformer.ARCHS holds its configuration).
ZOO_ARCH = "slim-noise"
