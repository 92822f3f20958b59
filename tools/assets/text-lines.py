#!/usr/bin/python3
"""Text-line images for bench-quantize's PaddleOCR direction classifier.

Renders lines of English text (tools/bitnet/heldout-sample.txt, King James Bible verses) with Debian's DejaVu fonts,
half of them turned 180 degrees, and prepares each as PP-OCR's classifier expects: scaled to 48 pixels high (at most
192 wide, aspect kept), (x/255 - 0.5) / 0.5 per channel, padded on the right with 0 to 192 wide.

Writes OUT/images.npy (float32 [N, 3, 48, 192]) and OUT/labels.npy (uint8 [N]: 0 upright, 1 turned), seeded so the
same files come out every time. Needs Debian's python3-pil and python3-numpy.

usage: text-lines.py TEXT_FILE OUT_DIR COUNT
"""
import os
import random
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONTS = "/usr/share/fonts/truetype/dejavu"
HEIGHT, WIDTH = 48, 192


def fragments(path):
    """Verse text without the leading reference, cut into pieces of 2 to 6 words."""
    words = []
    with open(path, encoding="utf-8") as text:
        for line in text:
            words.extend(line.split())
    rng = random.Random(7)
    at = 0
    while at < len(words):
        take = rng.randint(2, 6)
        yield " ".join(words[at:at + take])
        at += take


def render(text, font, ink, paper):
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (right - left + 16, bottom - top + 12), paper)
    ImageDraw.Draw(image).text((8 - left, 6 - top), text, font=font, fill=ink)
    return image


def prepare(image):
    width = min(WIDTH, max(1, round(HEIGHT * image.width / image.height)))
    scaled = np.asarray(image.resize((width, HEIGHT), Image.BILINEAR), dtype=np.float32)
    chw = (scaled / 255.0 - 0.5) / 0.5
    out = np.zeros((3, HEIGHT, WIDTH), dtype=np.float32)
    out[:, :, :width] = chw.transpose(2, 0, 1)
    return out


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    text_file, out_dir, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    faces = sorted(f for f in os.listdir(FONTS) if f.startswith(("DejaVuSans", "DejaVuSerif")) and f.endswith(".ttf"))
    if not faces:
        sys.exit(f"no fonts in {FONTS}: install Debian's fonts-dejavu-core")
    rng = random.Random(11)
    pieces = fragments(text_file)
    images = np.zeros((count, 3, HEIGHT, WIDTH), dtype=np.float32)
    labels = np.zeros(count, dtype=np.uint8)
    for i in range(count):
        font = ImageFont.truetype(os.path.join(FONTS, rng.choice(faces)), rng.randint(22, 40))
        dark = rng.randint(0, 80)
        light = rng.randint(170, 255)
        image = render(next(pieces), font, (dark,) * 3, (light,) * 3)
        labels[i] = i % 2
        if labels[i]:
            image = image.rotate(180)
        images[i] = prepare(image)
    os.makedirs(out_dir, exist_ok=True)
    np.save(os.path.join(out_dir, "images.npy"), images)
    np.save(os.path.join(out_dir, "labels.npy"), labels)
    print(f"{count} text lines ({int(labels.sum())} turned 180 degrees) -> {out_dir}")


if __name__ == "__main__":
    main()
