"""campaign: turn a press release into a reviewed, scheduled, multi-channel social media campaign.

Data flows one way: release -> templates -> fitted posts -> queue -> dispatcher -> adapter -> HTTP.
This package import is deliberately light; heavy modules (the database, the daemon) are imported where used.
"""

__version__ = "0.1.0"
