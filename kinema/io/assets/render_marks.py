"""Build-time tool: render the visible AIGC mark's two text lines into the grayscale masks shipped beside it.

    python kinema/io/assets/render_marks.py /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc

Why masks and not a font at run time: Kinema runs offline on machines that have no CJK font (this project's
own machines have only DejaVu, which has no 生 or 成), and a CJK font is 16-56 MB, while the two masks are a
few KB. The label text is fixed ("AI生成" / "AI-generated"), so four glyphs and a Latin line are all that is
needed. Source font: Noto Sans CJK SC Bold (Debian package fonts-noto-cjk, SIL Open Font License 1.1, which
allows embedding rendered text); bold stays legible when scaled down to a 64x64 frame.

Each mask is the line's ink, cropped to its bounding box, rendered at 128 px font size (ink 125 px high for
AI生成, 133 px for AI-generated): ``kinema.io.visible_label`` scales it down (area-averaging) to the height it
needs, so one render serves every frame size. This script is not part of the installed package.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

LINES = {"mark_zh.png": "AI生成", "mark_en.png": "AI-generated"}
FONT_SIZE = 128
SC_INDEX_NAME = "Noto Sans CJK SC"  # the .ttc holds JP/KR/SC/TC/HK faces; the SC (Simplified Chinese) one


def sc_face(path: str) -> ImageFont.FreeTypeFont:
    for index in range(16):
        face = ImageFont.truetype(path, FONT_SIZE, index=index)
        if face.getname()[0] == SC_INDEX_NAME:
            return face
    raise SystemExit(f"{path} has no '{SC_INDEX_NAME}' face; pass NotoSansCJK-Bold.ttc.")


def render(face: ImageFont.FreeTypeFont, text: str) -> Image.Image:
    left, top, right, bottom = face.getbbox(text)
    img = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(img).text((4 - left, 4 - top), text, fill=255, font=face)
    return img.crop(img.getbbox())  # the ink only


def main(font_path: str) -> None:
    face = sc_face(font_path)
    out = Path(__file__).parent
    for name, text in LINES.items():
        mask = render(face, text)
        mask.save(out / name, optimize=True)
        print(f"{name}: {text!r} {mask.size[0]}x{mask.size[1]}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
