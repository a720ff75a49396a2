"""The page's words against what ships: each claim the UI makes about the shipped networks is
checked against their own recorded training config (the weights' headers), not a copy of it."""
from __future__ import annotations

import re

import gradio as gr
import pytest

from style_app.models.norms import GROUP_NORM_CHANNELS_PER_GROUP
from style_app.stylizer import cached_stylizer
from style_app.weights import SHIPPED_ENV, WEIGHTS_ENV, file_styles, read_metadata, shipped_weights_dir


@pytest.fixture
def page_texts(monkeypatch, tmp_path) -> list[str]:
    """Every Markdown text of the app as it serves the shipped zoo alone."""
    monkeypatch.delenv(SHIPPED_ENV)
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))  # an empty folder of the user's
    cached_stylizer.cache_clear()
    from style_app.web.ui import build_demo

    demo = build_demo(96)
    yield [block.value for block in demo.blocks.values() if isinstance(block, gr.Markdown) and block.value]
    cached_stylizer.cache_clear()


def shipped_networks() -> list[dict]:
    return [read_metadata(path) for path in sorted(shipped_weights_dir().glob("*.safetensors"))]


def test_training_curves_text_says_how_the_shipped_networks_learned_their_paintings(page_texts):
    networks = shipped_networks()
    assert networks
    curves = next(text for text in page_texts if text.startswith("Loss per training step"))
    every = {net["train_config"].get("every_style", False) for net in networks}
    counts = {len(file_styles(net)) for net in networks}
    assert len(every) == 1 and len(counts) == 1, "the shipped networks differ: say so on the page"
    if every == {True}:
        assert "every painting at every step" in curves and "in turn" not in curves, curves
    else:
        assert "in turn" in curves, curves
    assert f"learned {counts.pop()} paintings" in curves
    if every == {True}:
        assert not [text for text in page_texts if "in turn" in text]  # nowhere else on the page either


def test_other_claims_of_the_page_match_the_code(page_texts):
    seed = next(text for text in page_texts if "seed" in text.lower() or "2x2" in text)
    assert f"each group has {GROUP_NORM_CHANNELS_PER_GROUP} channels" in seed
    add = next(text for text in page_texts if text.startswith("Upload a painting"))
    assert re.search(r"saved in `[^`]+`", add)  # where added paintings go
