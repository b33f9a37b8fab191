"""Drawing frames with numpy: the court seen by one camera, then people and the ball on it.

People are upright billboards standing on their foot-point: shoes, two legs, shorts and a
jersey in the team colour with the number on it, arms, a head. Referees wear a grey shirt with
black stripes and black trousers. Figures are painted far to near, so nearer people hide
farther ones; an id buffer records who owns each pixel, which gives every person's visible
fraction. Each figure is drawn with array operations over its bounding box, never pixel by
pixel, and the static court is computed once per camera.

The figure's layout is public (``LAYOUT``): tests and readers can find the shorts or the
jersey of a person from its foot-point and its height in pixels alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from generators.render import court
from generators.render.camera import Camera
from generators.render.font import GLYPH_H, number_mask, number_width
from generators.render.trajectories import ROLE_REFEREE, Trajectories

RGB = tuple[int, int, int]
TEAM_COLOURS: tuple[RGB, RGB] = ((200, 30, 45), (25, 70, 200))
NUMBER_COLOUR: RGB = (250, 250, 250)
REFEREE_SHIRT: RGB = (150, 150, 150)
REFEREE_STRIPE: RGB = (20, 20, 20)
REFEREE_TROUSERS: RGB = (25, 25, 25)
SKIN_TONES: tuple[RGB, ...] = ((241, 194, 160), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 58, 32))
SHOE_COLOURS: tuple[RGB, ...] = ((20, 20, 20), (240, 240, 240), (210, 70, 20), (40, 40, 140))
BALL_COLOUR: RGB = (235, 105, 15)
FLOOR: RGB = (212, 168, 112)
PAINT: RGB = (132, 96, 64)
LINE: RGB = (245, 245, 245)
APRON: RGB = (62, 72, 92)
STANDS: RGB = (34, 34, 40)
BACKBOARD: RGB = (235, 235, 240)
RIM: RGB = (230, 80, 20)
BALL_RADIUS_FT = 0.39

# Figure layout, in fractions of the figure's height above the foot-point (``up``) and of its
# height sideways from the centre line (``side``, half-widths).
LAYOUT = {
    "shoes": (0.00, 0.04),
    "legs": (0.04, 0.30),
    "shorts": (0.30, 0.48),
    "jersey": (0.48, 0.82),
    "arms": (0.50, 0.80),
    "head": (0.82, 1.00),
}
TORSO_HALF = 0.17
ARM_HALF = 0.22
LEG_HALF = 0.10
LEG_GAP_HALF = 0.025
HEAD_HALF = 0.07
FIGURE_HALF_WIDTH = ARM_HALF
# Part codes of the per-person colour table.
_NONE, _SHOES, _LEGS, _SHORTS, _SHIRT, _ARMS, _HEAD, _NUMBER, _STRIPE = range(9)


@dataclass(frozen=True)
class Projection:
    """Where everyone and the ball appear in one camera, for every frame.

    ``foot`` ``[T, N, 2]`` pixel of each foot-point; ``height_px`` ``[T, N]`` the figure's
    height in pixels; ``depth`` ``[T, N]`` feet along the viewing axis; the ball likewise.
    """

    foot: NDArray[np.float64]
    height_px: NDArray[np.float64]
    depth: NDArray[np.float64]
    ball: NDArray[np.float64]
    ball_radius_px: NDArray[np.float64]
    ball_depth: NDArray[np.float64]


def project_people(camera: Camera, traj: Trajectories) -> Projection:
    """Project every foot-point, head and the ball of ``traj`` through ``camera``."""
    feet = np.concatenate([traj.xy, np.zeros((*traj.xy.shape[:2], 1))], axis=-1)
    heads = feet.copy()
    heads[..., 2] = traj.height_ft[None, :]
    foot, depth = camera.project(feet)
    head, _ = camera.project(heads)
    ball, ball_depth = camera.project(traj.ball)
    return Projection(
        foot=foot, height_px=foot[..., 1] - head[..., 1], depth=depth, ball=ball,
        ball_radius_px=camera.focal_px * BALL_RADIUS_FT / np.maximum(ball_depth, 1e-6), ball_depth=ball_depth,
    )


def court_image(camera: Camera) -> NDArray[np.uint8]:
    """The static picture of the court in ``camera``: floor, paint, lines, apron, stands, hoops."""
    u, v = camera.pixel_grid()
    x, y = camera.ground(u, v)
    seen = np.isfinite(x)
    xs, ys = np.where(seen, x, -1e6), np.where(seen, y, -1e6)
    img = np.empty((camera.height, camera.width, 3), dtype=np.float64)
    img[:] = STANDS
    img[seen & court.in_court(xs, ys, margin_ft=12.0)] = APRON
    inside = court.in_court(xs, ys)
    # Planks run along the court; a faint per-plank shade keeps the floor from looking flat.
    plank = np.floor(ys / 0.5).astype(np.int64)
    shade = 1.0 + 0.035 * (((plank * 7919) % 13) / 12.0 - 0.5)
    img[inside] = np.asarray(FLOOR, np.float64) * shade[inside][:, None]
    img[inside & court.in_key(xs, ys)] = PAINT
    img[seen & (court.line_distance(xs, ys) <= court.LINE_WIDTH_FT / 2)] = LINE
    for side in (0, 1):
        _draw_hoop(img, camera, side)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _draw_hoop(img: NDArray[np.float64], camera: Camera, side: int) -> None:
    # Only the pixels around the projected backboard and rim are examined.
    bx = court.BACKBOARD_FROM_BASELINE_FT if side == 0 else court.LENGTH_FT - court.BACKBOARD_FROM_BASELINE_FT
    hx, hy = court.hoop_xy(side)
    corners = np.array([(bx, 22.0, 9.0), (bx, 28.0, 9.0), (bx, 28.0, 12.5), (bx, 22.0, 12.5)])
    a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    rim = np.stack([hx + 1.2 * np.cos(a), hy + 1.2 * np.sin(a), np.full_like(a, court.HOOP_HEIGHT_FT)], axis=-1)
    pts, depth = camera.project(np.concatenate([corners, rim]))
    if not (depth > 0).all():
        return
    r0, r1 = max(int(np.floor(pts[:, 1].min())) - 2, 0), min(int(np.ceil(pts[:, 1].max())) + 2, camera.height)
    c0, c1 = max(int(np.floor(pts[:, 0].min())) - 2, 0), min(int(np.ceil(pts[:, 0].max())) + 2, camera.width)
    if r1 <= r0 or c1 <= c0:
        return
    v, u = np.mgrid[r0:r1, c0:c1].astype(np.float64) + 0.5
    window = img[r0:r1, c0:c1]
    window[_inside_convex(u, v, pts[:4])] = BACKBOARD
    # The rim: pixels whose ray crosses the rim's horizontal plane on the rim circle.
    rays = np.stack([(u - camera.cx) / camera.focal_px, (v - camera.cy) / camera.focal_px, np.ones_like(u)], axis=-1) @ camera.rotation()
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (court.HOOP_HEIGHT_FT - camera.position[2]) / rays[..., 2]
    rx, ry = camera.position[0] + t * rays[..., 0], camera.position[1] + t * rays[..., 1]
    window[(t > 0) & (np.abs(np.hypot(rx - hx, ry - hy) - court.RIM_RADIUS_FT) < 0.12)] = RIM


def _inside_convex(u: NDArray[np.float64], v: NDArray[np.float64], quad: NDArray[np.float64]) -> NDArray[np.bool_]:
    signs = []
    for i in range(len(quad)):
        (x0, y0), (x1, y1) = quad[i], quad[(i + 1) % len(quad)]
        signs.append((x1 - x0) * (v - y0) - (y1 - y0) * (u - x0))
    s = np.stack(signs)
    inside: NDArray[np.bool_] = np.logical_or(np.all(s >= 0, axis=0), np.all(s <= 0, axis=0))
    return inside


def _mix(player_id: int, salt: int) -> int:
    # A fixed integer hash: a person's look depends on its id only, on every machine.
    h = (player_id * 0x9E3779B1 + salt * 0x85EBCA77) & 0xFFFFFFFF
    h ^= h >> 15
    return (h * 0x2C1B3C6D) & 0xFFFFFFFF


def colour_tables(traj: Trajectories) -> NDArray[np.uint8]:
    """Per person, the colour of each figure part: ``[N, 9, 3]`` uint8."""
    tables = np.zeros((traj.n_people, 9, 3), dtype=np.uint8)
    for i in range(traj.n_people):
        pid = int(traj.player_id[i])
        skin, shoes = SKIN_TONES[_mix(pid, 1) % len(SKIN_TONES)], SHOE_COLOURS[_mix(pid, 2) % len(SHOE_COLOURS)]
        if traj.role[i] == ROLE_REFEREE:
            parts = {_SHOES: (10, 10, 10), _LEGS: REFEREE_TROUSERS, _SHORTS: REFEREE_TROUSERS, _SHIRT: REFEREE_SHIRT, _STRIPE: REFEREE_STRIPE}
        else:
            team = TEAM_COLOURS[int(traj.team[i])]
            parts = {_SHOES: shoes, _LEGS: skin, _SHORTS: team, _SHIRT: team, _NUMBER: NUMBER_COLOUR}
        parts |= {_ARMS: skin, _HEAD: skin}
        for part, colour in parts.items():
            tables[i, part] = colour
    return tables


class FramePainter:
    """Paints the frames of one game in one camera into a reused buffer.

    :meth:`paint` returns views of that buffer: consume (encode) a frame before painting the
    next. Not shared between threads.
    """

    def __init__(self, camera: Camera, traj: Trajectories, projection: Projection) -> None:
        self.camera = camera
        self.traj = traj
        self.proj = projection
        self.background = court_image(camera)
        self.colours = colour_tables(traj)
        self.referee = traj.role == ROLE_REFEREE
        self.frame = np.empty_like(self.background)
        self.owner = np.empty((camera.height, camera.width), dtype=np.int16)

    def paint(self, t: int) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
        """Frame ``t`` as RGB ``[H, W, 3]`` and each person's visible fraction ``[N]``.

        The visible fraction is the share of the figure's pixels that are in the frame and
        not hidden by a nearer person or the ball (0 when the figure is entirely out of view).
        """
        np.copyto(self.frame, self.background)
        self.owner.fill(-1)
        n = self.traj.n_people
        foot, height = self.proj.foot[t], self.proj.height_px[t]
        for i in range(n):
            self._shadow(foot[i], height[i])
        # Painter's order: farthest first; the ball is one more drawable with id n.
        depths = np.append(self.proj.depth[t], self.proj.ball_depth[t])
        order = sorted(range(n + 1), key=lambda k: (-depths[k], k))
        total = np.zeros(n, dtype=np.int64)
        for k in order:
            if k == n:
                self._ball(t, n)
            else:
                total[k] = self._figure(k, foot[k], height[k])
        visible = np.bincount(self.owner[self.owner >= 0].ravel(), minlength=n + 1)[:n]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(total > 0, visible / np.maximum(total, 1), 0.0).astype(np.float32)
        return self.frame, frac

    def _box(self, u0: float, u1: float, v0: float, v1: float) -> tuple[int, int, int, int] | None:
        # Integer pixel bounds [r0, r1) x [c0, c1) of a float box; None when nothing to draw.
        if not np.isfinite([u0, u1, v0, v1]).all():
            return None
        r0, r1 = int(np.floor(v0)), int(np.ceil(v1))
        c0, c1 = int(np.floor(u0)), int(np.ceil(u1))
        if r1 <= r0 or c1 <= c0:
            return None
        return r0, r1, c0, c1

    def _shadow(self, foot: NDArray[np.float64], height: float) -> None:
        if not height > 2:
            return
        fu, fv = float(foot[0]), float(foot[1])
        a, b = 0.30 * height, 0.06 * height
        box = self._box(fu - a, fu + a, fv - b, fv + b)
        if box is None:
            return
        r0, r1, c0, c1 = self._clip(box)
        if r1 <= r0 or c1 <= c0:
            return
        vv, uu = np.mgrid[r0:r1, c0:c1].astype(np.float64) + 0.5
        inside = ((uu - fu) / a) ** 2 + ((vv - fv) / b) ** 2 <= 1.0
        region = self.frame[r0:r1, c0:c1]
        region[inside] = (region[inside] * 0.62).astype(np.uint8)

    def _clip(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        r0, r1, c0, c1 = box
        return max(r0, 0), min(r1, self.camera.height), max(c0, 0), min(c1, self.camera.width)

    def _figure(self, i: int, foot: NDArray[np.float64], height: float) -> int:
        """Draw person ``i``; return the number of pixels of the whole (unclipped) figure."""
        if not height >= 3:
            return 0
        fu, fv = float(foot[0]), float(foot[1])
        half = FIGURE_HALF_WIDTH * height
        box = self._box(fu - half, fu + half, fv - height, fv)
        if box is None:
            return 0
        r0, r1, c0, c1 = box
        vv, uu = np.mgrid[r0:r1, c0:c1].astype(np.float64) + 0.5
        up = (fv - vv) / height
        side = (uu - fu) / height
        part = self._parts(i, up, side, height, fu - c0, fv - r0)
        drawn = part > 0
        total = int(drawn.sum())
        cr0, cr1, cc0, cc1 = self._clip(box)
        if cr1 <= cr0 or cc1 <= cc0:
            return total
        local = part[cr0 - r0 : cr1 - r0, cc0 - c0 : cc1 - c0]
        mask = local > 0
        self.frame[cr0:cr1, cc0:cc1][mask] = self.colours[i][local[mask]]
        self.owner[cr0:cr1, cc0:cc1][mask] = i
        return total

    def _parts(self, i: int, up: NDArray[np.float64], side: NDArray[np.float64], height: float, foot_col: float, foot_row: float) -> NDArray[np.intp]:
        """Part code of every pixel of person ``i``'s box; the foot-point at box (row, col)."""
        a = np.abs(side)

        def band(name: str) -> NDArray[np.bool_]:
            lo, hi = LAYOUT[name]
            return (up >= lo) & (up < hi)

        legs = (a <= LEG_HALF) & (a >= LEG_GAP_HALF)
        head = ((side / HEAD_HALF) ** 2 + ((up - 0.91) / 0.09) ** 2) <= 1.0
        part = np.select(
            [band("shoes") & legs, band("legs") & legs, band("shorts") & (a <= TORSO_HALF), band("jersey") & (a <= TORSO_HALF),
             band("arms") & (a <= ARM_HALF), head],
            [_SHOES, _LEGS, _SHORTS, _SHIRT, _ARMS, _HEAD],
            default=_NONE,
        ).astype(np.intp)
        shirt = part == _SHIRT
        if self.referee[i]:
            stripe_w = max(1.0, 2 * TORSO_HALF * height / 6)
            cols = np.floor((side + TORSO_HALF) * height / stripe_w).astype(np.int64)
            part[shirt & (cols % 2 == 1)] = _STRIPE
            return part
        self._number(part, shirt, int(self.traj.jersey[i]), height, foot_col, foot_row)
        return part

    @staticmethod
    def _number(part: NDArray[np.intp], shirt: NDArray[np.bool_], number: int, height: float, foot_col: float, foot_row: float) -> None:
        # The largest whole scale that leaves a pixel of jersey around the digits; none below 1.
        torso_w = 2 * TORSO_HALF * height
        lo, hi = LAYOUT["jersey"]
        torso_h = (hi - lo) * height
        cells = number_width(number)
        scale = int(min((torso_w - 1) // cells, (torso_h - 2) // GLYPH_H))
        if scale < 1:
            return
        glyph = number_mask(number, scale)
        gh, gw = glyph.shape
        box_h = part.shape[0]
        top = int(np.rint(foot_row - (lo + hi) / 2 * height - gh / 2))
        left = int(np.rint(foot_col - gw / 2))
        t0, l0 = max(top, 0), max(left, 0)
        t1, l1 = min(top + gh, box_h), min(left + gw, part.shape[1])
        if t1 <= t0 or l1 <= l0:
            return
        g = glyph[t0 - top : t1 - top, l0 - left : l1 - left]
        window = part[t0:t1, l0:l1]
        window[g & shirt[t0:t1, l0:l1]] = _NUMBER

    def _ball(self, t: int, ball_id: int) -> None:
        cu, cv = self.proj.ball[t]
        r = float(self.proj.ball_radius_px[t])
        r = max(r, 1.5)
        box = self._box(cu - r, cu + r, cv - r, cv + r)
        if box is None:
            return
        r0, r1, c0, c1 = self._clip(box)
        if r1 <= r0 or c1 <= c0:
            return
        vv, uu = np.mgrid[r0:r1, c0:c1].astype(np.float64) + 0.5
        inside = (uu - cu) ** 2 + (vv - cv) ** 2 <= r * r
        self.frame[r0:r1, c0:c1][inside] = BALL_COLOUR
        self.owner[r0:r1, c0:c1][inside] = ball_id
