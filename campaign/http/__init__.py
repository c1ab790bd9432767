"""HTTP: the one place requests leave the process.

Owns running the exchanges that adapters describe (`exchange`: over the shared `httpx.AsyncClient`, or the
dry-run recorder), the mapping of httpx errors to the exception tree, the daemon's client (`client`) and its
transports: our own HTTP/1.1 (`wire`, the default) and the aiohttp-backed one (`transport`).
May import: the foundation modules, `campaign.text`, `campaign.schedule` and the adapter contract
(`campaign.channels.base`), never a platform adapter by name.
"""
