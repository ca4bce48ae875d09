"""Desktop notifications: plyer, notify-send, osascript, log and bell."""
