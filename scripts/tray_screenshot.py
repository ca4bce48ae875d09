"""The picture of the tray's icon states in docs/: every state at 22 and 48 px, on a light
and a dark panel, as the item sends them over D-Bus.

    .venv/bin/python scripts/tray_screenshot.py [--output docs/tray-states.png]

A private bus (tests/desktop.py) with the watcher peer of tests/sni.py, and an Xvfb
display of our own (1024x768: the picture is taller than the test desktop's 640x480). The
real Linux item (`SniTray`) shows a view of each state in turn and the pixels are read back
over D-Bus (IconPixmap) as a panel reads them. They are drawn, with their names, in an
OpenCV window on the display (no toolbar: WINDOW_GUI_NORMAL), and the display is
screenshotted with ImageMagick's `import -window root`, cropped to the window.
Debian packages: xvfb, dbus, imagemagick, x11-utils (xwininfo).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The repository's own test tools, loaded by name (test code, not typed for this script).
desktop = importlib.import_module("tests.desktop")
sni = importlib.import_module("tests.sni")

WINDOW = "posture tray states"
SIZES = (22, 48)
PANELS = ((239, 239, 239), (46, 52, 54))  # a light and a dark panel (RGB)
ROW = 64
NAME_WIDTH = 150
CELL = 64


def icons_over_dbus(address: str) -> dict[str, dict[int, np.ndarray]]:
    """Each state's pixels as the item sends them (RGBA by size)."""
    from posture.adapters.tray.sni import SniTray
    from posture.core.tray import ICON_STATES, TrayView, icon_pixels

    def view(state: str) -> TrayView:
        return TrayView(state=state, title=f"posture: {state}", tooltip=state, menu=())

    found: dict[str, dict[int, np.ndarray]] = {}
    with sni.fake_watcher(address) as watcher:
        item = SniTray(icon_pixels, bus_address=address)
        item.start(view(ICON_STATES[0]), lambda clicked: None)
        try:
            with sni.SniClient(address, watcher.wait_for_item()) as client:
                for state in ICON_STATES:
                    item.show(view(state))
                    client.wait_for(lambda s=state: client.title() == f"posture: {s}")
                    found[state] = client.icons()
        finally:
            item.close()
    return found


def sheet(icons: dict[str, dict[int, np.ndarray]]) -> np.ndarray:
    """The picture: a row per state, its name, then each size on each panel (RGB)."""
    import cv2

    columns = [(size, panel) for size in SIZES for panel in PANELS]
    width = NAME_WIDTH + CELL * len(columns)
    out = np.full((ROW * (len(icons) + 1), width, 3), 255, dtype=np.uint8)
    for c, (size, panel) in enumerate(columns):
        x = NAME_WIDTH + c * CELL
        out[:, x : x + CELL] = panel
        text = (20, 20, 20) if panel == PANELS[0] else (230, 230, 230)
        cv2.putText(out, f"{size} px", (x + 12, 38), cv2.FONT_HERSHEY_SIMPLEX, 0.45, text, 1)
    for r, (state, sizes) in enumerate(icons.items(), 1):
        y = r * ROW
        label = state.replace("_", " ")
        cv2.putText(out, label, (10, y + 38), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (20, 20, 20), 1)
        for c, (size, _panel) in enumerate(columns):
            rgba = sizes[size].astype(np.float64)
            alpha = rgba[..., 3:] / 255
            x0 = NAME_WIDTH + c * CELL + (CELL - size) // 2
            y0 = y + (ROW - size) // 2
            cell = out[y0 : y0 + size, x0 : x0 + size].astype(np.float64)
            out[y0 : y0 + size, x0 : x0 + size] = np.rint(
                rgba[..., :3] * alpha + cell * (1 - alpha)
            ).astype(np.uint8)
    return out


def window_geometry(env: dict[str, str]) -> tuple[int, int, int, int]:
    """x, y, width, height of the window on the display."""
    info = subprocess.run(
        ["xwininfo", "-name", WINDOW], env=env, capture_output=True, text=True, check=True
    ).stdout
    values = {}
    for line in info.splitlines():
        key, _, value = line.strip().partition(":")
        values[key] = value.strip()
    return (
        int(values["Absolute upper-left X"]),
        int(values["Absolute upper-left Y"]),
        int(values["Width"]),
        int(values["Height"]),
    )


def screenshot(picture: np.ndarray, env: dict[str, str], output: Path) -> None:
    """Show `picture` in a HighGUI window on the display of `env` and screenshot it. The
    window is in a child process: HighGUI aborts the process it runs in on a display fault."""
    show = (
        "import select, sys\n"
        "import cv2, numpy as np\n"
        "picture = np.load(sys.argv[1])\n"
        f"cv2.namedWindow({WINDOW!r}, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)\n"
        f"cv2.imshow({WINDOW!r}, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))\n"
        "print('shown', flush=True)\n"
        "while not select.select([sys.stdin], [], [], 0)[0]:\n"
        "    cv2.waitKey(50)\n"
    )
    raw = output.with_suffix(".npy")
    np.save(raw, picture)
    child = subprocess.Popen(
        [sys.executable, "-c", show, str(raw)],
        env={**env, "QT_QPA_PLATFORM": "xcb"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        child.stdout.readline()
        time.sleep(1.5)  # drawn
        x, y, w, h = window_geometry(env)
        subprocess.run(
            ["import", "-window", "root", "-crop", f"{w}x{h}+{x}+{y}", "+repage", str(output)],
            env=env,
            check=True,
        )
        child.stdin.write("done\n")
        child.stdin.flush()
    finally:
        raw.unlink()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


@contextlib.contextmanager
def xvfb(folder: Path) -> Iterator[str]:
    """An Xvfb server on a free display (it picks one: -displayfd); yields ":N"."""
    number = folder / "display"
    with number.open("wb") as out:
        server = subprocess.Popen(
            [
                "Xvfb",
                "-displayfd",
                str(out.fileno()),
                "-nolisten",
                "tcp",
                "-screen",
                "0",
                "1024x768x24",
            ],
            pass_fds=(out.fileno(),),
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 15
        while "\n" not in number.read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("Xvfb did not start")
            time.sleep(0.05)
        yield ":" + number.read_text().strip()
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("docs/tray-states.png"))
    output: Path = parser.parse_args().output.resolve()
    with tempfile.TemporaryDirectory(prefix="posture-shot-") as tmp:
        folder = Path(tmp)
        with desktop.private_bus(folder, "session") as address, xvfb(folder) as display:
            icons = icons_over_dbus(address)
            env = {**os.environ, "DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": address}
            env.pop("WAYLAND_DISPLAY", None)
            screenshot(sheet(icons), env, output)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
