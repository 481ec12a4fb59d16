"""Colour of a video: one conversion to RGB and back, the same for every frame.

A decoded frame is Y'CbCr with a *matrix* (BT.709, BT.601, BT.2020), a *range*
(limited 16-235 or full 0-255) and a *transfer* (SDR gamma, PQ, HLG). veil converts
every frame it looks at or masks to RGB with exactly those values, and back with the
same ones, and tags the output stream with them, so a frame with a mask and a frame
without one come out with the same levels (a full-range clip no longer flickers).

What the stream does not say is guessed the way players guess it: BT.709 for HD
(width >= 1280 or height >= 720), BT.601 below; limited range unless the pixel format
is a ``yuvj`` one.

HDR input (PQ or HLG transfer) is written as 8-bit SDR BT.709, limited range, with
the simple tone map of :func:`tone_map_hdr`: the picture is made linear (PQ: absolute
light; HLG: a 1000-nit display), BT.2020 primaries are turned into BT.709 ones, the
reference white of BT.2408 (203 nits) becomes SDR white's 90 %, light above it rolls
off smoothly towards white, and the BT.709 / BT.1886 gamma (2.4) is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# FFmpeg's AVColorSpace / AVColorRange / AVColorPrimaries / AVColorTransferCharacteristic
SPC_BT709, SPC_UNSPECIFIED, SPC_BT470BG, SPC_SMPTE170M, SPC_SMPTE240M = 1, 2, 5, 6, 7
SPC_FCC, SPC_BT2020_NCL, SPC_BT2020_CL = 4, 9, 10
RANGE_UNSPECIFIED, RANGE_LIMITED, RANGE_FULL = 0, 1, 2
PRI_BT709, PRI_UNSPECIFIED, PRI_SMPTE170M, PRI_BT2020 = 1, 2, 6, 9
TRC_BT709, TRC_UNSPECIFIED, TRC_SMPTE170M, TRC_PQ, TRC_HLG = 1, 2, 6, 16, 18

# swscale's matrix numbers (SWS_CS_*) for each AVColorSpace it knows
_SWS = {SPC_BT709: 1, SPC_FCC: 4, SPC_BT470BG: 5, SPC_SMPTE170M: 5, SPC_SMPTE240M: 7,
        SPC_BT2020_NCL: 9, SPC_BT2020_CL: 9}

#: SDR white in nits for HDR input (ITU-R BT.2408 reference white)
REFERENCE_WHITE_NITS = 203.0
#: what the reference white becomes on the SDR scale (linear light, 1.0 = peak white)
REFERENCE_WHITE_SDR = 0.9
#: below this (linear, SDR scale) light is kept as it is; above, it rolls off to 1.0
SHOULDER = 0.75
#: HLG is shown as on a display of this peak (nits), BT.2100's reference
HLG_PEAK_NITS = 1000.0

def _interpolation() -> Any:
    """Accurate rounding, and chroma at full resolution: without them swscale's RGB
    round trip moves limited-range levels by about one (measured: -1.1 on luma)."""
    from av.video.reformatter import Interpolation

    return (Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.BITEXACT
            | Interpolation.FULL_CHR_H_INT | Interpolation.FULL_CHR_H_INP)


_BT2020_TO_BT709 = np.array([[1.6605, -0.5876, -0.0728],
                             [-0.1246, 1.1329, -0.0083],
                             [-0.0182, -0.1006, 1.1187]], np.float32)


@dataclass(frozen=True)
class Colour:
    """How a stream's pixels are to be read (``matrix``/``range``) and what to tag.

    ``matrix``, ``range``, ``primaries`` and ``trc`` are FFmpeg's enumeration values
    of the *input*, with the unspecified ones resolved (see the module docstring).
    ``hdr`` is ``"pq"``, ``"hlg"`` or ``None``.
    """

    matrix: int
    range: int
    primaries: int
    trc: int
    hdr: str | None = None
    bits: int = 8

    @property
    def full_range(self) -> bool:
        return self.range == RANGE_FULL

    @property
    def out(self) -> Colour:
        """What the output is written as: the same (SDR), or SDR BT.709 limited (HDR)."""
        if self.hdr is None:
            return Colour(self.matrix, self.range, self.primaries, self.trc, None, 8)
        return Colour(SPC_BT709, RANGE_LIMITED, PRI_BT709, TRC_BT709, None, 8)

    @property
    def sws_matrix(self) -> int:
        return _SWS.get(self.matrix, 1)

    def describe(self) -> str:
        names = {SPC_BT709: "BT.709", SPC_BT470BG: "BT.601", SPC_SMPTE170M: "BT.601",
                 SPC_SMPTE240M: "SMPTE 240M", SPC_FCC: "FCC", SPC_BT2020_NCL: "BT.2020",
                 SPC_BT2020_CL: "BT.2020"}
        rng = "full" if self.full_range else "limited"
        hdr = f", {self.hdr.upper()}" if self.hdr else ""
        return f"{names.get(self.matrix, 'BT.709')} {rng} range{hdr}, {self.bits}-bit"

    def to_dict(self) -> dict[str, Any]:
        return {"matrix": self.matrix, "range": self.range, "primaries": self.primaries,
                "trc": self.trc, "hdr": self.hdr, "bits": self.bits,
                "text": self.describe()}

    # -- conversions ------------------------------------------------------------------
    def to_rgb(self, frame: Any, threads: int | None = None) -> np.ndarray:
        """RGB ``uint8`` ``(H, W, 3)`` of a decoded frame, read with this colour.
        ``threads``: swscale's threads (``None``: PyAV's default, automatic)."""
        if self.hdr is not None:
            rgb16 = frame.to_ndarray(format="rgb48le", src_colorspace=self.sws_matrix,
                                     dst_colorspace=self.sws_matrix,
                                     src_color_range=self.range,
                                     dst_color_range=RANGE_FULL,
                                     interpolation=_interpolation(), threads=threads)
            return tone_map_hdr(rgb16, self.hdr)
        return frame.to_ndarray(format="rgb24", src_colorspace=self.sws_matrix,
                                dst_colorspace=self.sws_matrix, src_color_range=self.range,
                                dst_color_range=RANGE_FULL, interpolation=_interpolation(),
                                threads=threads)

    def from_rgb(self, rgb: np.ndarray, threads: int | None = None) -> Any:
        """A ``yuv420p`` frame of RGB pixels, written with the output's matrix and range.
        ``threads``: swscale's threads (``None``: PyAV's default, automatic)."""
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        return self.yuv_of_rgb_frame(frame, threads)

    def yuv_of_rgb_frame(self, frame: Any, threads: int | None = None) -> Any:
        """:meth:`from_rgb` of an ``rgb24`` frame (the new frame keeps that frame's
        other properties, such as its chroma siting)."""
        out = self.out
        return frame.reformat(format="yuv420p", src_colorspace=out.sws_matrix,
                              dst_colorspace=out.sws_matrix, src_color_range=RANGE_FULL,
                              dst_color_range=out.range, interpolation=_interpolation(),
                              threads=threads)

    def passthrough(self, frame: Any, threads: int | None = None) -> Any | None:
        """The decoded frame as ``yuv420p`` with no level change, or ``None`` when it
        needs the RGB path (HDR, more than 8 bits). ``threads``: swscale's threads."""
        if self.hdr is not None or self.bits > 8:
            return None
        name = frame.format.name
        if name == "yuv420p":
            return frame
        if name in ("yuvj420p", "nv12", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"):
            # Y'CbCr to Y'CbCr with the same range: only the chroma is resampled.
            return frame.reformat(format="yuv420p", src_colorspace=self.sws_matrix,
                                  dst_colorspace=self.sws_matrix, src_color_range=self.range,
                                  dst_color_range=self.range, threads=threads)
        return None


def _bits(frame: Any) -> int:
    try:
        return max(int(c.bits) for c in frame.format.components)
    except (AttributeError, TypeError, ValueError):
        return 8


def colour_of(frame: Any, coded_width: int, coded_height: int) -> Colour:
    """The :class:`Colour` of a stream, from its first decoded frame."""
    pix = frame.format.name if frame.format is not None else None
    spc = int(frame.colorspace or SPC_UNSPECIFIED)
    hd = coded_width >= 1280 or coded_height >= 720
    if spc not in _SWS:
        spc = SPC_BT709 if hd else SPC_SMPTE170M
    rng = int(frame.color_range or RANGE_UNSPECIFIED)
    if rng not in (RANGE_LIMITED, RANGE_FULL):
        rng = RANGE_FULL if pix and pix.startswith("yuvj") else RANGE_LIMITED
    trc = int(frame.color_trc or TRC_UNSPECIFIED)
    hdr = "pq" if trc == TRC_PQ else "hlg" if trc == TRC_HLG else None
    pri = int(frame.color_primaries or PRI_UNSPECIFIED)
    if pri in (PRI_UNSPECIFIED, 0) or pri > 22:
        pri = (PRI_BT2020 if spc in (SPC_BT2020_NCL, SPC_BT2020_CL)
               else PRI_BT709 if spc == SPC_BT709 else PRI_SMPTE170M)
    if trc in (TRC_UNSPECIFIED, 0) or trc > 18:
        trc = TRC_BT709 if spc in (SPC_BT709, SPC_BT2020_NCL, SPC_BT2020_CL) \
            else TRC_SMPTE170M
    return Colour(spc, rng, pri, trc, hdr, _bits(frame))


# -- HDR to SDR ---------------------------------------------------------------------------
def _pq_to_nits(e: np.ndarray) -> np.ndarray:
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.power(np.clip(e, 0, 1), 1 / m2)
    return 10000.0 * np.power(np.maximum(p - c1, 0) / (c2 - c3 * p), 1 / m1)


def _hlg_to_scene(e: np.ndarray) -> np.ndarray:
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    e = np.clip(e, 0, 1)
    return np.where(e <= 0.5, e * e / 3.0, (np.exp((e - c) / a) + b) / 12.0)


_LUTS: dict[str, np.ndarray] = {}


def _linear_lut(kind: str) -> np.ndarray:
    """16-bit code value → linear light on the SDR scale (1.0 = SDR peak white)."""
    if kind not in _LUTS:
        e = np.arange(65536, dtype=np.float64) / 65535.0
        if kind == "pq":
            lin = _pq_to_nits(e) / REFERENCE_WHITE_NITS * REFERENCE_WHITE_SDR
        else:  # HLG: scene light; the system gamma is applied on luminance later
            lin = _hlg_to_scene(e)
        _LUTS[kind] = lin.astype(np.float32)
    return _LUTS[kind]


def tone_map_hdr(rgb16: np.ndarray, kind: str) -> np.ndarray:
    """8-bit SDR BT.709 RGB of 16-bit BT.2020 PQ/HLG R'G'B' (see the module docstring)."""
    lin = _linear_lut(kind)[rgb16]  # (H, W, 3) float32
    lin = lin @ _BT2020_TO_BT709.T
    np.maximum(lin, 0, out=lin)
    y = lin @ np.array([0.2627, 0.6780, 0.0593], np.float32) if kind == "hlg" else None
    if y is not None:  # HLG OOTF for a 1000-nit display, then onto the SDR scale
        gain = HLG_PEAK_NITS * np.power(np.maximum(y, 1e-6), 0.2) \
            / REFERENCE_WHITE_NITS * REFERENCE_WHITE_SDR
        lin *= gain[..., None]
    lum = lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    k = SHOULDER
    rolled = np.where(lum <= k, lum, k + (1 - k) * (1 - np.exp(-(lum - k) / (1 - k))))
    scale = np.where(lum > 1e-6, rolled / np.maximum(lum, 1e-6), 1.0).astype(np.float32)
    lin *= scale[..., None]
    np.clip(lin, 0, 1, out=lin)
    out = np.power(lin, 1 / 2.4) * 255.0 + 0.5
    return out.astype(np.uint8)
