"""Draw a Scene with OpenGL through vispy's gloo: one draw call for all compartments.

Every compartment is a tube of ``sides`` quads around its cone's axis, built once; each
vertex carries its compartment's index.  A frame uploads one float per compartment (a
float texture), and the fragment shader maps it through the colormap (a 256-texel
texture): per frame the bytes moved are 4 per compartment, whatever the mesh.  Picking
draws the same mesh with each compartment's index + 1 as its colour and reads the pixel.

Headless (no display): vispy's EGL backend with Mesa, ``EGL_PLATFORM=surfaceless``; the
window and the images use the same scene code.
"""

import os

import numpy as np

_TEXTURE_WIDTH = 2048

VERTEX = """
uniform mat4 u_transform;
uniform float u_min_radius;      // um: half a pixel, so thin neurites stay visible
attribute vec3 a_centre;         // the point on the compartment's axis
attribute vec3 a_normal;         // the way out from the axis (tubes)
attribute float a_radius;        // um; negative: a line (no width)
attribute float a_index;
varying vec3 v_normal;
varying float v_index;
void main() {
    float r = a_radius < 0.0 ? 0.0 : max(a_radius, u_min_radius);
    gl_Position = u_transform * vec4(a_centre + r * a_normal, 1.0);
    v_normal = normalize(mat3(u_transform) * a_normal);
    v_index = a_index;
}
"""

FRAGMENT = """
uniform sampler2D u_values;      // one float per compartment
uniform sampler2D u_shown;       // 1: drawn, 0: hidden (a population switched off)
uniform sampler2D u_colormap;    // 256 x 1 RGBA
uniform vec2 u_values_shape;     // (width, height) of u_values
uniform float u_vmin;
uniform float u_vmax;
uniform float u_ambient;
uniform int u_pick;
varying vec3 v_normal;
varying float v_index;
void main() {
    float i = floor(v_index + 0.5);
    vec2 at = vec2((mod(i, u_values_shape.x) + 0.5) / u_values_shape.x,
                   (floor(i / u_values_shape.x) + 0.5) / u_values_shape.y);
    if (texture2D(u_shown, at).r < 0.5)
        discard;
    if (u_pick == 1) {
        float k = i + 1.0;
        gl_FragColor = vec4(mod(k, 256.0), mod(floor(k / 256.0), 256.0),
                            floor(k / 65536.0), 255.0) / 255.0;
        return;
    }
    float value = texture2D(u_values, at).r;
    float t = clamp((value - u_vmin) / max(u_vmax - u_vmin, 1e-12), 0.0, 1.0);
    vec4 color = texture2D(u_colormap, vec2((t * 255.0 + 0.5) / 256.0, 0.5));
    float light = u_ambient + (1.0 - u_ambient) * abs(normalize(v_normal).z);
    gl_FragColor = vec4(color.rgb * light, 1.0);
}
"""


def use_headless():
    """vispy on EGL (Mesa, surfaceless) unless a display is there."""
    import vispy
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("EGL_PLATFORM", "surfaceless")
        vispy.use(app="egl")


def colormap_table(name="viridis"):
    """256 RGBA rows (uint8) of a matplotlib colormap."""
    from matplotlib import colormaps
    return (colormaps[name](np.linspace(0.0, 1.0, 256)) * 255).round().astype(np.uint8)


def tube_mesh(scene, sides=8):
    """Vertices (position, normal, compartment index) and triangle indices of every
    compartment's tube."""
    n = len(scene)
    axis = scene.p1 - scene.p0
    length = np.linalg.norm(axis, axis=1, keepdims=True)
    axis = axis / np.maximum(length, 1e-12)
    # two unit vectors across each axis
    helper = np.where(np.abs(axis[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    w = np.cross(axis, u)
    angle = 2.0 * np.pi * np.arange(sides) / sides
    ring = np.cos(angle)[None, :, None] * u[:, None, :] + \
        np.sin(angle)[None, :, None] * w[:, None, :]                  # (n, sides, 3)
    centre = np.concatenate([np.repeat(scene.p0[:, None, :], sides, axis=1),
                             np.repeat(scene.p1[:, None, :], sides, axis=1)],
                            axis=1).reshape(-1, 3)                    # (n * 2 sides, 3)
    radius = np.concatenate([np.repeat(scene.r0[:, None], sides, axis=1),
                             np.repeat(scene.r1[:, None], sides, axis=1)], axis=1).ravel()
    normal = np.concatenate([ring, ring], axis=1).reshape(-1, 3)
    index = np.repeat(np.arange(n, dtype=np.float32), 2 * sides)
    k = np.arange(sides)
    a, b = k, (k + 1) % sides                                         # ring neighbours
    quad = np.stack([a, b, sides + a, b, sides + b, sides + a], axis=1).ravel()
    faces = (np.arange(n)[:, None] * 2 * sides + quad[None, :]).astype(np.uint32)
    return (centre.astype(np.float32), normal.astype(np.float32),
            radius.astype(np.float32), index, faces.ravel())


def line_mesh(scene):
    """The coarsest level of detail: each compartment a line from p0 to p1 (2 vertices)."""
    n = len(scene)
    centre = np.stack([scene.p0, scene.p1], axis=1).reshape(-1, 3).astype(np.float32)
    normal = np.tile(np.array([0.0, 0.0, 1.0], np.float32), (2 * n, 1))   # fully lit
    radius = np.full(2 * n, -1.0, np.float32)                            # no width
    index = np.repeat(np.arange(n, dtype=np.float32), 2)
    return centre, normal, radius, index, np.arange(2 * n, dtype=np.uint32)


def min_radius(transform, height):
    """Half a pixel in µm for an orthographic ``transform`` drawing ``height`` pixels."""
    per_um = float(np.linalg.norm(np.asarray(transform)[1, :3])) * height / 2.0
    return 0.5 / max(per_um, 1e-12)


def view_transform(scene, size, view="xy", margin=0.05):
    """An orthographic transform fitting the scene in ``size`` (w, h) pixels, looking down
    the axis not named by ``view`` (xy: along -z)."""
    lo, hi = scene.bounds()
    axes = {"xy": (0, 1, 2), "xz": (0, 2, 1), "yz": (1, 2, 0)}[view]
    pick = np.zeros((4, 4))
    for row, ax in enumerate(axes):
        pick[row, ax] = 1.0
    pick[3, 3] = 1.0
    centre = (lo + hi) / 2.0
    extent = (hi - lo)[list(axes)]
    w, h = size
    scale = (2.0 - 2.0 * margin) / max(extent[0] * h / w, extent[1], 1e-9)
    m = np.eye(4)
    m[0, 0], m[1, 1] = scale * h / w, scale
    m[2, 2] = -1.0 / max(extent[2], 1e-9)          # depth in [-1, 1]
    shift = np.eye(4)
    shift[:3, 3] = -centre
    return (m @ pick @ shift).astype(np.float32)


class CompartmentMesh:
    """The GL side of a Scene in the current context: the tubes (or lines), one float per
    compartment in a texture, the colormap in another, a visibility mask in a third (set
    when populations are shown or hidden, not per frame).  ``draw(transform, pick)`` draws
    into whatever framebuffer and viewport are bound: the window's and the off-screen
    renderer's are the same code."""

    def __init__(self, scene, colormap="viridis", vmin=-80.0, vmax=40.0, sides=None,
                 ambient=0.35):
        if sides is None:           # level of detail: rounder tubes for smaller scenes
            sides = 8 if len(scene) <= 20_000 else 6 if len(scene) <= 200_000 else \
                4 if len(scene) <= 500_000 else 0
        from vispy import gloo
        self.gloo, self.scene = gloo, scene
        centre, normal, radius, index, faces = tube_mesh(scene, sides) if sides else \
            line_mesh(scene)
        self.mode = "triangles" if sides else "lines"
        self.program = gloo.Program(VERTEX, FRAGMENT)
        self.program["a_centre"] = centre
        self.program["a_normal"] = normal
        self.program["a_radius"] = radius
        self.program["a_index"] = index
        self.faces = gloo.IndexBuffer(faces)
        width = min(_TEXTURE_WIDTH, max(len(scene), 1))
        self.values_shape = (width, -(-max(len(scene), 1) // width))
        self.values = gloo.Texture2D(np.zeros(self.values_shape[::-1], np.float32),
                                     interpolation="nearest", internalformat="r32f")
        self.shown = gloo.Texture2D(np.ones(self.values_shape[::-1], np.float32),
                                    interpolation="nearest", internalformat="r32f")
        self.program["u_values"] = self.values
        self.program["u_shown"] = self.shown
        self.program["u_values_shape"] = self.values_shape
        self.set_colormap(colormap)
        self.set_range(vmin, vmax)
        self.program["u_ambient"] = float(ambient)
        self.uploaded = 0           # bytes sent by the last set_values

    def _texture_rows(self, values):
        padded = np.zeros(self.values_shape[0] * self.values_shape[1], np.float32)
        padded[:len(values)] = values
        return padded.reshape(self.values_shape[::-1])

    def set_values(self, values):
        """One float per compartment: the only per-frame upload."""
        values = np.asarray(values, dtype=np.float32)
        if values.shape != (len(self.scene),):
            raise ValueError(f"{len(self.scene)} values expected, got {values.shape}")
        rows = self._texture_rows(values)
        self.values.set_data(rows)
        self.uploaded = rows.nbytes

    def set_shown(self, shown):
        """Which compartments are drawn (a boolean per compartment)."""
        self.shown.set_data(self._texture_rows(np.asarray(shown, dtype=np.float32)))

    def set_colormap(self, name):
        self.program["u_colormap"] = self.gloo.Texture2D(colormap_table(name)[None, :, :],
                                                         interpolation="nearest")

    def set_range(self, vmin, vmax):
        self.program["u_vmin"], self.program["u_vmax"] = float(vmin), float(vmax)

    def draw(self, transform, pick=False, height=None):
        """Draw with ``transform`` (4 x 4, row-major: clip = transform @ point); tubes are
        at least a pixel wide in a viewport ``height`` pixels high."""
        self.program["u_transform"] = np.asarray(transform, np.float32).T
        self.program["u_min_radius"] = min_radius(transform, height) if height else 0.0
        self.program["u_pick"] = 1 if pick else 0
        self.program.draw(self.mode, self.faces)


def decode_pick(rgba):
    """Compartment indices (-1: none) from a pick pass's colours."""
    rgba = np.asarray(rgba).astype(np.int64)
    return rgba[..., 0] + 256 * rgba[..., 1] + 65536 * rgba[..., 2] - 1


class Renderer:
    """``Renderer(scene, size=(w, h))``: ``draw(values)`` -> an (h, w, 4) uint8 image;
    ``pick(x, y)`` -> the compartment at pixel (x, y) from the top left, or -1.  ``sides``
    of each tube: 8 up to 2e4 compartments, 6 up to 2e5, 4 up to 5e5, and beyond a line
    per compartment (``sides=0``) (default)."""

    def __init__(self, scene, size=(800, 600), colormap="viridis", vmin=-80.0, vmax=40.0,
                 view="xy", sides=None, ambient=0.35, background=(0, 0, 0, 1)):
        use_headless()
        from vispy import app, gloo
        self.gloo, self.size, self.scene = gloo, tuple(size), scene
        self.background = background
        self.canvas = app.Canvas(size=self.size, show=False)
        self.canvas.set_current()
        self.mesh = CompartmentMesh(scene, colormap, vmin, vmax, sides, ambient)
        self.mode = self.mesh.mode
        self.transform = view_transform(scene, self.size, view)
        self.colormap, self.vmin, self.vmax = colormap, float(vmin), float(vmax)
        self.overlay = None
        w, h = self.size
        self.fbo = gloo.FrameBuffer(color=gloo.RenderBuffer((h, w, 4)),
                                    depth=gloo.RenderBuffer((h, w), format="depth"))

    @property
    def uploaded(self):
        """Bytes sent by the last frame's values."""
        return self.mesh.uploaded

    def set_values(self, values):
        self.mesh.set_values(values)

    def _render(self, pick):
        gloo = self.gloo
        self.canvas.set_current()
        with self.fbo:
            gloo.set_viewport(0, 0, *self.size)
            gloo.set_state(depth_test=True, blend=False)
            gloo.set_clear_color((0, 0, 0, 0) if pick else self.background)
            gloo.clear(color=True, depth=True)
            self.mesh.draw(self.transform, pick, height=self.size[1])
            return self.fbo.read()

    def pixels_per_um(self):
        """Pixels per µm of the (orthographic) view."""
        return 0.5 / min_radius(self.transform, self.size[1])

    def project(self, points):
        """Pixels (x, y from the top left) of 3D points (n, 3) µm."""
        points = np.atleast_2d(np.asarray(points, float))
        clip = np.c_[points, np.ones(len(points))] @ np.asarray(self.transform, float).T
        w, h = self.size
        return np.stack([(clip[:, 0] + 1.0) / 2.0 * w, (1.0 - clip[:, 1]) / 2.0 * h], axis=1)

    def annotate(self, title="", units="V (mV)"):
        """From now on ``draw(values, t)`` adds a title, a colour bar with ``units``, the
        time and a scale bar (``neurosim.viz.overlay``; drawn once, the time per frame)."""
        from neurosim.viz.overlay import Overlay
        self.overlay = Overlay(self.size, self.pixels_per_um(), self.colormap, self.vmin,
                               self.vmax, units=units, title=title)
        return self.overlay

    def draw(self, values=None, t=None):
        """The frame, (h, w, 4) uint8; with ``annotate``, its overlay and the time ``t``."""
        if values is not None:
            self.set_values(values)
        image = self._render(pick=False)
        if self.overlay is not None:
            image = self.overlay.apply(image, t)
        return image

    def index_image(self):
        """The compartment drawn at every pixel (-1: none), (h, w)."""
        return decode_pick(self._render(pick=True))

    def pick(self, x, y):
        """The compartment at pixel (x, y) from the top left, or -1."""
        return int(self.index_image()[int(y), int(x)])

    def close(self):
        self.canvas.close()
