"""The monitoring notice: what the agent tells the person at the PC (privacy rules 3 and 6).

The agent prints it at every start and in ``seatguard-agent status``; the collector shows it at /me.
"""

from __future__ import annotations

NOTICE = (
    "SeatGuard is running on this PC for your employer's customer-data protection policy.\n"
    "It records: which application and window title is in front, work pages opened, that a copy or cut\n"
    "happened (with counts of ID/phone/card numbers and at most a masked preview — never the copied text),\n"
    "customer case handling times, idle time, file writes in work folders and removable drives, drives\n"
    "plugged in, and the start of remote-access, screen-capture and messaging programs; screenshots only\n"
    "when a policy trigger fires. It never records which keys you press. Events are encrypted on this PC."
)
