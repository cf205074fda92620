"""ConvBench: benign 3-turn visual conversations over VisIT-Bench photos (user turns only)."""

from __future__ import annotations

from pathlib import Path

from mmshield.data.items import Item
from mmshield.data.sources._util import require

NAME = "convbench"
FAMILY = "convbench"
LICENSE = "CC BY 4.0 (annotations); images: VisIT-Bench per-image licences"


def load(root: Path) -> list[Item]:
    import openpyxl

    base = root / "convbench"
    img_dir = base / "visit_bench_images"
    wb = openpyxl.load_workbook(require(base / "ConvBench.xlsx"), read_only=True)
    items: list[Item] = []
    try:
        for k, row in enumerate(wb.active.iter_rows(values_only=True)):
            if k == 0 or not row or not row[1]:
                continue
            rid, image_id = row[0], str(row[1])
            qs = [str(q).strip() for q in row[2:5] if q and str(q).strip()]
            path = img_dir / (Path(image_id).stem + ".jpg")
            if not qs or not path.exists():
                continue
            items.append(Item(text=qs[0], label="safe", source=NAME, family=FAMILY, license=LICENSE,
                              group_id=f"convbench:{Path(image_id).stem}", turns=[("user", q) for q in qs],
                              kind="visual_chat", image_path=str(path), meta={"row": rid}))
    finally:
        wb.close()
    return items
