"""Text: what a post says and how each platform measures it.

Owns the platform text rules (`rules`), length counting (`counting`), Bluesky facets (`facets`), sentence
splitting (`sentences`), the Jinja2 sandbox (`render`) and fitting a rendered text to a platform (`fit`).
May import: the foundation modules (`campaign.errors`, `campaign.secrets`, `campaign.logs`) only.
"""
