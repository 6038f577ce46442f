"""The sample wiki's images: PNG files drawn on request, and the thumbnail sizes MediaWiki renders."""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache

from local.samplewiki.corpus import Image


@lru_cache(maxsize=256)
def png_bytes(width: int, height: int, seed: str) -> bytes:
    """A valid RGB PNG of the given size: a gradient whose colours depend on `seed`, built with zlib alone."""
    base = zlib.crc32(seed.encode())
    red, green, blue = base & 0xFF, (base >> 8) & 0xFF, (base >> 16) & 0xFF
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: none
        shade = (y * 96) // max(height, 1)
        pixel = bytes(((red + shade) & 0xFF, (green + shade // 2) & 0xFF, (blue + 128 - shade) & 0xFF))
        rows.extend(pixel * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def thumbnail_size(image: Image, size: int) -> tuple[int, int]:
    """The size MediaWiki renders when asked to fit `image` in a `size`x`size` box; it never upscales."""
    if size >= image.width and size >= image.height:
        return image.width, image.height
    width = size if image.width >= image.height else max(1, round(image.width * size / image.height))
    return width, thumbnail_height(image, width)


def thumbnail_height(image: Image, width: int) -> int:
    """The height of a thumbnail `width` pixels wide; the URL only carries the width, so both sides use this."""
    return max(1, round(image.height * width / image.width))
