"""Pack what a GPU session needs into one small folder that a device run can carry (64 MiB limit):
the training photos shrunk to 256 px on the shorter side, the held-out photos as they are, the
paintings, and the VGG loss network up to relu4_3 in fp16.

    python scripts/pack_gpu_data.py --photos data/train --val data/val12 --styles PAINTINGS_DIR \
        --vgg VGG_FILE --out .gpu
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image
from safetensors.torch import load_file, save_file

SHORTER_SIDE = 256  # the training crop size: no smaller
LAST_VGG_INDEX = 22  # relu4_3: the deepest layer the losses use


def shrink_photos(source: Path, dest: Path) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(source.iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp"):
            continue
        with Image.open(path) as image:
            image = image.convert("RGB")
            scale = SHORTER_SIDE / min(image.size)
            if scale < 1:
                image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
            image.save(dest / f"{path.stem}.jpg", quality=80)
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", required=True, type=Path)
    parser.add_argument("--val", required=True, type=Path)
    parser.add_argument("--styles", required=True, type=Path)
    parser.add_argument("--vgg", required=True, type=Path)
    parser.add_argument("--out", default=Path(".gpu"), type=Path)
    args = parser.parse_args()
    print("train photos:", shrink_photos(args.photos, args.out / "train"))
    shutil.copytree(args.val, args.out / "val", dirs_exist_ok=True)
    shutil.copytree(args.styles, args.out / "styles", dirs_exist_ok=True)
    state = {k: v.half().contiguous() for k, v in load_file(str(args.vgg)).items()
             if int(k.split(".")[0]) <= LAST_VGG_INDEX}
    save_file(state, str(args.out / "vgg16_features_fp16.safetensors"))
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{args.out}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
