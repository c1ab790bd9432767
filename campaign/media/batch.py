"""Preparing a post's media for a channel, once: the hook `compile` calls, with a cache that survives runs.

:class:`MediaPreparer` wraps :func:`~campaign.media.prepare.prepare` for many posts and channels:

- :meth:`MediaPreparer.prepare_post` prepares one post's items for one channel (leaving out items that
  ``skip`` it), turns each :class:`~campaign.errors.MediaError` into a :class:`MediaIssue`, and adds the
  post-level checks of :func:`~campaign.media.check.check_media`; it returns the prepared items and every
  issue, so `check`/`preview` can list all problems at once.
- Results are cached by (the source's SHA-256, the platform's rules, :data:`VERSION`): in memory for the
  run, and on disk as small JSON files under ``<store>/index/``, so a second `preview` of the same campaign
  re-encodes nothing (and imports neither the preparation code nor Pillow). A cached result is used only
  while its output file is still in the store with the size recorded (a stat; the daemon checks the hash
  before it uploads).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from campaign.errors import MediaError
from campaign.media.check import check_media
from campaign.media.model import MediaIssue, MediaItem, PreparedMedia
from campaign.media.rules import EXTENSIONS, MediaRules
from campaign.media.store import MediaStore, file_sha256

#: Bump when `prepare` would produce different output for the same input (invalidates the disk cache).
VERSION = 1
#: The fields of a PreparedMedia that depend only on the source and the rules (not on the item's alt text).
_CACHED = (
    "sha256",
    "mime",
    "size",
    "width",
    "height",
    "frames",
    "duration",
    "video_codec",
    "audio_codec",
    "notes",
)


def rules_fingerprint(rules: MediaRules) -> str:
    """A stable hash of ``rules`` (frozensets sorted, so it does not vary between processes)."""

    def plain(value: Any) -> Any:
        if isinstance(value, frozenset | set):
            return sorted(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    text = json.dumps(plain(dataclasses.asdict(rules)), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class MediaPreparer:
    """Prepares media into ``store``, remembering results across posts, channels and runs."""

    def __init__(self, store: MediaStore, *, persistent: bool = True) -> None:
        self.store = store
        self.persistent = persistent
        self._memo: dict[tuple[str, str], dict[str, Any]] = {}
        self._source_hashes: dict[tuple[Path, int, int], str] = {}
        self._fingerprints: dict[int, tuple[MediaRules, str]] = {}

    def prepare(self, item: MediaItem, rules: MediaRules) -> PreparedMedia:
        """``item`` prepared for ``rules`` (from the cache when the same bytes met the same rules before)."""
        key = (self._source_sha256(item.file, item.name), self._fingerprint(rules))
        facts = self._memo.get(key) or self._load(key)
        if facts is None:
            # Imported only when something must be prepared: a preview whose media the store already holds
            # loads neither the preparation code nor Pillow.
            from campaign.media.prepare import prepare

            prepared = prepare(item, rules, self.store)
            facts = {name: getattr(prepared, name) for name in _CACHED}
            self._save(key, facts)
            self._memo[key] = facts
            return prepared
        self._memo[key] = facts
        path = self.store.path_for(facts["sha256"], EXTENSIONS[facts["mime"]])
        return PreparedMedia(
            path=path, source=item.name, alt=item.alt, decorative=item.decorative, focus=item.focus, **facts
        )

    def prepare_post(
        self,
        items: Sequence[MediaItem],
        rules: MediaRules,
        channel: str,
        post_key: str,
        *,
        media_base_url: str | None = None,
    ) -> tuple[list[PreparedMedia], list[MediaIssue]]:
        """One post's media on one channel: the prepared items and every issue (empty when all is well)."""
        wanted = [item for item in items if channel not in item.skip]
        prepared: list[PreparedMedia] = []
        failed: list[MediaIssue] = []
        for item in wanted:
            try:
                prepared.append(self.prepare(item, rules))
            except MediaError as exc:
                failed.append(MediaIssue(post_key, channel, exc.file, exc.rule, exc.message))
        checked = check_media(
            prepared, rules, channel, post_key, media_base_url=media_base_url, total=len(wanted)
        )
        return prepared, failed + checked

    # -- cache --------------------------------------------------------------------------------------------

    def _fingerprint(self, rules: MediaRules) -> str:
        # Each post on a channel meets the same rules object: hash it once (the rules are frozen).
        found = self._fingerprints.get(id(rules))
        if found is None or found[0] is not rules:
            found = self._fingerprints[id(rules)] = (rules, rules_fingerprint(rules))
        return found[1]

    def _source_sha256(self, path: Path, name: str) -> str:
        try:
            stat = path.stat()
            key = (path.resolve(), stat.st_size, stat.st_mtime_ns)
        except (OSError, ValueError) as exc:  # ValueError: a name with a NUL byte ("embedded null byte")
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise MediaError(f"cannot read the file: {reason}", file=name, rule="file") from None
        if key not in self._source_hashes:
            self._source_hashes[key] = file_sha256(path)
        return self._source_hashes[key]

    def _index_path(self, key: tuple[str, str]) -> Path:
        return self.store.root / "index" / f"{key[0]}-{key[1]}-v{VERSION}.json"

    def _load(self, key: tuple[str, str]) -> dict[str, Any] | None:
        if not self.persistent:
            return None
        try:
            facts: dict[str, Any] = json.loads(self._index_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if set(facts) != set(_CACHED):
            return None  # unknown shape: prepare again
        stored = self.store.get(facts["sha256"], EXTENSIONS.get(facts["mime"], ""))
        if stored is None or stored.size != facts["size"]:
            return None  # the prepared file is gone or is not what was recorded (a cheap stat): prepare again
        facts["notes"] = tuple(facts["notes"])
        return facts

    def _save(self, key: tuple[str, str], facts: dict[str, Any]) -> None:
        if not self.persistent:
            return
        path = self._index_path(key)
        tmp = path.with_suffix(".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps({**facts, "notes": list(facts["notes"])}, sort_keys=True)
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            raise self.store.unwritable(exc) from None
