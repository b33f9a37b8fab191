"""A workspace whose models are the reference models: registered with their digests.

The demo and the pipeline evaluation both run the real layers on reference weights; this is
how they make such a workspace. Roles get their implementation (so ``artifacts`` can load
them) and each version its weights file's digest, computed from the file (never copied from
elsewhere: weights rebuilt on another machine type may differ in bytes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import JsonValue

from artifacts.keys import hash_file
from generators.reference.build import REFERENCE_FILES

IMPLEMENTATIONS = {
    "detector": "generators.models.detector:FootpointDetector",
    "crop_encoder": "generators.models.crop_encoder:CropEncoder",
    "tracker": "generators.models.tracking.tracker:Tracker",
    "videomae": "generators.models.videomae:VideoMAEFeatures",
}
PIPELINE_LAYERS = ["generators.layers.frame_level.layer:FrameLevel", "generators.layers.track_level.layer:TrackLevel"]


def models_yaml(versions: Mapping[str, Mapping[str, Path]], collections: Mapping[str, Mapping[str, str]], root: Path,
                implementations: Mapping[str, str] = IMPLEMENTATIONS, header: str = "",
                provides: Mapping[str, Mapping[str, JsonValue]] | None = None) -> str:
    """models.yaml text: ``versions`` role -> version -> weights path (relative to ``root`` when
    inside it), and ``collections`` name -> role -> version. ``provides`` (role -> contracts)
    is written on every version of that role."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()] + ["schema: 1", "roles:"]
    for role, by_version in versions.items():
        lines.append(f"  {role}:")
        if role in implementations:
            lines.append(f"    implementation: {implementations[role]}")
        lines.append("    versions:")
        for version, path in by_version.items():
            p = path.resolve()
            shown = p.relative_to(root.resolve()).as_posix() if p.is_relative_to(root.resolve()) else str(p)
            lines += [f"      {version}:", f"        weights: {shown}", f"        digest: {hash_file(p)}"]
            if provides and role in provides:
                lines.append(f"        provides: {json.dumps(provides[role], separators=(', ', ': '))}")
    lines.append("collections:")
    for name, members in collections.items():
        lines.append(f"  {name}:")
        lines += [f"    {role}: {version}" for role, version in members.items()]
    return "\n".join(lines) + "\n"


def reference_models_yaml(weights_dir: Path, root: Path, extra: Mapping[str, tuple[str, Path]] | None = None,
                          provides: Mapping[str, Mapping[str, JsonValue]] | None = None) -> str:
    """models.yaml running the reference models of ``weights_dir`` (version ``ref`` of each role)
    and ``extra`` roles (role -> (version, weights)), all in collection ``production``."""
    versions: dict[str, dict[str, Path]] = {role: {"ref": weights_dir / f} for role, f in REFERENCE_FILES.items()}
    collection = dict.fromkeys(REFERENCE_FILES, "ref")
    for role, (version, path) in (extra or {}).items():
        versions[role] = {version: path}
        collection[role] = version
    return models_yaml(versions, {"production": collection}, root, provides=provides)
