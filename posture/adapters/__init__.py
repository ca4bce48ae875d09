"""The only place third-party and OS libraries are imported: each subpackage
implements a port for one kind of hardware or service."""
