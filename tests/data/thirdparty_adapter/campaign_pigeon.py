"""A third-party channel adapter for `campaign`: posts each part to a pigeon loft's JSON API.

The loft (a test server on loopback) takes ``POST {loft}/coops`` with ``{"message", "key"}`` and answers
``{"id": ...}``; ``GET {loft}/whoami`` answers ``{"name": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import httpx

from campaign.channels.base import PLACEHOLDER, Adapter, Exchange, Part, Receipt, SampleAccount, fake_json
from campaign.text.counting import codepoints
from campaign.text.rules import TextRules


class PigeonAdapter(Adapter):
    name = "pigeon"
    title = "Carrier pigeon"
    rules = TextRules(limit=140, unit="characters", measure=codepoints)
    credential_names: ClassVar[Mapping[str, str]] = {"token": "the loft's bearer token"}
    required_settings: ClassVar[Mapping[str, str]] = {"loft": "base URL of the pigeon loft"}
    #: The account the contract suite (campaign.channels.contract) checks the adapter with.
    sample_account = SampleAccount(settings={"loft": "https://loft.example"})

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret('token')}"}

    def publish(self, part: Part) -> Exchange[Receipt]:
        body = {"message": part.text, "key": part.idempotency_key}
        response = yield self.json_request(
            "POST", self.setting("loft") + "/coops", json_body=body, headers=self._auth()
        )
        self.raise_for_status(response)
        return Receipt(remote_id=str(response.json()["id"]))

    def verify(self) -> Exchange[str]:
        response = yield httpx.Request("GET", self.setting("loft") + "/whoami", headers=self._auth())
        self.raise_for_status(response)
        return str(response.json()["name"])

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        return fake_json(request, {"id": f"{PLACEHOLDER}-coop", "name": PLACEHOLDER})
