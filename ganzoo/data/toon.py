"""Embedded procedural cartoon faces in two styles, for training and testing without downloads.

``toon/photo`` (the source domain) draws soft, shaded faces with small eyes, textured skin and a
blurred background; ``toon/anime`` (the target domain) draws the same faces with flat cel colours,
dark outlines, large eyes with highlights and a plain background. Index ``i`` of either style shows
the same face: the same attributes, pose, mouth, skin tone and background hue.

Each face has three discrete attributes, hair colour, eye colour and hair style, ten values each:
1,000 modes, which ``toon_classifier`` recognises in generated images. Every consecutive block of
1,000 indices holds each mode exactly once, in a shuffled order, so any ``length`` that is a
multiple of 1,000 is perfectly balanced. Everything else (skin tone, position, scale, tilt, mouth,
background, clothes) is nuisance variation.

Images depend only on ``(seed, index)``: every random number is a counter-based hash of the seed,
the index and a field number, so batches render identically in any order, process or machine.
Rendering is vectorised over a batch: each shape is a signed distance field over the pixel grid,
and its coverage is antialiased analytically from the distance (no supersampling).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ganzoo.errors import GanzooError

MIN_SIZE, MAX_SIZE = 32, 128
MODES_PER_BLOCK = 1000
CHUNK_PIXELS = 2**18  # pixels rendered at once

# RGB in 0..255; chosen far apart in hue or brightness so that they stay distinct under shading.
HAIR_COLOURS = {
    "black": (35, 32, 38),
    "brown": (115, 66, 34),
    "blonde": (240, 208, 112),
    "red": (196, 38, 32),
    "silver": (214, 220, 232),
    "pink": (250, 138, 196),
    "blue": (44, 82, 214),
    "green": (52, 158, 64),
    "purple": (128, 56, 178),
    "orange": (250, 128, 22),
}
EYE_COLOURS = {
    "brown": (120, 64, 24),
    "blue": (30, 100, 240),
    "green": (30, 176, 60),
    "red": (220, 24, 36),
    "purple": (150, 50, 220),
    "yellow": (236, 196, 16),
    "cyan": (16, 210, 220),
    "pink": (250, 96, 184),
    "grey": (150, 150, 162),
    "black": (24, 22, 26),
}
HAIR_STYLES = (
    "short",
    "long",
    "bob",
    "spiky",
    "bun",
    "side-swept",
    "twin tails",
    "afro",
    "mohawk",
    "side ponytail",
)
ATTRIBUTES = ("hair_colour", "eye_colour", "hair_style")

# Skin tones from light to dark; a face's tone is a random point on this polyline.
SKIN_TONES = np.array(
    [(255, 228, 206), (246, 205, 170), (224, 172, 130), (186, 128, 88), (140, 92, 62)]
)

_HAIR = torch.tensor(list(HAIR_COLOURS.values()), dtype=torch.float32) / 255
_EYE = torch.tensor(list(EYE_COLOURS.values()), dtype=torch.float32) / 255

# Face geometry, in face units: the head is an ellipse centred on the origin, y points down.
HEAD_A, HEAD_B = 0.42, 0.50
EYE_Y = 0.08
NOSE_Y = 0.24
FAR = 1e3  # distance used for "no shape here"


# ---------------------------------------------------------------------------------------------
# random numbers: counter-based, so any image can be drawn on its own


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijective scrambling of 64-bit integers."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _keys(seed: int, stream: int, counters: np.ndarray) -> np.ndarray:
    """One 64-bit key per counter, for an independent stream of (seed, stream)."""
    base = _mix(np.array([seed & (2**64 - 1)], dtype=np.uint64) + np.uint64(stream))
    return _mix(base ^ (counters.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)))


def _uniforms(seed: int, indices: np.ndarray, fields: int) -> np.ndarray:
    """``[N, fields]`` floats in [0, 1), a function of (seed, index, field) only."""
    keys = _keys(seed, 1, indices)[:, None]
    bits = _mix(keys + np.arange(1, fields + 1, dtype=np.uint64) * np.uint64(0xD1B54A32D192ED03))
    return (bits >> np.uint64(11)).astype(np.float64) / 2.0**53


def _modes(seed: int, length: int) -> np.ndarray:
    """The mode (0..999) of every index: each block of 1,000 indices is a permutation."""
    blocks = -(-length // MODES_PER_BLOCK)
    keys = _keys(seed, 2, np.arange(blocks * MODES_PER_BLOCK))
    order = np.argsort(keys.reshape(blocks, MODES_PER_BLOCK), axis=1, kind="stable")
    return order.reshape(-1)[:length].astype(np.int16)


def _hsv(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """HSV (each in [0, 1]) to RGB, ``[N, 3]``."""
    k = (np.array([5.0, 3.0, 1.0]) + h[:, None] * 6.0) % 6.0
    return v[:, None] - v[:, None] * s[:, None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _noise_tile() -> torch.Tensor:
    """A fixed 256x256 texture (fine grain plus blotches) that photo images crop at random."""
    rng = np.random.default_rng(20261124)
    fine = rng.standard_normal((256, 256))
    coarse = rng.standard_normal((64, 64)).repeat(4, 0).repeat(4, 1)
    coarse = (
        coarse + np.roll(coarse, 2, 0) + np.roll(coarse, 2, 1) + np.roll(coarse, 2, (0, 1))
    ) / 4
    return torch.tensor(0.7 * fine + 0.6 * coarse, dtype=torch.float32)


_TILE = _noise_tile()


# ---------------------------------------------------------------------------------------------
# signed distances (negative inside) and compositing; in-place where it saves a pass over memory


def _ellipse(x, y, cx, cy, a, b):
    """Approximate distance to an axis-aligned ellipse; exact for circles."""
    u = (x - cx).mul_(1.0 / a)
    v = (y - cy).mul_(1.0 / b)
    return u.mul_(u).add_(v.mul_(v)).sqrt_().sub_(1.0).mul_(min(a, b))


def _box(x, y, cx, cy, hw, hh):
    """Approximate distance to an axis-aligned rectangle (exact along the sides)."""
    return torch.maximum((x - cx).abs_().sub_(hw), (y - cy).abs_().sub_(hh))


def _stroke(x, y, cy, bend, width, thickness):
    """A tapered curved stroke centred on x = 0: y = cy + bend * x^2, thickest in the middle.

    With a large thickness it becomes a lens, which draws open mouths and almond eyes.
    """
    taper = (x / width).square_().neg_().add_(1.0).mul_(thickness)
    return (y - cy - bend * x * x).abs_().sub_(taper)


def _coverage(d, soft):
    """Fraction of a pixel inside the shape; ``soft`` is the edge width in face units."""
    return (d / -soft).add_(0.5).clamp_(0.0, 1.0)


def _paint(img, colour, cover):
    """Composites ``colour`` ([N, 3, 1, 1] or [N, 3, H, W]) over ``img`` by ``cover`` [N, H, W]."""
    img.lerp_(colour, cover.unsqueeze(1))


def _rgb(r, g, b):
    return torch.tensor([r, g, b], dtype=torch.float32).view(1, 3, 1, 1)


INK = _rgb(0.15, 0.09, 0.11)  # anime outline colour
WHITE = _rgb(1.0, 1.0, 1.0)
ONE = torch.tensor(1.0)
SCLERA = _rgb(0.93, 0.9, 0.88)
BLUSH = _rgb(0.98, 0.55, 0.6)
TONGUE = _rgb(0.85, 0.35, 0.38)
CEL_SHADOW = _rgb(0.86, 0.78, 0.8)
LIPS = _rgb(0.82, 0.5, 0.52)


# ---------------------------------------------------------------------------------------------
# faces


class _Faces:
    """The per-image parameters and pixel coordinates of one batch, shared by both styles."""

    def __init__(self, seed: int, indices: np.ndarray, modes: np.ndarray, size: tuple[int, int]):
        n = len(indices)
        h, w = size
        u = _uniforms(seed, indices, 24)
        ut = torch.tensor(u, dtype=torch.float32)

        def col(i):  # field i as a broadcastable per-image value
            return ut[:, i].view(n, 1, 1)

        modes = torch.tensor(modes.astype(np.int64))
        self.n, self.size, self.u = n, size, ut  # fields 18..23 are style-specific extras
        self.hair_style = modes % 10
        self.hair = (_HAIR[modes // 100] * (0.94 + 0.12 * ut[:, 20:21])).view(n, 3, 1, 1)
        self.eye = _EYE[modes // 10 % 10].view(n, 3, 1, 1)

        # pose: where the head sits, how big it is and how it tilts
        self.scale = 0.92 + 0.12 * u[:, 0]
        self.cx = (u[:, 1] - 0.5) * 0.14
        self.cy = 0.10 + (u[:, 2] - 0.5) * 0.10
        self.angle = (u[:, 3] - 0.5) * 0.30
        self.half = min(h, w) / 2  # pixels per image unit: the shorter side spans [-1, 1]
        self.xs = ((torch.arange(w, dtype=torch.float32) + 0.5 - w / 2) / self.half).view(1, 1, w)
        self.ys = ((torch.arange(h, dtype=torch.float32) + 0.5 - h / 2) / self.half).view(1, h, 1)
        cos = torch.tensor(np.cos(self.angle) / self.scale, dtype=torch.float32).view(n, 1, 1)
        sin = torch.tensor(np.sin(self.angle) / self.scale, dtype=torch.float32).view(n, 1, 1)
        dx = self.xs - torch.tensor(self.cx, dtype=torch.float32).view(n, 1, 1)
        dy = self.ys - torch.tensor(self.cy, dtype=torch.float32).view(n, 1, 1)
        self.x = dx * cos + dy * sin
        self.y = dy * cos - dx * sin
        self.px = torch.tensor(1.0 / (self.half * self.scale), dtype=torch.float32).view(n, 1, 1)

        # features: a small head turn shifts eyes, nose and mouth sideways together
        self.turn = (col(4) - 0.5) * 0.08
        self.eye_dx = 0.17 + 0.03 * col(5)
        self.side = torch.where(col(6) < 0.5, -1.0, 1.0)  # which side asymmetric styles go

        tone = u[:, 7] * (len(SKIN_TONES) - 1)
        lo = np.minimum(tone.astype(int), len(SKIN_TONES) - 2)
        skin = SKIN_TONES[lo] + (SKIN_TONES[lo + 1] - SKIN_TONES[lo]) * (tone - lo)[:, None]
        self.skin = torch.tensor(skin / 255, dtype=torch.float32).view(n, 3, 1, 1)

        # mouth: smile, open smile, flat, "o" (see _stroke)
        kind = (ut[:, 8] * 4).long()
        self.mouth_bend = torch.tensor([2.2, 1.6, 0.0, 0.0])[kind].view(n, 1, 1)
        width = torch.tensor([0.11, 0.10, 0.07, 0.045])[kind].view(n, 1, 1)
        self.mouth_width = width * (0.85 + 0.3 * col(9))
        self.mouth_thick = torch.tensor([0.014, 0.05, 0.012, 0.045])[kind].view(n, 1, 1)
        self.mouth_y = 0.36 + 0.03 * col(10)

        bg = _hsv(u[:, 11], 0.2 + 0.35 * u[:, 12], 0.62 + 0.33 * u[:, 13])
        self.bg = torch.tensor(bg, dtype=torch.float32).view(n, 3, 1, 1)
        self.bg_variant = col(14)
        clothes = _hsv(u[:, 15], 0.3 + 0.5 * u[:, 16], 0.3 + 0.6 * u[:, 17])
        self.clothes = torch.tensor(clothes, dtype=torch.float32).view(n, 3, 1, 1)

    def window(self, x0: float, x1: float, y0: float, y1: float) -> tuple[slice, slice]:
        """The rows and columns that hold the face-unit box [x0, x1] x [y0, y1] in every image.

        Small features are drawn inside it only, which saves most of their cost.
        """
        corners = np.array([[x0, y0], [x0, y1], [x1, y0], [x1, y1]])
        cos, sin = np.cos(self.angle)[:, None], np.sin(self.angle)[:, None]
        s = self.scale[:, None]
        img_x = self.cx[:, None] + s * (corners[:, 0] * cos - corners[:, 1] * sin)
        img_y = self.cy[:, None] + s * (corners[:, 0] * sin + corners[:, 1] * cos)
        h, w = self.size
        c0, c1 = img_x.min() * self.half + w / 2 - 2, img_x.max() * self.half + w / 2 + 2
        r0, r1 = img_y.min() * self.half + h / 2 - 2, img_y.max() * self.half + h / 2 + 2
        rows = slice(int(np.clip(np.floor(r0), 0, h)), int(np.clip(np.ceil(r1), 0, h)))
        cols = slice(int(np.clip(np.floor(c0), 0, w)), int(np.clip(np.ceil(c1), 0, w)))
        return rows, cols

    def head(self):
        """The face: an ellipse whose lower half narrows towards the chin."""
        narrow = (self.y * (1.0 / HEAD_B)).clamp_(min=0.0).square_().mul_(-0.28).add_(1.0)
        return _ellipse(self.x / narrow, self.y, 0.0, 0.0, HEAD_A, HEAD_B)

    def body(self):
        """Neck and shoulders."""
        neck = _box(self.x, self.y, 0.0, 0.62, 0.13, 0.3)
        shoulders = _ellipse(self.x, self.y, 0.0, 1.02, 0.78, 0.36)
        return neck, shoulders

    def hair_shapes(self):
        """Signed distances of the hair behind the head and in front of it, style by style.

        Each style is evaluated only on its own images, so the cost is that of one style.
        """
        back = torch.full_like(self.x, FAR)
        front = torch.full_like(self.x, FAR)
        # render_batch sorts images by style, so each style is one run of images: slices are
        # views, where picking scattered images would copy
        styles = self.hair_style.numpy()
        edges = [0, *(np.flatnonzero(np.diff(styles)) + 1), len(styles)]
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            behind, before = _hair_shapes(int(styles[a]), self.x[a:b], self.y[a:b], self.side[a:b])
            if behind is not None:
                back[a:b] = behind
            front[a:b] = before
        return back, front


class _Patch:
    """Face coordinates and image pixels of one window (see ``_Faces.window``)."""

    def __init__(self, faces: _Faces, img: torch.Tensor, box: tuple[float, float, float, float]):
        self.rows, self.cols = rows, cols = faces.window(*box)
        self.x, self.y = faces.x[:, rows, cols], faces.y[:, rows, cols]
        self.fx = self.x - faces.turn  # feature coordinates follow the head turn
        self.mx = self.fx.abs()  # mirrored: both eyes (and brows, cheeks) from one evaluation
        self.ex = self.mx - faces.eye_dx  # centred on the eyes
        self.img = img[:, :, rows, cols]


FEATURES_BOX = (-0.42, 0.42, -0.16, 0.5)  # eyes, brows, cheeks, nose and mouth


def _hair_shapes(style: int, x, y, side):
    """(behind-the-head, in-front) distances of one hair style; None when a layer is empty."""
    cap = _ellipse(x, y, 0.0, -0.03, 0.47, 0.55)  # the hair covering the top of the skull
    ax = x.abs()
    if style == 0:  # short: a high, even hairline with sideburns
        return None, torch.maximum(cap, y + 0.22 - 1.0 * (ax - 0.3).clamp(min=0.0))
    if style == 1:  # long: a middle parting, locks framing the face, hair down to the shoulders
        back = torch.minimum(
            _ellipse(x, y, 0.0, -0.05, 0.53, 0.58), _box(x, y, 0.0, 0.55, 0.53, 0.65)
        )
        parted = torch.maximum(cap, y + 0.36 - 0.9 * ax)
        locks = _box(ax, y, 0.45, 0.2, 0.07, 0.42)
        return back, torch.minimum(parted, locks)
    if style == 2:  # bob: blunt fringe and a rounded cut at the chin
        back = torch.maximum(_ellipse(x, y, 0.0, 0.0, 0.57, 0.6), y - 0.4)
        return back, torch.maximum(cap, y + 0.1)
    if style == 3:  # spiky: spikes all around the crown and a zigzag fringe
        r = (x * x + (y + 0.05).square_()).sqrt_().clamp_(min=1e-6)
        turns = x / r * 2.5  # the sine of the angle from the top stands in for the angle
        spikes = 0.5 + 0.24 * (1.0 - 2.0 * (turns - turns.floor() - 0.5).abs())
        fringe = -0.16 + 0.12 * (2.0 * (x * 4.0 - (x * 4.0).floor() - 0.5)).abs()
        return None, torch.maximum((r - spikes) * 0.6, y - fringe)
    if style == 4:  # bun: hair pulled back from a high hairline into a bun on top
        pulled = torch.maximum(cap, y + 0.26)
        return None, torch.minimum(pulled, _ellipse(x, y, 0.0, -0.68, 0.2, 0.19))
    if style == 5:  # side-swept: a diagonal fringe falling towards one side, down to the jaw
        back = torch.maximum(_ellipse(x, y, 0.0, -0.02, 0.5, 0.58), y - 0.18)
        lock = _ellipse(x * side, y, 0.4, 0.1, 0.1, 0.34)
        return back, torch.minimum(torch.maximum(cap, y + 0.14 - 0.36 * side * x), lock)
    if style == 6:  # twin tails: two long tails tied at the sides of the head
        tails = _ellipse(ax, y, 0.58, 0.3, 0.16, 0.56)
        ties = _ellipse(ax, y, 0.48, -0.22, 0.07, 0.07)
        return torch.minimum(tails, ties), torch.maximum(cap, y + 0.12 - 0.3 * x * x)
    if style == 7:  # afro: a large round volume
        return _ellipse(x, y, 0.0, -0.12, 0.74, 0.74), torch.maximum(cap, y + 0.24 - 0.5 * x * x)
    if style == 8:  # mohawk: a tall narrow crest, shaved sides
        crest = _box(x, y, 0.0, -0.55, 0.085, 0.32)
        return None, torch.minimum(crest, _ellipse(x, y, 0.0, -0.86, 0.085, 0.06))
    # side ponytail: one long tail on one side
    tail = _ellipse(x * side, y, 0.6, 0.18, 0.16, 0.5)
    back = torch.minimum(tail, torch.maximum(_ellipse(x, y, 0.0, -0.02, 0.5, 0.57), y))
    return back, torch.maximum(cap, y + 0.15 - 0.2 * side * x)


# ---------------------------------------------------------------------------------------------
# the two styles


def _render_anime(f: _Faces) -> torch.Tensor:
    """Flat cel colours, dark outlines, large eyes with highlights, plain background."""
    n, (h, w) = f.n, f.size
    line = (f.px * 1.1).clamp(min=0.03)  # outline width: about a pixel, never vanishing
    aa = f.px  # a one-pixel edge: crisp but antialiased
    img = f.bg.expand(n, 3, h, w).clone()
    # half the backgrounds get a simple two-tone diagonal split
    split = (f.xs * 0.6 + f.ys) > (f.u[:, 18].view(n, 1, 1) - 0.5)
    _paint(img, f.bg * 0.85 + 0.15, (split & (f.bg_variant < 0.5)).float())

    def outlined(im, d, colour):
        _paint(im, INK, _coverage(d - line, aa))
        _paint(im, colour, _coverage(d, aa))

    back, front = f.hair_shapes()
    outlined(img, back, f.hair * 0.82)  # hair seen from behind is a shade darker
    neck, shoulders = f.body()
    outlined(img, neck, f.skin * 0.85)
    outlined(img, shoulders, f.clothes)
    head = f.head()
    outlined(img, head, f.skin)
    # the hard-edged shadow that the fringe casts on the forehead
    _paint(img, f.skin * CEL_SHADOW, _coverage(front - 0.07, aa).mul_(_coverage(head, aa)))

    p = _Patch(f, img, FEATURES_BOX)
    _paint(p.img, BLUSH, _coverage(_ellipse(p.ex, p.y, 0.04, 0.25, 0.08, 0.035), aa).mul_(0.5))
    # eyes: large, a thick upper lash line, big iris, pupil and two white highlights
    eye = _ellipse(p.ex, p.y, 0.0, EYE_Y, 0.1, 0.14)
    lash = torch.maximum(_ellipse(p.ex, p.y, 0.0, EYE_Y - 0.01, 0.125, 0.15), p.y - (EYE_Y - 0.06))
    _paint(p.img, INK, _coverage(torch.minimum(eye - line, lash), aa))
    _paint(p.img, WHITE, _coverage(eye, aa))
    iris = torch.maximum(_ellipse(p.ex, p.y, 0.0, EYE_Y + 0.015, 0.075, 0.115), eye)
    darker_top = ((p.y - (EYE_Y - 0.1)) * 5.0).clamp_(0.0, 1.0).mul_(0.3).add_(0.7)
    _paint(p.img, f.eye * darker_top.unsqueeze(1), _coverage(iris, aa))
    pupil = _ellipse(p.ex, p.y, 0.0, EYE_Y + 0.03, 0.035, 0.055)
    _paint(p.img, f.eye * 0.3, _coverage(pupil, aa))
    glint = torch.minimum(
        _ellipse(p.ex, p.y, -0.03, EYE_Y - 0.03, 0.03, 0.03),
        _ellipse(p.ex, p.y, 0.03, EYE_Y + 0.06, 0.015, 0.015),
    )
    _paint(p.img, WHITE, _coverage(glint, aa))
    brow = _stroke(p.ex, p.y, EYE_Y - 0.2, 1.2, 0.1, 0.012 + 0.3 * line)
    _paint(p.img, f.hair * 0.55, _coverage(brow, aa))
    # nose: a small tick; mouth: an ink line, filled when open
    _paint(p.img, f.skin * 0.6, _coverage(_box(p.fx, p.y, 0.012, NOSE_Y, 0.008, 0.02), aa))
    mouth = _stroke(p.fx, p.y, f.mouth_y, f.mouth_bend, f.mouth_width, f.mouth_thick)
    _paint(p.img, INK, _coverage(mouth, aa))
    _paint(p.img, TONGUE, _coverage(mouth + line, aa))

    # hair in front, with the classic shine band across the crown
    outlined(img, front, f.hair)
    top = _Patch(f, img, (-0.6, 0.6, -0.5, -0.15))
    ring = (top.x * top.x + (top.y + 0.05).square_()).sqrt_().sub_(0.4).abs_().sub_(0.03)
    shine = _coverage(torch.maximum(ring, top.y + 0.2), aa)
    shine.mul_(_coverage(front[:, top.rows, top.cols] + line, aa))
    _paint(top.img, f.hair * 0.6 + 0.4, shine)
    return img


def _bump(t: torch.Tensor, width: float) -> torch.Tensor:
    """A smooth bump, 1 at t = 0 falling to 0 at |t| = width (a cheap, exact stand-in for a
    Gaussian)."""
    return (t * (1.0 / width)).square_().neg_().add_(1.0).clamp_(min=0.0).square_()


def _photo_background(f: _Faces) -> torch.Tensor:
    """A vertical gradient with three large out-of-focus blobs. Each blob is a product of a
    horizontal and a vertical bump, so it costs one pass over the pixels."""
    n, (h, w) = f.n, f.size
    img = (f.bg * (1.1 - 0.25 * (f.ys + 1.0).unsqueeze(1))).expand(n, 3, h, w).clone()
    for k in range(3):
        bx = (f.u[:, 18 + k].view(n, 1, 1) - 0.5) * 2.4
        by = (f.u[:, 21 + k].view(n, 1, 1) - 0.5) * 2.0 - 0.3
        width = 1.0 - 0.2 * k
        blob = _bump(f.ys - by, width).mul_(0.55) * _bump(f.xs - bx, width)
        _paint(img, torch.roll(f.bg, k + 1, dims=1) * 0.5 + 0.45, blob)
    return img


def _photo_features(f: _Faces, img: torch.Tensor, shade: torch.Tensor, soft: torch.Tensor) -> None:
    """Paints a photo's nose shading, eyes, brows and lips into ``img`` and ``shade``."""
    aa = f.px
    p = _Patch(f, img, FEATURES_BOX)
    nose = _bump(p.fx - 0.03, 0.05).mul_(_bump(p.y - NOSE_Y, 0.09))
    shade[:, p.rows, p.cols].mul_(nose.mul_(-0.3).add_(1.0))
    # eyes: small almond whites, an iris, a pupil, a lid line and a soft crease
    almond = _stroke(p.ex, p.y, EYE_Y, 0.0, 0.095, 0.05)
    crease = _stroke(p.ex, p.y, EYE_Y - 0.06, 2.5, 0.11, 0.02)
    _paint(p.img, f.skin * 0.7, _coverage(crease, soft).mul_(0.6))
    _paint(p.img, SCLERA, _coverage(almond, aa))
    iris = torch.maximum(_ellipse(p.ex, p.y, 0.0, EYE_Y, 0.052, 0.052), almond)
    _paint(p.img, f.eye * 0.9, _coverage(iris, aa))
    _paint(p.img, f.eye * 0.25, _coverage(_ellipse(p.ex, p.y, 0.0, EYE_Y, 0.02, 0.02), aa))
    lid = _stroke(p.ex, p.y, EYE_Y - 0.045, 1.0, 0.1, 0.01)
    _paint(p.img, f.skin * 0.35, _coverage(lid, aa))
    brow = _stroke(p.ex, p.y, EYE_Y - 0.17, 1.5, 0.12, 0.028)
    _paint(p.img, f.hair * 0.6, _coverage(brow, soft).mul_(0.85))
    # lips: a darker, redder skin tone; open mouths show a dark inside
    mouth = _stroke(p.fx, p.y, f.mouth_y, f.mouth_bend, f.mouth_width, f.mouth_thick + 0.01)
    _paint(p.img, f.skin * LIPS, _coverage(mouth, soft))
    _paint(p.img, f.skin * LIPS * 0.35, _coverage(mouth + 0.02, aa))


def _add_grain(f: _Faces, img: torch.Tensor, figure: torch.Tensor) -> None:
    """Skin and hair texture plus faint grain: a crop of a fixed noise tile at a random offset,
    stronger where ``figure`` covers the image (the background stays smooth). Uses up
    ``figure``."""
    n, (h, w) = f.n, f.size
    oy = (f.u[:, 22] * 256).long().view(n, 1, 1)
    ox = (f.u[:, 23] * 256).long().view(n, 1, 1)
    rows = (torch.arange(h).view(1, h, 1) + oy) % 256
    cols = (torch.arange(w).view(1, 1, w) + ox) % 256
    grain = _TILE[rows, cols].mul_(figure.mul_(0.028).add_(0.012))
    img += grain.unsqueeze(1)


def _render_photo(f: _Faces) -> torch.Tensor:
    """Soft shading, small realistic eyes, textured skin and a blurred background.

    Layers are painted in flat colours while a one-channel shading map is composited alongside;
    the image is multiplied by it once at the end, which is much cheaper than shading each layer's
    colours. Eyes and mouth take the shading of the skin under them.
    """
    n = f.n
    soft = f.px * 1.8  # soft edges everywhere but the eyes
    img = _photo_background(f)
    shade = torch.ones_like(f.x)

    def layer(colour, cover, tone):
        _paint(img, colour, cover)
        shade.lerp_(tone, cover)

    # lighting: a soft radial falloff from a light above and to one side
    light_x = (f.u[:, 19].view(n, 1, 1) - 0.5) * 0.6
    lit = (f.x - light_x).square_().add_((f.y + 0.35).square_()).mul_(-0.75).add_(1.15)
    lit.clamp_(0.5, 1.12)

    back, front = f.hair_shapes()
    figure = _coverage(back, soft)  # where skin and hair are, which get texture
    layer(f.hair * 0.75, figure, lit)
    neck, shoulders = f.body()
    neck = _coverage(neck, soft)
    figure = torch.maximum(figure, neck)
    layer(f.skin * 0.78, neck, ONE)
    layer(f.clothes, _coverage(shoulders, soft), (f.y - 0.75).mul_(-0.35).add_(1.15))
    head = f.head()
    face = _coverage(head, soft)
    figure = torch.maximum(figure, face)
    rim = (head * (-1 / 0.15)).clamp_(0.0, 1.0).mul_(0.28).add_(0.72)  # darker towards the edge
    layer(f.skin, face, rim.mul_(lit))
    # the soft shadow under the fringe
    shade.mul_((front * (1 / 0.15)).sub_(1.0).clamp_(-1.0, 0.0).mul_(0.45).mul_(face).add_(1.0))

    _photo_features(f, img, shade, soft)

    # hair in front, shaded like the head
    hair = _coverage(front, soft)
    figure = torch.maximum(figure, hair)
    layer(f.hair, hair, lit)
    img.mul_(shade.unsqueeze(1))
    _add_grain(f, img, figure)
    return img


# ---------------------------------------------------------------------------------------------
# the dataset


@contextmanager
def _one_thread():
    """Renders on one intra-op thread, restoring the caller's setting afterwards.

    The renderer runs hundreds of small elementwise ops per batch. Split over threads they gain
    little, and when another process keeps a core busy every op waits at a thread barrier: two
    threads then ran 50 to 100 times slower than one. Switching costs well under a microsecond.
    """
    threads = torch.get_num_threads()
    if threads != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads != 1:
            torch.set_num_threads(threads)


class ToonFaces(Dataset):
    """Procedural faces in one style; items are uint8 tensors ``[3, H, W]`` (RGB)."""

    def __init__(self, style: str, size: Any, length: int = 20000, seed: int = 0):
        if style not in ("anime", "photo"):
            raise GanzooError(f"unknown toon style {style!r}; choose anime or photo")
        self.style = style
        self.size = _check_size(size)
        if int(length) < 1:
            raise GanzooError(f"toon length must be at least 1, got {length}")
        self.length = int(length)
        self.seed = int(seed)
        self._modes = _modes(self.seed, self.length)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.render_batch([index])[0]

    def __getitems__(self, indices: list[int]) -> list[torch.Tensor]:
        # DataLoader calls this with a whole batch of indices: one vectorised render
        return list(self.render_batch(indices).unbind(0))

    def _indices(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        idx = np.where(idx < 0, idx + self.length, idx)
        if idx.size and (idx.min() < 0 or idx.max() >= self.length):
            raise IndexError(f"toon index out of range for length {self.length}")
        return idx

    def render_batch(self, indices) -> torch.Tensor:
        """Images of ``indices`` as one uint8 tensor ``[N, 3, H, W]``."""
        idx = self._indices(indices)
        h, w = self.size
        out = torch.empty(len(idx), 3, h, w, dtype=torch.uint8)
        render = _render_anime if self.style == "anime" else _render_photo
        # images grouped by hair style, each style drawn on its own run (see hair_shapes)
        order = np.argsort(self._modes[idx] % 10, kind="stable")
        # chunks small enough for the working tensors to stay in cache: about twice as fast
        chunk = max(1, CHUNK_PIXELS // (h * w))
        with torch.no_grad(), _one_thread():
            for start in range(0, len(idx), chunk):
                where = order[start : start + chunk]
                part = idx[where]
                img = render(_Faces(self.seed, part, self._modes[part], self.size))
                out[torch.from_numpy(where)] = img.mul_(255.0).add_(0.5).clamp_(0.0, 255.0).byte()
        return out

    def mode(self, index: int) -> int:
        """hair_colour * 100 + eye_colour * 10 + hair_style, in 0..999."""
        return int(self._modes[self._indices([index])[0]])

    def attributes(self, index: int) -> dict[str, int]:
        mode = self.mode(index)
        return {"hair_colour": mode // 100, "eye_colour": mode // 10 % 10, "hair_style": mode % 10}

    def attribute_array(self, indices=None) -> np.ndarray:
        """``[length, 3]`` of (hair_colour, eye_colour, hair_style); only ``indices`` if given."""
        m = self._modes if indices is None else self._modes[self._indices(indices)]
        m = m.astype(np.int64)
        return np.stack([m // 100, m // 10 % 10, m % 10], axis=1)

    def __repr__(self) -> str:
        h, w = self.size
        return f"ToonFaces({self.style!r}, size=({h}, {w}), length={self.length}, seed={self.seed})"


def _check_size(size: Any) -> tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    try:
        h, w = (int(s) for s in size)
        ok = (h, w) == tuple(size)
    except (TypeError, ValueError):
        ok = False
    if not ok or not (MIN_SIZE <= h <= MAX_SIZE and MIN_SIZE <= w <= MAX_SIZE):
        raise GanzooError(
            f"toon renders sizes from {MIN_SIZE} to {MAX_SIZE} pixels per side, got {size!r}"
        )
    return h, w


def toon_anime(size=(64, 64), root=None, length: int = 20000, seed: int = 0) -> ToonFaces:
    """Anime-style faces (the target domain). ``root`` is ignored: nothing is read from disk."""
    return ToonFaces("anime", size, length, seed)


def toon_photo(size=(64, 64), root=None, length: int = 20000, seed: int = 0) -> ToonFaces:
    """Photo-style faces (the source domain); index i shows the same face as in toon_anime."""
    return ToonFaces("photo", size, length, seed)


def contact_sheet(path: str, size: int = 64, count: int = 64, seed: int = 0) -> None:
    """Saves a PNG of the first ``count`` faces: photo style on the left, anime on the right."""
    from PIL import Image
    from torchvision.utils import make_grid

    idx = np.arange(count)
    nrow = int(np.ceil(np.sqrt(count)))
    grids = [
        make_grid(
            ToonFaces(style, (size, size), count, seed).render_batch(idx), nrow, 2, pad_value=255
        )
        for style in ("photo", "anime")
    ]
    gap = torch.full((3, grids[0].shape[1], 8), 255, dtype=torch.uint8)
    sheet = torch.cat([grids[0], gap, grids[1]], dim=2).permute(1, 2, 0).numpy()
    Image.fromarray(sheet).save(path)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="write a contact sheet of both toon styles")
    parser.add_argument("--out", default="/tmp/toon_grid.png")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    contact_sheet(args.out, args.size, seed=args.seed)
    print(args.out)
