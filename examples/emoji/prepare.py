"""Prepare the emoji image example from the npm package `emoji-datasource-google` 16.0.0.

    python examples/emoji/prepare.py --package out/emoji-src/package --out examples/emoji/emoji.csv
    python examples/emoji/prepare.py --package out/emoji-src/package --subset tests/fixtures/emoji

Writes one row per 64x64 Noto PNG: `image` (the path relative to the CSV), `base` (the base emoji's
code point sequence: its skin-tone variants share it, and the schema's `training.group_by: base`
keeps them on one side of the holdout), `name`, and the three label groups: `category` (9, the
"Component" entries dropped), `subcategory` (only for People & Body rows: the group is conditional
on that category), `skin_tone` (none, light, medium-light, medium, medium-dark, dark; two-person
mixed tones are dropped). The full set has 3,486 images. `--subset DIR` copies a small, fixed
subset (about 290 images) with its CSV into DIR instead.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any

TONES = {"1F3FB": "light", "1F3FC": "medium-light", "1F3FD": "medium", "1F3FE": "medium-dark", "1F3FF": "dark"}
PEOPLE = "People & Body"


def rows_of(package: Path) -> list[dict[str, Any]]:
    """Every usable image of the package with its labels, in the package's sort order."""
    entries = json.loads((package / "emoji.json").read_text(encoding="utf-8"))
    img = package / "img" / "google" / "64"
    rows: list[dict[str, Any]] = []
    for e in sorted(entries, key=lambda e: e["sort_order"]):
        if e["category"] == "Component" or not e.get("has_img_google"):
            continue
        variants = [("none", e["image"])]
        for tone, v in sorted((e.get("skin_variations") or {}).items()):
            if tone in TONES and v.get("has_img_google"):  # "1F3FB-1F3FC" (two people, mixed tones) is dropped
                variants.append((TONES[tone], v["image"]))
        for tone, image in variants:
            if (img / image).is_file():
                rows.append({"file": img / image, "base": e["unified"], "name": e["name"] or e["short_name"],
                             "category": e["category"],
                             "subcategory": e["subcategory"] if e["category"] == PEOPLE else "",
                             "skin_tone": tone})
    return rows


def subset_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A fixed small subset: 18 bases of each other category, 20 toned and 20 untoned People & Body bases."""
    bases: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        bases.setdefault(r["base"], []).append(r)
    chosen: list[str] = []
    by_category: dict[str, list[str]] = {}
    for base, group in bases.items():
        key = group[0]["category"] + ("/toned" if len(group) > 1 else "")
        by_category.setdefault(key, []).append(base)
    for key, names in sorted(by_category.items()):
        want = 20 if key.startswith(PEOPLE) else 18
        step = max(len(names) // want, 1)
        chosen.extend(names[::step][:want])
    keep = set(chosen)
    return [r for r in rows if r["base"] in keep]


def write(rows: list[dict[str, Any]], out: Path, copy_images: bool) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if copy_images:
        (out.parent / "img").mkdir(exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "base", "name", "category", "subcategory", "skin_tone"])
        for r in rows:
            if copy_images:
                target = out.parent / "img" / r["file"].name
                shutil.copyfile(r["file"], target)
                path = f"img/{target.name}"
            else:
                path = Path(os.path.relpath(r["file"], out.parent)).as_posix()
            w.writerow([path, r["base"], r["name"], r["category"], r["subcategory"], r["skin_tone"]])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", default="out/emoji-src/package", help="the unpacked npm package folder")
    ap.add_argument("--out", default="examples/emoji/emoji.csv", help="the CSV to write (paths relative to it)")
    ap.add_argument("--subset", help="write the small test subset (CSV + copied images) into this folder")
    args = ap.parse_args()
    rows = rows_of(Path(args.package))
    if args.subset:
        rows = subset_of(rows)
        path = write(rows, Path(args.subset) / "emoji.csv", copy_images=True)
    else:
        path = write(rows, Path(args.out), copy_images=False)
        sample = path.with_name("new_emoji.csv")  # a few images of every kind, for `compose predict`
        picked = [r for r in rows if r["skin_tone"] in ("none", "dark")][::157][:12]
        with sample.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["image", "name"])
            w.writerows([Path(os.path.relpath(r["file"], sample.parent)).as_posix(), r["name"]] for r in picked)
    print(f"wrote {path}: {len(rows)} images of {len({r['base'] for r in rows})} base emoji")


if __name__ == "__main__":
    main()
