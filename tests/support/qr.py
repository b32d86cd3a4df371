"""Reading back a QR code the pages drew, as a scanner would, without the encoder's help.

``decode_svg`` takes the SVG segno writes (one path of horizontal runs), rebuilds the grid
of modules, reads the format information (error correction level and mask), unmasks the
data area in the standard's zigzag order, de-interleaves the data codewords of the blocks
(ISO/IEC 18004 tables for level M) and reads one byte-mode segment as UTF-8. It handles what
a payment code needs (level M, byte mode, versions 1-40) and fails loudly on anything else.
"""

from __future__ import annotations

import re

# Level M: error correction codewords per block, and blocks, by version (ISO/IEC 18004).
ECC_PER_BLOCK_M = [
    -1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
    26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28,
]  # fmt: skip
BLOCKS_M = [
    -1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
    17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49,
]  # fmt: skip
FORMAT_MASK = 0x5412
LEVELS = {1: "L", 0: "M", 3: "Q", 2: "H"}
MASKS = [
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
]

Grid = list[list[bool]]


def modules_of_svg(svg: str) -> Grid:
    """The dark modules of a segno SVG drawn at scale 1: ``M x y`` then runs ``h n`` and
    relative moves ``m dx dy`` along rows (y is the row's middle), inside the quiet zone."""
    view = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    path = re.search(r'<path[^>]*stroke="[^"]+"[^>]*d="([^"]+)"', svg)
    assert view, "an SVG without a viewBox"
    assert path, "not an SVG QR code drawn by segno"
    border = int(re.match(r"M(\d+)", path.group(1)).group(1))  # type: ignore[union-attr]
    size = int(view.group(1)) - 2 * border
    grid = [[False] * size for _ in range(size)]
    x = y = 0.0
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.group(1)):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            row = int(y - 0.5) - border
            for column in range(int(x) - border, int(x) - border + int(a)):
                grid[row][column] = True
            x += float(a)
    return grid


def _alignment_positions(version: int, size: int) -> list[int]:
    if version == 1:
        return []
    count = version // 7 + 2
    step = 26 if version == 32 else (version * 4 + count * 2 + 1) // (count * 2 - 2) * 2
    positions = [6]
    at = size - 7
    while len(positions) < count:
        positions.insert(1, at)
        at -= step
    return positions


def _function_modules(version: int, size: int) -> Grid:
    """Which modules are not data: finders with separators and format areas, timing lines,
    alignment patterns, version information and the dark module."""
    function = [[False] * size for _ in range(size)]

    def mark(top: int, left: int, height: int, width: int) -> None:
        for r in range(top, top + height):
            for c in range(left, left + width):
                function[r][c] = True

    mark(0, 0, 9, 9)
    mark(0, size - 8, 9, 8)
    mark(size - 8, 0, 8, 9)
    mark(6, 0, 1, size)
    mark(0, 6, size, 1)
    positions = _alignment_positions(version, size)
    last = len(positions) - 1
    for i, row in enumerate(positions):
        for j, column in enumerate(positions):
            if (i, j) in ((0, 0), (0, last), (last, 0)):
                continue  # where the finders are
            mark(row - 2, column - 2, 5, 5)
    if version >= 7:
        mark(0, size - 11, 6, 3)
        mark(size - 11, 0, 3, 6)
    return function


def decode_modules(grid: Grid) -> tuple[str, str]:
    """The text of a QR code's grid of modules, and its error correction level."""
    size = len(grid)
    version = (size - 17) // 4
    assert size == 17 + 4 * version, f"no QR code is {size} wide"
    assert 1 <= version <= 40, f"no QR code is {size} wide"
    # Format information, first copy: bits 0-5 down column 8, then (8,7), (8,8), (7,8) and
    # bits 9-14 leftwards along row 8 (x is the column, y the row).
    places = [(8, i) for i in range(6)] + [(8, 7), (8, 8), (7, 8)]
    places += [(14 - i, 8) for i in range(9, 15)]
    bits = sum(int(grid[y][x]) << i for i, (x, y) in enumerate(places)) ^ FORMAT_MASK
    level, mask = LEVELS[bits >> 13], (bits >> 10) & 7
    assert level == "M", f"this reader knows level M only, not {level}"

    function = _function_modules(version, size)
    stream: list[int] = []
    right = size - 1
    while right >= 1:
        if right == 6:
            right = 5
        upward = ((right + 1) & 2) == 0
        for vertical in range(size):
            y = size - 1 - vertical if upward else vertical
            for x in (right, right - 1):
                if not function[y][x]:
                    stream.append(int(grid[y][x] ^ MASKS[mask](x, y)))
        right -= 2
    raw = [int("".join(map(str, stream[i : i + 8])), 2) for i in range(0, len(stream) - 7, 8)]

    blocks, ecc = BLOCKS_M[version], ECC_PER_BLOCK_M[version]
    short_length = len(raw) // blocks
    shorts = blocks - len(raw) % blocks
    lengths = [short_length - ecc + (0 if b < shorts else 1) for b in range(blocks)]
    data_blocks: list[list[int]] = [[] for _ in range(blocks)]
    at = 0
    for i in range(max(lengths)):
        for b in range(blocks):
            if i < lengths[b]:
                data_blocks[b].append(raw[at])
                at += 1
    data = "".join(f"{codeword:08b}" for block in data_blocks for codeword in block)

    assert data[:4] == "0100", f"not one byte-mode segment (mode {data[:4]})"
    count_bits = 8 if version <= 9 else 16
    count = int(data[4 : 4 + count_bits], 2)
    start = 4 + count_bits
    payload = bytes(int(data[start + 8 * i : start + 8 * i + 8], 2) for i in range(count))
    rest = data[start + 8 * count :]
    assert set(rest[:4]) <= {"0"}, "no terminator after the segment"
    return payload.decode("utf-8"), level


def decode_svg(svg: str) -> str:
    """The text of the QR code drawn in ``svg`` (level M, byte mode)."""
    text, _ = decode_modules(modules_of_svg(svg))
    return text
