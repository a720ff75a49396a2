"""Adding a painting from the web UI: one add-style training at a time for the whole server, run in
a background thread, so the page answers (and stylizes) while it trains. Pages poll `progress()`
for the step, the steps left and a preview; `cancel()` stops it between steps."""
from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from PIL import Image

from style_app.models.norms import norm_label
from style_app.models.vgg import WEIGHTS_ENV as VGG_WEIGHTS_ENV
from style_app.models.vgg import VGGFeatures, VGGWeightsError, load_vgg
from style_app.errors import Interrupted, StyleAppError, TrainingError, first_line, for_page
from style_app.images import fit_within, to_image, to_tensor
from style_app.stylizer import cached_stylizer
from style_app.training.add_style import AddStyleConfig, train_style

PREVIEW_EVERY = 5  # steps between preview refreshes
PREVIEW_SIZE = 256  # longer side of the preview photo
#: What the page says when no VGG-16 file was given and torchvision cannot download one.
VGG_OFFLINE = ("no VGG-16 loss network and torchvision cannot download it here: run `style-app vgg-weights "
               "--out vgg16.safetensors` once where the internet is reachable, then start the app with "
               "`style-app serve --vgg-weights vgg16.safetensors`")


@dataclass(frozen=True)
class Progress:
    """A snapshot of the trainer for a page to show."""

    running: bool = False
    label: str = ""  # what is learned now, e.g. "udnie, Instance norm (IN)"
    step: int = 0
    steps: int = 0
    steps_left: int = 0  # in this job and the ones queued after it
    message: str = ""
    preview: Image.Image | None = None
    finished: int = 0  # styles added since the server started: pages refresh their style lists when it grows


def job_label(cfg: AddStyleConfig) -> str:
    return f"{cfg.styles[0]}, {norm_label(cfg.norm)}"


class StyleTrainer:
    """Runs a list of add-style trainings (one painting on one or more networks) in turn, in a
    background thread; refuses a second list while one runs."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = Progress()
        self._vgg: dict[str | None, VGGFeatures] = {}
        self._owner: str | None = None  # the session that started the running jobs (None: anyone may cancel)

    def progress(self) -> Progress:
        with self._lock:
            return self._progress

    def check_idle(self) -> None:
        """Raise TrainingError saying how much is left when a training runs."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise self._busy()

    def _busy(self) -> TrainingError:
        return TrainingError(f"busy: {self._progress.label} is being learned, {self._progress.steps_left} "
                             f"steps left; try again when it is done")

    def start(self, jobs: list[AddStyleConfig], preview_photo: Image.Image, scratch: Path | None = None,
              owner: str | None = None) -> None:
        """Start the jobs in the background, or raise TrainingError when busy; `scratch` (the
        uploaded training photos' folder) is removed when they end. `owner` (a session) is the only
        one that may cancel them."""
        self.check_idle()
        with self._lock:
            self._owner = owner
            self._cancel.clear()
            self._progress = replace(self._progress, running=True, label=job_label(jobs[0]), step=0,
                                     steps=jobs[0].steps, steps_left=sum(j.steps for j in jobs),
                                     message="starting", preview=None)
            self._thread = threading.Thread(target=self._run, name="add-style", daemon=True,
                                            args=(jobs, fit_within(preview_photo, PREVIEW_SIZE), scratch))
            self._thread.start()

    def cancel(self, owner: str | None = None) -> bool:
        """Ask the running training to stop after its current step; False when none runs. A
        session (`owner`) other than the one that started it is told it is busy (TrainingError);
        without `owner` (the server itself, scripts) it always stops."""
        with self._lock:
            running = self._progress.running
            if running and owner is not None and owner != self._owner:
                raise self._busy()
        if running:
            self._cancel.set()
        return running

    def wait(self, timeout: float | None = None) -> Progress:
        """Block until the current jobs end (for scripts and tests)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.progress()

    def _update(self, **changes) -> None:
        with self._lock:
            self._progress = replace(self._progress, **changes)

    def _run(self, jobs: list[AddStyleConfig], photo: Image.Image, scratch: Path | None = None) -> None:
        added, message = [], ""
        try:
            for i, cfg in enumerate(jobs):
                later = sum(j.steps for j in jobs[i + 1:])
                self._update(label=job_label(cfg), step=0, steps=cfg.steps, message=f"learning {job_label(cfg)}")
                train_style(cfg, self._loss_network(cfg), progress=False, stop=self._cancel,
                            on_step=lambda step, model, cfg=cfg, later=later: self._on_step(cfg, step, model, photo, later))
                cfg.checkpoint_path.unlink(missing_ok=True)  # finished: nothing to resume
                cached_stylizer.cache_clear()  # networks load their added styles anew
                added.append(job_label(cfg))
                self._update(finished=self.progress().finished + 1)
            message = f"done: added {'; '.join(added)}"
        except Interrupted:
            cfg.checkpoint_path.unlink(missing_ok=True)
            message = f"cancelled {job_label(cfg)} at step {self.progress().step}" + (
                f" (kept: {'; '.join(added)})" if added else "")
        except Exception as e:  # a background thread has no caller to raise to: report, never hang as running
            message = f"stopped: {for_page(str(e)) if isinstance(e, StyleAppError) else first_line(e)}"
        finally:
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
            self._update(running=False, steps_left=0, message=message)

    def _loss_network(self, cfg: AddStyleConfig) -> VGGFeatures:
        """The VGG-16 loss network: the file named by --vgg-weights (env STYLE_APP_VGG_WEIGHTS), else
        torchvision's download; offline, a TrainingError saying in one sentence what to run."""
        key = cfg.vgg_weights or os.environ.get(VGG_WEIGHTS_ENV)
        if key not in self._vgg:
            try:
                self._vgg[key] = load_vgg(key)
            except VGGWeightsError as e:
                if key:  # a file was named: its own message says what is wrong with it
                    raise TrainingError(str(e)) from None
                raise TrainingError(VGG_OFFLINE) from None
        return self._vgg[key]

    @torch.no_grad()
    def _on_step(self, cfg: AddStyleConfig, step: int, model: torch.nn.Module, photo: Image.Image, later: int) -> None:
        changes = {"step": step, "steps_left": cfg.steps - step + later}
        if step % PREVIEW_EVERY == 0 or step == cfg.steps:
            model.eval()
            changes["preview"] = to_image(model(to_tensor(photo).to(next(model.parameters()).device)))
            model.train()
        self._update(**changes)
