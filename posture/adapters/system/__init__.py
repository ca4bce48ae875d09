"""The user's folders and login autostart entries."""
