"""SeatGuard endpoint agent: sensors, sealed spool and uploader (and the v1 event contract)."""

__version__ = "0.1.0"
