"""What makes a headless picture stand alone: a title, a colour bar with its units, the
simulated time and a scale bar in µm, composited onto a rendered frame.

Everything but the time is drawn once per picture or movie (``Overlay`` keeps it as an
RGBA layer and the pixels it covers); each frame blends those pixels and writes the time
into a small box.  Text is drawn with PIL in matplotlib's DejaVu Sans (it has µ).
"""

import os

import numpy as np

from neurosim.viz.camera import scale_bar
from neurosim.viz.render import colormap_table

UNITS = {"v": "V (mV)", "V_m": "V_m (mV)", "cai": "[Ca2+]i (mM)", "ik": "I_K (mA/cm2)",
         "ina": "I_Na (mA/cm2)"}


def units_of(variable):
    """The colour bar's label for a report variable."""
    return UNITS.get(variable, variable)


def time_text(t):
    return f"t = {t:.1f} ms"


def _font(size):
    from PIL import ImageFont
    import matplotlib
    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return ImageFont.load_default()


class Overlay:
    """``Overlay(size, pixels_per_um, colormap, vmin, vmax, units, title)``;
    ``apply(image, t)`` -> the (h, w, 4) uint8 frame with the overlay and the time."""

    def __init__(self, size, pixels_per_um, colormap="viridis", vmin=-80.0, vmax=40.0,
                 units="V (mV)", title="", font_size=None):
        from PIL import Image, ImageDraw
        w, h = (int(s) for s in size)
        self.size = (w, h)
        fs = font_size or max(9, min(16, h // 32))
        self.font = _font(fs)
        layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        d = ImageDraw.Draw(layer)
        pad = max(4, fs // 2)
        if title:
            d.text((pad, pad), title, font=self.font, fill=(255, 255, 255, 255))
        # the colour bar, bottom left: the colormap's ramp, vmin and vmax under it, units
        cw, ch = max(40, min(200, w // 3)), max(6, fs - 2)
        cx, cy = pad, h - pad - fs - 4 - ch
        d.rectangle((cx - 2, cy - fs - 6, cx + cw + 2, h - 1), fill=(0, 0, 0, 140))
        table = colormap_table(colormap)
        ramp = table[np.linspace(0, 255, cw).round().astype(int)]
        layer.paste(Image.fromarray(np.repeat(ramp[None], ch, axis=0)), (cx, cy))
        self.colorbar = (cx, cy, cw, ch)
        d.text((cx, cy - fs - 3), units, font=self.font, fill=(255, 255, 255, 255))
        d.text((cx, cy + ch + 2), f"{vmin:g}", font=self.font, fill=(255, 255, 255, 255))
        d.text((cx + cw, cy + ch + 2), f"{vmax:g}", font=self.font,
               fill=(255, 255, 255, 255), anchor="ra")
        # the scale bar, bottom right: a round length near a fifth of the width
        self.scale_um, length = scale_bar(pixels_per_um, w / 5.0)
        length = int(round(length))
        if length >= 2:
            bx, by = w - pad - length, h - pad - 4
            d.rectangle((bx, by - 3, bx + length - 1, by), fill=(255, 255, 255, 255))
            d.text((bx + length, by - 6), f"{self.scale_um:g} µm", font=self.font,
                   fill=(255, 255, 255, 255), anchor="rb")
            self.scalebar = (bx, by - 3, length, 4)
        else:
            self.scalebar = None
        rgba = np.asarray(layer)
        self.where = np.nonzero(rgba[..., 3])
        self.rgb = rgba[self.where][:, :3].astype(np.float32)
        self.alpha = rgba[self.where][:, 3:4].astype(np.float32) / 255.0
        # the time, top right: a box wide enough for "t = 99999.9 ms"
        tw = int(d.textlength(time_text(99999.9), font=self.font)) + 2 * pad
        self.time_box = (w - tw - pad, pad, tw, fs + pad)

    def apply(self, image, t=None):
        from PIL import Image, ImageDraw
        out = np.array(image, dtype=np.uint8, copy=True)
        if out.shape[2] == 3:
            out = np.concatenate([out, np.full(out.shape[:2] + (1,), 255, np.uint8)], axis=2)
        under = out[self.where][:, :3].astype(np.float32)
        out[self.where + (slice(0, 3),)] = \
            (under * (1.0 - self.alpha) + self.rgb * self.alpha).round().astype(np.uint8)
        if t is not None:
            x, y, bw, bh = self.time_box
            box = Image.new("RGB", (bw, bh), (0, 0, 0))
            ImageDraw.Draw(box).text((bw - 2, bh // 2), time_text(t), font=self.font,
                                     fill=(255, 255, 255), anchor="rm")
            out[y:y + bh, x:x + bw, :3] = np.asarray(box)
            out[y:y + bh, x:x + bw, 3] = 255
        return out
