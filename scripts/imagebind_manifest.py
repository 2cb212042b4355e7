"""Write tests/data/imagebind_huge_manifest.json: every tensor name and shape of the official
imagebind_huge, taken from ImageBind's own model definition (`imagebind_model.imagebind_huge`, the
function whose weights Meta publishes as imagebind_huge.pth), built with parameters on the meta device.

Run: PYTHONPATH=. python scripts/imagebind_manifest.py  (about 10 s; no weights, no network)
"""

from __future__ import annotations

import json
import math
from importlib.metadata import version
from pathlib import Path

from retrieval.embedders.imagebind import _parameters_on_meta, import_imagebind_model

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "imagebind_huge_manifest.json"


def main() -> None:
    module = import_imagebind_model()
    with _parameters_on_meta():
        model = module.imagebind_huge(pretrained=False)
    tensors = {name: list(t.shape) for name, t in model.state_dict().items()}
    package = f"imagebind-unofficial {version('imagebind-unofficial')}"
    source = f"imagebind.models.imagebind_model.imagebind_huge ({package})"
    values = sum(math.prod(shape) for shape in tensors.values())
    lines = [f"  {json.dumps(name)}: {json.dumps(shape)}" for name, shape in tensors.items()]
    text = (
        f'{{\n "source": {json.dumps(source)},\n "tensors": {len(tensors)},\n "values": {values},\n'
        f' "shapes": {{\n' + ",\n".join(lines) + "\n }\n}\n"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"{OUT}: {len(tensors)} tensors, {values:,} values")


if __name__ == "__main__":
    main()
