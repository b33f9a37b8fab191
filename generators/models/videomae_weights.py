"""Write ``videomae`` weights reproducibly: a small seeded configuration, or a converted local checkpoint.

``python -m generators.models.videomae_weights OUT [--seed N] [--preset small|tiny|base] [--tubelet 1|2]``
initialises a ``VideoMAEModel`` from the seed alone (CPU, one thread, deterministic) and writes
it to the safetensors file ``OUT``; the same command writes the same bytes on every run.
``--from-pretrained DIR`` instead converts a local ``save_pretrained`` directory (e.g. a
downloaded ``MCG-NJU/videomae-base``) into one such file. It prints the digest and the
models.yaml entry, with the contracts the ``videomae-features`` layer records.

The default, ``small``, is the demo's configuration: 224x224 input, 16 frames, 16-pixel
patches, tubelet 1, hidden size 64, 2 layers of 4 heads (about 0.1 s a clip on one CPU core).
Tubelet 1, not VideoMAE's usual 2, gives a (16, 14, 14) token grid, one token per frame and
patch, exactly the grid of the shot heatmaps ([16, 14, 14, 18]) and the [3136, D] clips the
dual-stream model's cross-attention expects (seed 000); tubelet 2 halves the time axis (8, 14, 14)
and would make every consumer pool the heatmaps over frame pairs. The token grid is recorded
with the features, so a consumer expecting the other one fails with a diff, never silently.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Literal, cast

from pydantic import JsonValue

from artifacts.keys import hash_file
from generators.models.videomae import FAMILY, VideoMAEArch, VideoMAEFeatures, arch_preset

IMPLEMENTATION = "generators.models.videomae:VideoMAEFeatures"
TOKEN_DTYPE = "float16"


def contracts_of(arch: VideoMAEArch) -> dict[str, JsonValue]:
    """What features of this architecture are: the layer records these, models.yaml ``provides`` them."""
    return {"feature_family": FAMILY, "token_grid": list(arch.grid), "hidden_dim": arch.hidden_size, "token_dtype": TOKEN_DTYPE}


def build_weights(out: Path, seed: int = 0, arch: VideoMAEArch | None = None) -> Path:
    """Write seeded weights of ``arch`` (default: the small demo configuration) to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    VideoMAEFeatures.seeded(arch or VideoMAEArch(), seed).save(out)
    return out


def convert_pretrained(directory: Path, out: Path) -> Path:
    """Convert a local ``save_pretrained`` directory into one weights file at ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    VideoMAEFeatures.from_pretrained_dir(directory).save(out)
    return out


def models_entry(version: str, path: Path, arch: VideoMAEArch) -> str:
    """The models.yaml lines registering ``path`` as ``version`` of the videomae role."""
    provides = json.dumps(contracts_of(arch), separators=(", ", ": "))
    return "\n".join([
        "  videomae:",
        f"    implementation: {IMPLEMENTATION}",
        "    versions:",
        f"      {version}:",
        f"        weights: {path}",
        f"        digest: {hash_file(path)}",
        f"        provides: {provides}",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generators.models.videomae_weights", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="the weights file to write (safetensors)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", choices=["small", "tiny", "base"], default="small")
    parser.add_argument("--tubelet", type=int, choices=[1, 2], default=1)
    parser.add_argument("--from-pretrained", type=Path, default=None, metavar="DIR", help="convert this local checkpoint directory instead")
    parser.add_argument("--version", default="vmae-s1", help="version name for the printed models.yaml entry")
    args = parser.parse_args(argv)
    if args.from_pretrained is not None:
        path = convert_pretrained(args.from_pretrained, args.out)
        arch = VideoMAEFeatures.from_weights(path).arch
    else:
        arch = arch_preset(cast(Literal["small", "tiny", "base"], args.preset), args.tubelet)
        path = build_weights(args.out, args.seed, arch)
    print(f"wrote {path} ({path.stat().st_size} bytes), grid {arch.grid}, hidden {arch.hidden_size}")
    print(models_entry(args.version, path, arch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
