"""Training photos: random crops in an order fixed by (seed, step), so a resumed run sees
exactly the batches an uninterrupted run would have seen."""
from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from style_app.errors import TrainingError
from style_app.images import ImageError, open_image, to_tensor


def resize_shorter(image: Image.Image, size: int) -> Image.Image:
    scale = size / min(image.size)
    return image.resize((max(size, round(image.width * scale)), max(size, round(image.height * scale))),
                        Image.Resampling.BICUBIC)


class ContentImages(Dataset):
    """Item (index, seed) -> a square crop of `image_size` pixels from photo `index`, the crop
    position and a horizontal flip drawn from `seed`; seed None gives the centre crop.

    `zoom` > 1 first resizes the photo so its shorter side is between `image_size` and
    `zoom * image_size` (drawn from `seed`): the network then also sees things larger and
    smoother than in a whole-photo crop, as it does when it stylizes photos at a higher resolution."""

    def __init__(self, paths: list[Path], image_size: int, zoom: float = 1.0):
        if not paths:
            raise TrainingError("no training images found (looked for jpg, jpeg, png, webp)")
        self.paths, self.image_size, self.zoom = paths, image_size, zoom

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: tuple[int, int | None]) -> torch.Tensor:
        index, seed = key
        rng = random.Random(seed)
        size = self.image_size
        shorter = round(size * rng.uniform(1.0, self.zoom)) if seed is not None and self.zoom > 1 else size
        try:
            image = resize_shorter(open_image(self.paths[index]), shorter)
        except ImageError as e:
            raise TrainingError(f"training image unusable: {e}") from None
        if seed is None:
            left, top, flip = (image.width - size) // 2, (image.height - size) // 2, False
        else:
            left, top = rng.randint(0, image.width - size), rng.randint(0, image.height - size)
            flip = rng.random() < 0.5
        image = image.crop((left, top, left + size, top + size))
        if flip:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return to_tensor(image)[0]

    def centre_crops(self, count: int | None = None) -> torch.Tensor:
        """The centre crops of the first `count` photos (default all), stacked (N, 3, size, size)."""
        return torch.stack([self[(i, None)] for i in range(min(count or len(self), len(self)))])


class StepBatches(Sampler):
    """Batches for steps start..steps-1: shuffled epochs from `seed`, each item with its own
    augmentation seed. With `world` data-parallel ranks, each rank takes its slice of a global batch."""

    def __init__(self, num_images: int, batch_size: int, seed: int, start: int, steps: int,
                 rank: int = 0, world: int = 1):
        self.num_images, self.batch_size, self.seed = num_images, batch_size, seed
        self.start, self.steps, self.rank, self.world = start, steps, rank, world

    def __len__(self) -> int:
        return max(self.steps - self.start, 0)

    def _order(self, epoch: int) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.num_images, generator=generator).tolist()

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        global_batch = self.batch_size * self.world
        cached_epoch, order = -1, []
        for step in range(self.start, self.steps):
            batch = []
            for j in range(self.rank * self.batch_size, (self.rank + 1) * self.batch_size):
                position = step * global_batch + j
                epoch, offset = divmod(position, self.num_images)
                if epoch != cached_epoch:
                    cached_epoch, order = epoch, self._order(epoch)
                batch.append((order[offset], self.seed * 1_000_003 + position))
            yield batch
