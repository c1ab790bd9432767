"""The one exception tree of `campaign`.

Every failure a user can cause or meet is a subclass of :class:`CampaignError`; anything else that escapes
is a bug. The CLI prints ``str(error)`` as one line and exits with ``error.exit_code`` (a traceback only
with ``--debug``). Messages name the file (and line) or the post they are about, and never contain a secret.

::

    CampaignError                      exit 1 unless noted
    ├── UsageError                     exit 2: bad command-line use (unknown option value, missing file arg)
    ├── ReleaseError                   a press release that cannot be read or made sense of
    ├── ConfigError                    a campaign file that is invalid (file:line: message)
    │   └── CredentialsInFileError     a secret written inline in a campaign file (refused)
    ├── TemplateError                  missing template, syntax error, undefined variable
    ├── ScheduleError                  bad time spec, unknown zone, time in the past
    ├── FitError                       a post over its platform limit that may not become a thread
    │   └── TextCharacterError         a post whose text holds a refused character (control, unbalanced bidi)
    ├── MediaError                     a media file that cannot be read, is of a refused type, or cannot be
    │                                  made to fit a platform's limits (names the file and the rule)
    ├── CredentialsError               a secret that is missing from the environment or its file
    ├── StoreError                     the queue database cannot be used
    │   ├── DatabaseLockedError        another process holds the lock (or a second daemon on SQLite)
    │   ├── SchemaVersionError         the database was written by a newer `campaign`
    │   ├── PostNotFoundError          no queued post with that id
    │   ├── LeaseLostError             our lease on a post is gone (recovered or taken over): do not send it
    │   ├── IllegalTransitionError     a state change the post state machine forbids (a bug: it raises)
    │   └── MediaStoreError            the media store beside the queue cannot be written (names the folder)
    └── ChannelError                   what sending one post (or thread part) to a platform ended in
        ├── PermanentError             will fail again unchanged: auth, validation, duplicate content
        │   └── AuthError              credentials rejected (401/403 that is not rate limiting)
        ├── TransientError             nothing was published; safe to retry after backoff
        │   └── RateLimitedError       the platform said to wait: ``retry_at`` (UTC) or ``retry_after`` (s)
        └── AmbiguousError             the request may have been received: sent or not, we do not know

Adapters raise the ``ChannelError`` subclasses after reading a response; transport failures (httpx
exceptions) are mapped to them in one place, :func:`campaign.http.exchange.map_transport_error`.
"""

from __future__ import annotations

from datetime import datetime


class CampaignError(Exception):
    """Root of every error `campaign` reports to a user."""

    exit_code: int = 1


class UsageError(CampaignError):
    """The command line was used wrongly."""

    exit_code = 2


class ReleaseError(CampaignError):
    """A press release is missing, unreadable, or has no recognisable structure (no title)."""


class ConfigError(CampaignError):
    """A campaign file is invalid. ``str()`` reads ``FILE:LINE: message`` where the line is known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        where = file or ""
        if file and line:
            where = f"{file}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class CredentialsInFileError(ConfigError):
    """A credential value was written into a campaign file instead of an environment variable name."""


class TemplateError(CampaignError):
    """A template is missing, does not parse, or uses an undefined variable."""


class ScheduleError(CampaignError):
    """A time specification is invalid, names an unknown zone, or lies in the past."""


class FitError(CampaignError):
    """A rendered post exceeds its platform limit and threads are not allowed on that channel."""

    def __init__(
        self,
        *,
        post: str,
        channel: str,
        length: int,
        limit: int,
        detail: str = "",
        thread_allowed: bool = False,
    ) -> None:
        self.post, self.channel, self.length, self.limit = post, channel, length, limit
        why = "" if thread_allowed else " and threads are not allowed"
        extra = f" ({detail})" if detail else ""
        super().__init__(f"post {post!r} on {channel}: {length} > limit {limit}{why}{extra}")


class TextCharacterError(FitError):
    """A rendered post (or one part of its thread) holds a character refused in post text
    (:mod:`campaign.text.characters`). A FitError, so it is reported where an over-long post is:
    ``post 'k' on ACCOUNT (channel)[, part i of n]: U+XXXX NAME at LINE:COL <why>``."""

    def __init__(self, *, post: str, channel: str, detail: str, part: tuple[int, int] | None = None) -> None:
        self.post, self.channel, self.part = post, channel, part
        self.length = self.limit = 0  # not about length: FitError's fields, for code that reads them
        where = f", part {part[0]} of {part[1]}" if part else ""
        CampaignError.__init__(self, f"post {post!r} on {channel}{where}: {detail}")


class MediaError(CampaignError):
    """A media file cannot be read, is of a type a platform refuses, or cannot be made to fit its limits.

    ``str()`` reads ``FILE: message (rule)``: one line naming the file and the rule violated. ``rule`` is a
    short stable name (``type``, ``bytes``, ``pixels``, ``duration``, ``codec``, ``animation``, ...).
    """

    def __init__(self, message: str, *, file: str, rule: str) -> None:
        self.message, self.file, self.rule = message, file, rule
        super().__init__(f"{file}: {message} ({rule})")


class CredentialsError(CampaignError):
    """A secret is missing from the environment or its secret file. Names the variable, never a value."""


class StoreError(CampaignError):
    """The queue database cannot be opened, read or written, or is damaged."""


class MediaStoreError(StoreError):
    """The media store (prepared files, ``<db dir>/media`` by default) cannot be created or written: a file
    where its folder belongs, no permission, a full disk. Names the folder and the system's reason."""


class DatabaseLockedError(StoreError):
    """Another process holds the database (or the single-daemon lock on a SQLite file)."""


class SchemaVersionError(StoreError):
    """The database's schema is newer than this version of `campaign` understands."""


class PostNotFoundError(StoreError):
    """No queued post has the given id."""


class LeaseLostError(StoreError):
    """The caller's lease on a post is gone (expired and recovered, or another owner): do not send it."""


class IllegalTransitionError(StoreError):
    """A post state change the state machine forbids. Always a bug in the caller."""


class ChannelError(CampaignError):
    """The outcome of a failed exchange with a platform, classified for the retry policy.

    ``status`` is the HTTP status when there was a response; ``platform_message`` is what the platform said
    (already free of secrets: adapters must not echo request credentials into it).
    """

    retryable: bool = False

    def __init__(
        self, message: str, *, status: int | None = None, platform_message: str | None = None
    ) -> None:
        self.status = status
        self.platform_message = platform_message
        super().__init__(message)


class PermanentError(ChannelError):
    """Retrying unchanged will fail again (validation, duplicate content, forbidden)."""


class AuthError(PermanentError):
    """Credentials were rejected. Adapters that can refresh a token do so once before raising this."""


class TransientError(ChannelError):
    """Nothing was published (connection refused, 5xx before processing, 429): safe to retry."""

    retryable = True


#: The longest wait a platform's ``retry_after`` is taken for (about ten years): a number beyond it (or not
#: finite) is no time a clock can reach, and is treated as absent (the dispatcher's default wait applies).
MAX_RETRY_AFTER = 3.2e8


class RateLimitedError(TransientError):
    """The platform asked us to wait. ``retry_at`` is an aware UTC datetime when known; ``retry_after`` is
    seconds, kept only when it is a number in [0, :data:`MAX_RETRY_AFTER`] (negative: 0)."""

    def __init__(
        self,
        message: str,
        *,
        retry_at: datetime | None = None,
        retry_after: float | None = None,
        status: int | None = 429,
        platform_message: str | None = None,
    ) -> None:
        self.retry_at = retry_at
        if retry_after is not None and not retry_after <= MAX_RETRY_AFTER:  # NaN, inf, absurd
            retry_after = None
        self.retry_after = None if retry_after is None else max(0.0, retry_after)
        super().__init__(message, status=status, platform_message=platform_message)


class AmbiguousError(ChannelError):
    """The request may have reached the platform (read timeout, reset after sending): outcome unknown."""


__all__ = [
    "MAX_RETRY_AFTER",
    "AmbiguousError",
    "AuthError",
    "CampaignError",
    "ChannelError",
    "ConfigError",
    "CredentialsError",
    "CredentialsInFileError",
    "DatabaseLockedError",
    "FitError",
    "IllegalTransitionError",
    "LeaseLostError",
    "MediaError",
    "MediaStoreError",
    "PermanentError",
    "PostNotFoundError",
    "RateLimitedError",
    "ReleaseError",
    "ScheduleError",
    "SchemaVersionError",
    "StoreError",
    "TemplateError",
    "TextCharacterError",
    "TransientError",
    "UsageError",
]
