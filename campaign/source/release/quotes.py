"""Quotations and who said them.

Quote marks: ``"…"``, ``“…”``, ``„…“`` (German), ``« … »`` (French, Spanish), ``「…」``, ``『…』``.
Attributions: before or after the quotation, in English ("said X", "X said:", "X, CEO of Y, added",
"according to X"), German ("sagte X", "so X", "laut X:"), French ("a déclaré X", "selon X :"), Spanish
("afirmó X", "según X:"), Portuguese ("afirmou X", "segundo X:"), Chinese
(``陳志明表示：「……」``, ``「……」陳志明說。``) and Japanese (``代表の佐藤は「……」と述べています。``,
``代表の佐藤は次のように述べています。「……」``, ``「……」と佐藤健一社長は語った。``).
An unattributed
quotation after an attributed one in the same paragraph continues it (PR convention). A quotation that runs
over paragraphs (English convention: the first paragraph has no closing mark, the next opens again) is one
quote. Speakers lose their honorific (``Dr.``, ``Prof.``, ``Mr``, ``Herr``, ``Mme``, ``Sra.`` ...) and keep
initials and suffixes (``Daniel K. Osei``, ``Bruce Arnett, Sr.``).
"""

from __future__ import annotations

import bisect

import regex

from campaign.source.release.model import Quote
from campaign.text.sentences import Lazy as _Lazy
from campaign.text.sentences import abbreviation as _abbreviation
from campaign.text.sentences import sentence_spans as _sentence_spans
from campaign.text.sentences import squash as _squash

# A quotation's text holds neither its closing mark nor another of its opening marks: the scan from an
# opening mark stops at the next one, so a release of thousands of unclosed marks is read in linear time.
_QUOTED = _Lazy(
    r"\"(?P<t>[^\"\n]+)\"|“(?P<t>[^“”\n]+)”|「(?P<t>[^「」\n]+)」|『(?P<t>[^『』\n]+)』"
    r"|«\s?(?P<t>[^«»\n]+?)\s?»|„(?P<t>[^„“”\n]+)[“”]"
)
_VERB = (
    r"(?:said|says|added|adds|noted|notes|commented|comments|explained|explains|stated|states|remarked|"
    r"remarks|emphasi[sz]ed|emphasi[sz]es|highlighted|highlights|observed|observes|continued|continues|"
    r"concluded|concludes|shared|shares|declared|declares|affirmed|affirms|pointed out|points out|"
    # de, fr, es
    r"sagte|sagt|erklärte|erklärt|betonte|betont|ergänzte|ergänzt|fügte hinzu|so|"
    r"a déclaré|déclare|a dit|dit|a expliqué|explique|a souligné|souligne|a ajouté|ajoute|a précisé|précise|"
    r"a indiqué|indique|dijo|afirmó|afirma|señaló|señala|explicó|explica|declaró|declara|comentó|comenta|"
    r"añadió|añade|aseguró|asegura|destacó|destaca|indicó|indica|"
    # pt
    r"afirmou|disse|diz|declarou|explicou|comentou|acrescentou|acrescenta|ressaltou|ressalta|"
    r"salientou|sublinhou|observou)"
)
_HON = (
    r"(?:(?:Dr|Prof|Professor|Mr|Mrs|Ms|Mx|Sir|Dame|Ir|Herr|Frau|Mme|Mlle|M|Sr|Sra|Srta|Dra|Don|Doña)\.?\s+)"
)
_HON_ONLY = _Lazy(rf"{_HON}+")
_SUFFIX = (
    r"(?:,?\s+(?:Sr|Jr)\.|,?\s+(?:II|III|IV)(?!\p{L})|,\s+(?:Ph\.\s?D\.|M\.D\.|Esq\.)"
    r"|,\s+(?:PhD|MD|DPhil|MBA|FRS)(?![\p{L}.]))"
)
_NAME_WORD = r"\p{Lu}[\p{L}'’\-]*\.?"
_PARTICLE = r"(?:van|von|de|der|den|da|di|du|del|della|la|le|bin|binti|al)"
_NAME = rf"{_HON}*{_NAME_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_NAME_WORD}){{0,5}}{_SUFFIX}?"
_ROLE = r"[^\"“”「」]+?"
_PRE = (
    # [Commenting on X, ]Jane Doe[, CTO of Acme,] said[ in a statement][:|,]; "Acme's managing director,
    # Jane Doe, said:" (the lead is the role when it ends in a role word)
    _Lazy(
        rf"(?:(?P<lead>.*?),\s+)??(?P<name>{_NAME})(?:\s*,\s*(?P<role>{_ROLE})\s*,)?\s*,?\s+{_VERB}(?:\s+\p{{Ll}}+){{0,4}}?"
        r"\s*[,:：]?\s*"
    ),
    # According to Jane Doe, CTO of Acme: / Selon X, directrice : / D'après X / Según X / Laut X
    _Lazy(
        r"(?:.*?\s)??(?:[Aa]ccording to|[Ss]elon|[Dd]['’]après|[Ss]egún|[Ss]egundo|[Ll]aut) "
        rf"(?P<name>{_NAME})"
        rf"(?:\s*,\s*(?P<role>{_ROLE}))?\s*[,:：]\s*"
    ),
)
_POST = (
    # ," said Jane Doe, CTO of Acme.   ," said Acme CTO Jane Doe.
    _Lazy(rf"\s*[,，]?\s*{_VERB}\s+(?P<name>{_NAME})(?:\s*,\s*(?P<role>.+?))?\s*[.!?]?\s*"),
    # ," Jane Doe, CTO of Acme, said[ in a statement].
    _Lazy(
        rf"\s*[,，]?\s*(?P<name>{_NAME})(?:\s*,\s*(?P<role>{_ROLE})\s*,)?\s+{_VERB}"
        r"(?:\s+[\p{L}\p{N}'’\-]+){0,4}?\s*[.!?]?\s*"
    ),
)
_CN_VERBS = ("表示", "說", "说", "指出", "稱", "称", "強調", "强调", "補充", "补充", "坦言", "認為", "认为")
_CN_VERB = f"(?:{'|'.join(_CN_VERBS)})"
_CN_WHO = r"[^，,。！？；「」“”：:\s]{2,40}"
_CN_PRE = _Lazy(rf"(?P<who>{_CN_WHO}){_CN_VERB}\s*[：:，,]?\s*$")
_CN_PRE_LONGEST = 40 + max(map(len, _CN_VERBS))  # "who" and verb: how far before its end a match starts
_CN_POST = _Lazy(rf"\s*[，,]?\s*(?P<who>{_CN_WHO}?){_CN_VERB}\s*[。.]?\s*")
_CN_ROLES = _Lazy(
    r"行政總裁|行政总裁|首席執行官|首席执行官|執行長|执行长|總裁|总裁|副主席|主席|董事長|董事长|總經理|总经理|"
    r"執行董事|执行董事|創辦人|创办人|創始人|创始人|院長|院长|校長|校长|局長|局长|司長|司长|總監|总监|經理|经理|"
    r"教授|博士|CEO|CTO|CFO|COO"
)
_ROLE_WORDS = frozenset(
    """CEO CTO CFO COO CMO CIO CSO President Chairman Chairwoman Chair Director Founder Co-founder
    Co-Founder Head Manager Officer Chief VP Minister Secretary Dean Partner Principal Lead Executive
    Vice Geschäftsführer Geschäftsführerin Vorstand Vorstandsvorsitzender Vorstandsvorsitzende
    Vorstandsdirektor Vorstandsdirektorin Direktor Direktorin Gründer Gründerin Leiter Leiterin Sprecher
    Sprecherin Präsident Präsidentin Ministerin Bürgermeister Bürgermeisterin""".split()  # noqa: SIM905
)
_PRONOUNS = frozenset(
    """He She They It We I You Er Sie Es Wir Il Elle Ils Elles Nous Él Ella Ellos Nosotros""".split()  # noqa: SIM905
)
_NO_DOT = frozenset({"GmbH", "AG", "SA", "NV", "BV", "PLC", "plc", "Plc", "LLC"})  # written without a period
_NOT_NAMES = frozenset(
    """The This That A An It Das Der Die Le La Les El Los Las""".split()  # noqa: SIM905
)
# Japanese: 代表取締役の佐藤健一は「……」と述べています。 / 佐藤健一氏は「……」と語った。
_JA_PRE = _Lazy(
    r"(?:(?P<role>[^、。「」]{1,30}?)の)?(?P<who>[^、。「」の\s]{2,12}?)(?:氏|さん)?は[、，]?\s*$"
)
_JA_POST = _Lazy(r"\s*と(?:述べ|語|話|コメント|説明|強調|明か)")
_JA_PRE_LONGEST = 30 + 1 + 12 + 2 + 1  # role, の, who, 氏/さん, は


# 佐藤は次のように述べています。「……」: the sentence before the quotation announces it.
_JA_ANNOUNCE = _Lazy(r"[、，]?\s*(?:次|以下)のように(?:述べ|語|話|コメント|説明)[^。「」]{0,12}[。：:]\s*$")
_JA_BEFORE = _JA_PRE_LONGEST + 30
# 「……」と代表取締役の佐藤健一は述べた / と佐藤健一社長は語った: the speaker after the quotation.
_JA_AFTER = _Lazy(
    r"\s*と[、，]?\s*(?:(?P<role>[^、。「」『』]{1,30}?)の)?(?P<who>[^、。「」『』の\s]{2,12}?)"
    r"(?:氏|さん|(?P<title>社長|会長|代表|所長|部長|CEO))?は[、，]?\s*(?:述べ|語|話|コメント|説明|強調|明か)"
)


def _ja_attribution(pre: str, post: str, before: str) -> tuple[str, str] | None:
    """(name, role) of 代表の佐藤は「……」と述べています。 (``pre``, ``post``: the quotation's sentence
    around it), or of 代表の佐藤は次のように述べています。「……」 (``before``: the sentence before, read
    when the quotation opens its own sentence); None otherwise."""
    if (am := _JA_AFTER.match(post)) is not None:  # 「……」と佐藤健一社長は語った。
        return am.group("who"), am.group("role") or am.group("title") or ""
    if _JA_POST.match(post):
        who = pre
    elif not pre.strip() and (am := _JA_ANNOUNCE.search(before)) is not None:
        who = before[: am.start()]
    else:
        return None
    jm = _search_at_end(_JA_PRE, who, last=("は",), longest=_JA_PRE_LONGEST, closing="、，")
    return None if jm is None else (jm.group("who"), jm.group("role") or "")


def _search_at_end(
    pattern: _Lazy, pre: str, *, last: tuple[str, ...], longest: int, closing: str
) -> regex.Match[str] | None:
    """``pattern.search(pre)`` for a pattern whose match ends in one of ``last`` (its verb), then white space
    and at most one of ``closing`` at ``pre``'s end, and spans at most ``longest`` characters up to that
    word: nothing to search unless ``pre`` ends so, and the search starts ``longest`` before it. Same match
    (none can start earlier), in bounded time (a search from every position of a 600-character window cost
    milliseconds per quotation, and a release of thousands of quotations took minutes)."""
    end = len(pre.rstrip())
    if end and pre[end - 1] in closing:
        end = len(pre[: end - 1].rstrip())
    if not pre.endswith(last, 0, end):
        return None
    return pattern.search(pre, max(0, end - longest))


def _split_role(name: str) -> tuple[str, str]:
    """("Jane Doe", "Acme CTO") from "Acme CTO Jane Doe"; unchanged name and "" when no role word."""
    words = name.split()
    for i in range(len(words) - 2, -1, -1):
        if words[i] in _ROLE_WORDS:
            return " ".join(words[i + 1 :]), " ".join(words[: i + 1])
    return name, ""


_ONLY_NAME = _Lazy(rf"{_NAME}")


def _attribution(m: regex.Match[str]) -> tuple[str, str] | None:
    name = _squash(m.group("name"))
    last = name.split()[-1] if name else ""
    if last.endswith(".") and len(last) > 2 and _abbreviation(last[:-1]) is None:
        name = name[:-1]  # the sentence's full stop, not an initial ("J.") or "Jr."
    role = _squash(m.group("role") or "")
    if role and name.split()[-1] in _ROLE_WORDS and _ONLY_NAME.fullmatch(role):
        name, role = role, name  # "Acme's CEO, Jane Doe, added": the name is the part between commas
    lead = _squash(m.groupdict().get("lead") or "")
    if not role and lead and lead.split()[-1].capitalize() in _ROLE_WORDS and len(lead) <= 80:
        role = lead  # "Acme's managing director, Jane Doe, said"
    if not role:
        name, role = _split_role(name)
    if (hon := _HON_ONLY.match(name)) is not None and hon.end() < len(name):
        name = name[hon.end() :]  # "Dr. Mei-Ling Chow" -> "Mei-Ling Chow"
    if name in _PRONOUNS or not name or name in _NOT_NAMES:
        return None
    return name, role


_CN_HONORIFIC = _Lazy(r"(?:博士|教授|先生|女士|小姐|太平紳士|太平绅士|醫生|医生|議員|议员|氏|さん)+$")


def _cn_attribution(who: str) -> tuple[str, str]:
    """(name, role) from 「港燈機械人行政總裁周美玲博士」: the honorific after the name is dropped."""
    if (hon := _CN_HONORIFIC.search(who)) is not None and hon.start() >= 2:
        who = who[: hon.start()]
    last = None
    for m in _CN_ROLES.finditer(who):
        last = m
    if last is not None and 2 <= len(who) - last.end() <= 4:
        return who[last.end() :], who[: last.end()]
    return who, ""


#: The most of a sentence before or after a quotation read for its attribution. A name, a role and a verb
#: take a few dozen characters; a sentence running on for thousands (a hostile release: thousands of
#: quotations in one sentence) would otherwise be read again for every quotation in it.
ATTRIBUTION_WINDOW = 600


def _window(text: str, start: int, end: int, *, tail: bool) -> str:
    """``text[start:end]``, cut to its last (``tail``) or first :data:`ATTRIBUTION_WINDOW` characters when
    longer, at a space so that no word is cut."""
    if end - start <= ATTRIBUTION_WINDOW:
        return text[start:end]
    if tail:
        cut = text[end - ATTRIBUTION_WINDOW : end]
        return cut[cut.find(" ") + 1 :]  # no space: find gives -1, and the cut stays whole
    cut = text[start : start + ATTRIBUTION_WINDOW]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def _quotes_in(paragraph: str) -> list[Quote]:
    spans = _sentence_spans(paragraph)
    if not spans:
        return []
    starts = [a for a, _, _ in spans]
    ends = [b for _, b, _ in spans]  # sentences do not overlap: both lists are sorted
    quotes: list[Quote] = []
    previous: tuple[str, str] | None = None
    for m in _QUOTED.finditer(paragraph):
        text = _squash(m.group("t")).rstrip(",，").rstrip()
        if not text:
            continue
        open_i, close_i = m.start(), m.end()
        i = bisect.bisect_right(starts, open_i) - 1  # the last sentence starting at or before the mark
        j = bisect.bisect_left(ends, close_i)  # the first sentence ending at or after the quotation
        s_start = starts[i] if i >= 0 else 0
        s_end = ends[j] if j < len(ends) else len(paragraph)
        pre = _window(paragraph, s_start, open_i, tail=True)
        post = _window(paragraph, close_i, s_end, tail=False)
        if not post.strip():
            # The quotation ends its sentence ("「……。」陳大文說。", '"...." Jane Doe said.'): the
            # attribution, if any, is the whole next sentence.
            k = bisect.bisect_left(starts, close_i)
            post = _window(paragraph, starts[k], ends[k], tail=False) if k < len(spans) else ""
        found: tuple[str, str] | None = None
        for pattern in _PRE:
            pm = pattern.fullmatch(pre)
            if pm and (found := _attribution(pm)):
                break
        if found is None:
            for pattern in _POST:
                qm = pattern.fullmatch(post)
                if qm and (found := _attribution(qm)):
                    last = found[1].split()[-1] if found[1] else ""
                    if last and post.rstrip().endswith(".") and _abbreviation(last) and last not in _NO_DOT:
                        found = (found[0], found[1] + ".")  # "CTO of Acme Inc." keeps its period
                    break
        if found is None:  # the sentence before, cut to what an announcement can span
            before = paragraph[max(starts[i - 1], ends[i - 1] - _JA_BEFORE) : ends[i - 1]] if i >= 1 else ""
            found = _ja_attribution(pre, post, before)
        if found is None:
            cm = _search_at_end(_CN_PRE, pre, last=_CN_VERBS, longest=_CN_PRE_LONGEST, closing="：:，,")
            cm = cm or _CN_POST.fullmatch(post)
            if cm is not None and cm.group("who"):
                found = _cn_attribution(cm.group("who"))
        if found is None:
            # '"A," said X. "B."': an unattributed quotation that follows an attributed one in the same
            # paragraph continues it (PR convention), so it is the same speaker's.
            found = previous
        if found is not None:
            quotes.append(Quote(speaker=found[0], role=found[1], text=text))
            previous = found
    return quotes


_OPENERS = '"“„«「『'
_CLOSERS = {'"': '"', "“": "”", "„": "“”", "«": "»", "「": "」", "『": "』"}


def _open_quote(paragraph: str) -> bool:
    """Whether the paragraph leaves a quotation open at its end (no closing mark after the last opening)."""
    if paragraph.count('"') % 2 == 1:
        return True
    for opener, closers in _CLOSERS.items():
        if opener == '"':
            continue
        at = paragraph.rfind(opener)
        if at >= 0 and not any(c in paragraph[at + 1 :] for c in closers):
            return True
    return False


def quotes(paragraphs: list[str] | tuple[str, ...]) -> list[Quote]:
    """The quotes of the body, in order. Paragraphs that continue an open quotation are joined first."""
    out: list[Quote] = []
    i = 0
    while i < len(paragraphs):
        text = paragraphs[i]
        while _open_quote(text) and i + 1 < len(paragraphs) and paragraphs[i + 1][:1] in _OPENERS:
            i += 1
            text = f"{text} {paragraphs[i][1:]}"  # the next paragraph's opening mark only re-opens
        out.extend(_quotes_in(text))
        i += 1
    return _full_names(out)


def _full_names(found: list[Quote]) -> list[Quote]:
    """A later "Doe said" is the "Jane Doe, CEO of Acme" named before: same speaker, same role."""
    full: dict[str, Quote] = {}
    out = []
    for q in found:
        words = q.speaker.split()
        if len(words) == 1 and words[0] in full:
            first = full[words[0]]
            q = Quote(speaker=first.speaker, role=q.role or first.role, text=q.text)
        elif len(words) > 1:
            full.setdefault(words[-1].rstrip(".,"), q)
        out.append(q)
    return out
