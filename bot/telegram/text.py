"""Text helpers for Telegram: UTF-16 lengths and clipping, bidi and control characters, personal data masking."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.i18n import CATALOGUE, Lang, t

TELEGRAM_TEXT_LIMIT = 4096
JAKARTA = ZoneInfo("Asia/Jakarta")


def utf16_len(s: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts in."""
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


def clip_utf16(s: str, limit: int, ellipsis: str = "…") -> str:
    """Clip `s` to at most `limit` UTF-16 units, ending with `ellipsis` when clipped."""
    if limit <= 0:
        return ""
    if utf16_len(s) <= limit:
        return s
    budget = limit - utf16_len(ellipsis)
    if budget < 0:
        return ""
    out: list[str] = []
    used = 0
    for ch in s:
        w = 2 if ord(ch) > 0xFFFF else 1
        if used + w > budget:
            break
        out.append(ch)
        used += w
    # Never leave a dangling zero-width joiner or variation selector before the ellipsis.
    while out and out[-1] in "\u200d\ufe0f\ufe0e":
        out.pop()
    return "".join(out).rstrip() + ellipsis


_TAG_RE = re.compile(r"<[^>]*>")


def visible_utf16_len(html_text: str) -> int:
    """UTF-16 length of our own HTML after Telegram's entity parsing (tags dropped, entities decoded)."""
    return utf16_len(html.unescape(_TAG_RE.sub("", html_text)))


# Bidi embeddings/overrides/isolates could flip the layout of the rest of the card.
_BIDI_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")
# C0/C1 controls other than tab and newline have no business in a card.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_bidi(s: str) -> str:
    """Remove bidi control characters and stray control codes; keep everything else."""
    return _CONTROL_RE.sub("", _BIDI_RE.sub("", s))


_NIK_RE = re.compile(r"(?<![0-9])([0-9]{4})[0-9]{12}(?![0-9])")
# Mobile numbers 08…, 62 8…, +62 8…, and +62 landlines; separators (space, dot, dash) allowed.
_PHONE_RE = re.compile(r"(?<![0-9+])(?:\+62[ .-]?[1-9]|62[ .-]?8|08)(?:[ .-]?[0-9]){6,11}(?![0-9])")


def _mask_phone(m: re.Match[str]) -> str:
    s = m.group(0)
    digits = sum(ch.isdigit() for ch in s)
    out: list[str] = []
    seen = 0
    for ch in s:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= 4 or seen > digits - 2 else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask_personal_data(s: str) -> str:
    """Mask 16-digit NIKs (first 4 kept) and Indonesian phone numbers (first 4, last 2 kept)."""
    s = _NIK_RE.sub(lambda m: m.group(1) + "*" * 12, s)
    return _PHONE_RE.sub(_mask_phone, s)


def _esc(s: str) -> str:
    return html.escape(s, quote=False)


def _clean(s: str | None, limit: int) -> str:
    """External, single-purpose text: strip controls, clip. (Escaping happens at the end.)"""
    return clip_utf16(strip_bidi(s or "").strip(), limit)


def _link(url: str, label_html: str) -> str | None:
    if not url.startswith(("https://", "http://")) or len(url) > 2048 or strip_bidi(url) != url:
        return None
    return f'<a href="{html.escape(url, quote=True)}">{label_html}</a>'


def short_label(short_name: str, max_len: int = 18) -> str:
    """Button-sized agency name: the part before " / ", clipped to `max_len`."""
    head = strip_bidi(short_name).split(" / ")[0].strip() or short_name.strip()
    return clip_utf16(head, max_len)


def _status_label(status: str, lang: Lang) -> str:
    key = f"status.{status}"
    return t(key, lang) if key in CATALOGUE else f"❔ {status}"


def format_age(delta: timedelta, lang: Lang = Lang.ID) -> str:
    """Human age: "baru saja", "{m} mnt", "{h} jam {m} mnt", "{d} hari"."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return t("age.now", lang)
    if minutes < 60:
        return t("age.minutes", lang, m=minutes)
    if minutes < 24 * 60:
        return t("age.hours", lang, h=minutes // 60, m=minutes % 60)
    return t("age.days", lang, d=minutes // (24 * 60))


def format_wib(dt: datetime, lang: Lang = Lang.ID, tz: ZoneInfo = JAKARTA) -> str:
    """ "22 Nov 2026 10:04 WIB" for an aware datetime; ValueError for a naive one."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("aware datetimes only")
    local = dt.astimezone(tz)
    month = t("time.months", lang).split()[local.month - 1]
    return f"{local.day} {month} {local:%Y %H:%M} {local.tzname() or tz.key}"


_X_REASONS = ("duplicate", "not_mentioned", "near_match", "too_long", "invalid_text")


def x_reason(reason: str | None, lang: Lang) -> str:
    """X's refusal (a code the bridge records, sometimes with X's own words) in staff's words."""
    code = (reason or "").strip()
    if code in _X_REASONS:
        return t(f"xreject.{code}", lang)
    if code.startswith("target_gone"):
        return t("xreject.deleted", lang)
    lowered = code.lower()
    if "duplicate" in lowered:  # X's own words: "You are not allowed to create a Tweet with duplicate content."
        return t("xreject.duplicate", lang)
    if "not_mentioned" in lowered or "not been mentioned" in lowered or "mention" in lowered:
        return t("xreject.not_mentioned", lang)
    if "deleted" in lowered or "not found" in lowered or "does not exist" in lowered:
        return t("xreject.deleted", lang)
    if code.startswith("http_403"):
        return t("xreject.forbidden", lang)
    detail = code.partition(":")[2].strip() or code
    return t("xreject.other", lang, detail=clip_utf16(detail, 200))
