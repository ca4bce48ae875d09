"""The tray icon: a `posture.ports.TrayHost` per platform (Linux: a StatusNotifierItem and
its dbusmenu, written directly over jeepney, in `sni.py`)."""
