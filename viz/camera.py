"""The window's camera: an orthographic orbit around the scene's centre.

Orthographic, so that a length on screen is the same µm wherever it is (the scale bar
holds for the whole view).  ``azimuth`` turns about the screen's vertical axis,
``elevation`` about its horizontal one (degrees); ``zoom`` 1 fits the scene's bounding
sphere in the viewport; ``pan`` moves the picture (normalized device coordinates).
"""

import numpy as np


def _turn(axis, degrees):
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    i, j = [(1, 2), (0, 2), (0, 1)][axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


class OrbitCamera:
    def __init__(self, lo, hi, margin=0.05):
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        self.centre = (lo + hi) / 2.0
        self.radius = max(float(np.linalg.norm(hi - lo)) / 2.0, 1e-6)
        self.margin = margin
        self.reset()

    def reset(self, azimuth=0.0, elevation=0.0):
        """Look down -z (the xy plane, y up), the whole scene in view."""
        self.azimuth, self.elevation, self.zoom = azimuth, elevation, 1.0
        self.pan = np.zeros(2)

    def rotation(self):
        return _turn(0, self.elevation) @ _turn(1, self.azimuth)

    def scale(self):
        """Normalized device units per µm along the viewport's height."""
        return self.zoom * (1.0 - self.margin) / self.radius

    def pixels_per_um(self, height):
        return self.scale() * height / 2.0

    def transform(self, width, height):
        """4 x 4, clip = transform @ (x, y, z, 1) for a viewport of width x height pixels;
        depth spans the bounding sphere, nearer smaller."""
        s = self.scale()
        m = np.eye(4)
        m[:3, :3] = np.diag([s * height / max(width, 1), s, -1.0 / self.radius]) @ \
            self.rotation()
        m[:3, 3] = -(m[:3, :3] @ self.centre)
        m[0, 3] += self.pan[0]
        m[1, 3] += self.pan[1]
        return m.astype(np.float32)

    def drag(self, dx, dy, degrees_per_pixel=0.4):
        """Turn by a mouse drag of (dx, dy) pixels."""
        self.azimuth = (self.azimuth + dx * degrees_per_pixel) % 360.0
        self.elevation = float(np.clip(self.elevation + dy * degrees_per_pixel, -90.0, 90.0))

    def move(self, dx, dy, width, height):
        """Pan by (dx, dy) pixels."""
        self.pan += (2.0 * dx / max(width, 1), -2.0 * dy / max(height, 1))

    def scroll(self, steps):
        self.zoom = float(np.clip(self.zoom * 1.15 ** steps, 0.05, 500.0))


def nice_length(um):
    """The largest 1, 2 or 5 x 10^k µm not above ``um``."""
    if um <= 0:
        return 0.0
    k = np.floor(np.log10(um))
    for m in (5.0, 2.0, 1.0):
        if m * 10 ** k <= um:
            return float(m * 10 ** k)
    return float(10 ** k)


def scale_bar(pixels_per_um, near_px):
    """A scale bar's (length in µm, length in pixels): the round length nearest below
    ``near_px`` pixels (orthographic: it holds everywhere in the view)."""
    length = nice_length(near_px / max(pixels_per_um, 1e-12))
    return length, length * pixels_per_um
