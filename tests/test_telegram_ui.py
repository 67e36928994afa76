"""Callback codec, card rendering and keyboards (bot.telegram: callbacks, cards, keyboards, messages, text)."""

from __future__ import annotations

import csv
import dataclasses
import html
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import ForceReply, InlineKeyboardMarkup

from bot.i18n import Lang
from bot.queries import CardView
from bot.telegram.callbacks import ARG_ACTS, REASONS, Act, Callback, encode, parse, split_reason_arg
from bot.telegram.cards import render_card
from bot.telegram.keyboards import agency_picker, card_keyboard, draft_keyboard, reason_picker, triage_reason_picker
from bot.telegram.messages import render_draft_preview, render_help, render_queue, reply_prompt
from bot.telegram.text import (
    TELEGRAM_TEXT_LIMIT,
    clip_utf16,
    format_age,
    format_wib,
    mask_personal_data,
    short_label,
    strip_bidi,
    utf16_len,
    visible_utf16_len,
)

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once

AGENCIES_CSV = Path(__file__).resolve().parents[1] / "bot" / "data" / "agencies.csv"
MAX_ID = 2**31 - 1  # the codec refuses ids the database cannot hold
MAX_VERSION = 999_999
NOW = datetime(2026, 11, 22, 6, 10, tzinfo=UTC)


def _agencies() -> list[tuple[str, str]]:
    with AGENCIES_CSV.open(encoding="utf-8") as f:
        return [(row["code"], row["short_name"]) for row in csv.DictReader(f)]


AGENCIES = _agencies()
CODES = [c for c, _ in AGENCIES] + ["dispermadesdukcapil", "biro-pemotdaks"]


def make_view(**over: object) -> CardView:
    base: dict[str, object] = dict(
        complaint_id=1234,
        version=7,
        status="routed",
        agency_code="dpubmck",
        agency_short="DPU BMCK",
        citizen_name="Siti Warga",
        citizen_username="siti_w",
        text="Jalan rusak parah di Jl. Pemuda, mohon diperbaiki",
        place_label="Kota Semarang",
        created_at=datetime(2026, 11, 22, 3, 4, tzinfo=UTC),
        routing_reasons=("kata 'jalan rusak'", "tempat: Kota Semarang"),
        confidence=0.82,
        tweet_url="https://x.com/siti_w/status/1862000000000000001",
        reply_eligible=True,
        desk_username="KemalaDesk",
    )
    base.update(over)
    return CardView(**base)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- HTML check

ALLOWED_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote", "tg-spoiler"}


class TelegramHTML(HTMLParser):
    """Checks what Telegram's HTML parse mode needs: known tags, balanced, no stray markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in ALLOWED_TAGS, tag
        if tag == "a":
            href = dict(attrs)["href"]
            assert href is not None
            self.links.append(href)
        else:
            assert all(name == "expandable" for name, _ in attrs), attrs
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (self.stack, tag)
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise AssertionError(f"self-closing tag {tag}")


def parse_html(s: str) -> TelegramHTML:
    p = TelegramHTML()
    p.feed(s)
    p.close()
    assert not p.stack, p.stack
    # Only &lt; &gt; &amp; &quot; and numeric entities are understood by Telegram.
    for chunk in s.split("&")[1:]:
        assert chunk.startswith(("lt;", "gt;", "amp;", "quot;", "#")), chunk[:10]
    return p


def visible(s: str) -> str:
    return "".join(parse_html(s).text)


# --------------------------------------------------------------------------- codec


def test_encode_examples() -> None:
    assert encode(Callback(Act.CLAIM, 1234, 7)) == "k1:cl:1234:7"
    assert encode(Callback(Act.TARGET, 1234, 7, "dpubmck")) == "k1:tg:1234:7:dpubmck"
    assert parse("k1:cl:1234:7") == Callback(Act.CLAIM, 1234, 7, None)
    assert parse("k1:pg:1:0:2") == Callback(Act.PAGE, 1, 0, "2")
    assert parse("k1:pg:1:0:2").int_arg() == 2  # type: ignore[union-attr]


callbacks = st.builds(
    lambda act, cid, ver, arg: Callback(act, cid, ver, arg if act in ARG_ACTS else None),
    st.sampled_from(list(Act)),
    st.integers(1, MAX_ID),
    st.integers(0, MAX_VERSION),
    st.from_regex(r"[a-z0-9-]{1,32}", fullmatch=True),
)


@settings(derandomize=True, deadline=None)
@given(callbacks)
def test_round_trip(cb: Callback) -> None:
    data = encode(cb)
    assert len(data.encode()) <= 64
    assert parse(data) == cb


@settings(derandomize=True, deadline=None)
@given(st.text(max_size=100))
def test_arbitrary_text_never_raises(s: str) -> None:
    cb = parse(s)
    if cb is not None:
        assert encode(cb) == s


@settings(derandomize=True, deadline=None)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_never_raise(b: bytes) -> None:
    for s in (b.decode("latin-1"), b.decode("utf-8", errors="surrogateescape")):
        cb = parse(s)
        assert cb is None or encode(cb) == s


@settings(derandomize=True, deadline=None)
@given(st.from_regex(r"k1:[a-z]{2}:[0-9]{1,11}:[0-9]{1,7}(:[a-z0-9-]{0,34})?", fullmatch=True))
def test_near_misses_parse_strictly(s: str) -> None:
    cb = parse(s)
    if cb is not None:
        assert encode(cb) == s


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "k1",
        "k1:cl",
        "k1:cl:1234",
        "k2:cl:1234:7",
        "K1:cl:1234:7",
        "k1:CL:1234:7",
        "k1:zz:1234:7",
        "k1:claim:1234",
        "k1:cl:0:7",
        "k1:cl:01234:7",
        "k1:cl:1234:07",
        "k1:cl:-1:7",
        "k1:cl:1234:-7",
        "k1:cl:12345678901:7",
        "k1:cl:1234:1000000",
        "k1:cl:１２:7",
        "k1:cl:12:７",
        "k1:cl:1234:7:dpubmck",  # claim takes no argument
        "k1:tg:1234:7",  # target requires one
        "k1:tg:1234:7:",
        "k1:tg:1234:7:DPUBMCK",
        "k1:tg:1234:7:dpu_bmck",
        "k1:tg:1234:7:dpu bmck",
        "k1:tg:1234:7:" + "a" * 33,
        "k1:cl:1234:7\n",
        " k1:cl:1234:7",
        "k1:cl:1234:7:",
        "k1:cl:1234:7 ",
        "k1:tg:1234:7:dpubmck:extra",
        "k1:tg:1234:7:dpübmck",
        "k1:cl:1234:7\x00",
        "k1:tg:1234:7:" + "a" * 100,
    ],
)
def test_rejects(data: str | None) -> None:
    assert parse(data) is None


def test_parse_rejects_non_strings() -> None:
    assert parse(b"k1:cl:1234:7") is None  # type: ignore[arg-type]
    assert parse(1234) is None  # type: ignore[arg-type]


def test_encode_rejects_invalid() -> None:
    with pytest.raises(ValueError):
        encode(Callback(Act.CLAIM, 1, 1, "x"))
    with pytest.raises(ValueError):
        encode(Callback(Act.TARGET, 1, 1, None))
    with pytest.raises(ValueError):
        encode(Callback(Act.TARGET, 1, 1, "Bad Code"))
    with pytest.raises(ValueError):
        encode(Callback(Act.CLAIM, 0, 1))
    with pytest.raises(ValueError):
        encode(Callback(Act.CLAIM, MAX_ID + 1, 1))
    with pytest.raises(ValueError):
        encode(Callback(Act.CLAIM, 1, MAX_VERSION + 1))
    with pytest.raises(ValueError):
        encode(Callback(Act.TARGET, 1, 1, "a" * 33))


def test_reason_arg() -> None:
    assert split_reason_arg("biro-pemotdaks--salahrute") == ("biro-pemotdaks", "salahrute")
    assert split_reason_arg("dpubmck--nope") is None
    assert split_reason_arg("dpubmck-salahrute") is None
    assert split_reason_arg("--salahrute") is None
    assert split_reason_arg("a--b--salahrute") is None
    assert split_reason_arg(None) is None


def test_int_arg() -> None:
    assert Callback(Act.SEND, 1, 1, "42").int_arg() == 42
    assert Callback(Act.SEND, 1, 1, "042").int_arg() is None
    assert Callback(Act.SEND, 1, 1, "4-2").int_arg() is None
    assert Callback(Act.CLAIM, 1, 1).int_arg() is None


# --------------------------------------------------------------------------- keyboards


def _all_data(markup: InlineKeyboardMarkup | None) -> list[str]:
    assert markup is not None
    out = []
    for row in markup.inline_keyboard:
        for button in row:
            assert isinstance(button.callback_data, str)
            out.append(button.callback_data)
    return out


def _acts(markup: InlineKeyboardMarkup | None) -> list[Act]:
    return [parse(d).act for d in _all_data(markup)]  # type: ignore[union-attr]


def test_every_keyboard_fits_64_bytes_for_extreme_values() -> None:
    alts = (*((code, short, 0.99) for code, short in AGENCIES[-2:]), ("dispermadesdukcapil", "X", 0.5))
    markups: list[InlineKeyboardMarkup | None] = []
    for status in ("routed", "claimed", "drafted"):
        markups.append(card_keyboard(make_view(complaint_id=MAX_ID, version=MAX_VERSION, status=status)))
    markups.append(
        card_keyboard(
            make_view(complaint_id=MAX_ID, version=MAX_VERSION, status="triage", is_triage_card=True, alternatives=alts)
        )
    )
    agencies = [*AGENCIES, ("dispermadesdukcapil", "Dispermades"), ("biro-pemotdaks", "Biro Pemotdaks")]
    for page in range(10):
        markups.append(agency_picker(MAX_ID, MAX_VERSION, agencies, page))
    for code in CODES:
        markups.append(reason_picker(MAX_ID, MAX_VERSION, code, Lang.EN))
    markups.append(triage_reason_picker(MAX_ID, MAX_VERSION))
    for eligible in (True, False):
        markups.append(draft_keyboard(MAX_ID, MAX_VERSION, MAX_ID, eligible))
    for m in markups:
        for data in _all_data(m):
            assert len(data.encode()) <= 64, data
            assert parse(data) is not None, data


def test_card_keyboard_by_status() -> None:
    # One keyboard for every member: nothing on it that most members may not press (no Alihkan).
    assert _acts(card_keyboard(make_view(status="routed"))) == [Act.CLAIM, Act.TRIAGE]
    for status in ("claimed", "drafted"):
        assert _acts(card_keyboard(make_view(status=status, claimer_name="@budi"))) == [
            Act.REPLY,
            Act.RELEASE,
            Act.TRIAGE,
            Act.OUTSIDE,
        ]
    assert _acts(card_keyboard(make_view(status="claimed", deleted=True))) == [
        Act.RELEASE,
        Act.TRIAGE,
        Act.OUTSIDE,
    ]
    for status in ("answered", "closed", "dismissed", "approved", "new"):
        assert card_keyboard(make_view(status=status)) is None
    assert card_keyboard(make_view(status="routed", moved_to="Dinkes")) is None
    labels = [b.text for row in card_keyboard(make_view(status="routed")).inline_keyboard for b in row]  # type: ignore[union-attr]
    assert labels == ["Klaim", "Salah SKPD?"]


def test_card_keyboard_carries_version() -> None:
    for data in _all_data(card_keyboard(make_view(status="routed", version=42))):
        cb = parse(data)
        assert cb is not None and cb.complaint_id == 1234 and cb.version == 42


def test_triage_keyboard() -> None:
    view = make_view(
        status="triage",
        is_triage_card=True,
        alternatives=(("dpubmck", "DPU BMCK", 0.64), ("dinkes", "Dinkes", 0.2), ("dishub", "Dishub", 0.1)),
    )
    markup = card_keyboard(view)
    assert _acts(markup) == [Act.CHOICE, Act.CHOICE, Act.CHOICE, Act.REASSIGN, Act.FORWARD_MENU, Act.DISMISS]
    assert [parse(d).arg for d in _all_data(markup)][:3] == ["dpubmck", "dinkes", "dishub"]  # type: ignore[union-attr]
    assert markup is not None
    assert markup.inline_keyboard[0][0].text == "DPU BMCK · 64%"
    assert markup.inline_keyboard[-2][0].text == "Pilih SKPD lain…"
    # A 0% candidate is never offered.
    weak = card_keyboard(make_view(status="triage", is_triage_card=True,
                                   alternatives=(("dlhk", "DLHK", 0.4), ("disperakim", "Disperakim", 0.0),
                                                 ("bkd", "BKD", 0.001))))
    assert [parse(d).arg for d in _all_data(weak) if parse(d).act == Act.CHOICE] == ["dlhk"]  # type: ignore[union-attr]


def test_agency_picker_pages() -> None:
    agencies = [(f"a{i}", f"Agency {i}") for i in range(20)]
    first = agency_picker(1, 2, agencies, 0)
    assert _acts(first) == [Act.TARGET] * 9 + [Act.PAGE, Act.CANCEL]
    assert [len(r) for r in first.inline_keyboard] == [3, 3, 3, 1, 1]
    assert first.inline_keyboard[3][0].text == "▶"
    middle = agency_picker(1, 2, agencies, 1)
    assert [b.text for b in middle.inline_keyboard[3]] == ["◀", "▶"]
    last = agency_picker(1, 2, agencies, 99)  # clamped
    assert _acts(last) == [Act.TARGET] * 2 + [Act.PAGE, Act.CANCEL]
    assert parse(last.inline_keyboard[-2][0].callback_data).arg == "1"  # type: ignore[arg-type, union-attr]
    single = agency_picker(1, 2, agencies[:3], 0, Lang.EN)
    assert _acts(single) == [Act.TARGET] * 3 + [Act.CANCEL]
    assert single.inline_keyboard[-1][0].text == "Cancel"


def test_reason_pickers() -> None:
    m = reason_picker(5, 6, "biro-pemotdaks")
    datas = _all_data(m)
    reasons = [split_reason_arg(parse(d).arg) for d in datas[:3]]  # type: ignore[union-attr]
    assert reasons == [("biro-pemotdaks", r) for r in REASONS]
    assert [b.text for row in m.inline_keyboard[:3] for b in row] == ["Bukan tugas SKPD kami", "Salah SKPD", "Lainnya…"]
    assert _acts(m)[3:] == [Act.BACK, Act.CANCEL]
    tq = triage_reason_picker(5, 6)
    assert _acts(tq) == [Act.TRIAGE_REASON] * 3 + [Act.CANCEL]
    assert [parse(d).arg for d in _all_data(tq)[:3]] == list(REASONS)  # type: ignore[union-attr]


def test_reason_picker_fits_every_real_code() -> None:
    for code in CODES:
        reason_picker(MAX_ID, MAX_VERSION, code)  # raises ValueError if over 32/64


def test_draft_keyboard() -> None:
    ok = draft_keyboard(1, 2, 77, True)
    assert _acts(ok) == [Act.SEND, Act.EDIT, Act.CANCEL]
    assert parse(_all_data(ok)[0]).int_arg() == 77  # type: ignore[union-attr]
    assert [b.text for row in ok.inline_keyboard for b in row] == ["Kirim ke X", "Ubah", "Batal"]
    not_ok = draft_keyboard(1, 2, 77, False)
    assert _acts(not_ok) == [Act.FALLBACK, Act.OUTSIDE, Act.EDIT, Act.CANCEL]
    assert parse(_all_data(not_ok)[0]).arg == "77"  # type: ignore[union-attr]


def test_short_label() -> None:
    assert short_label("Setwan / SET DPRD") == "Setwan"
    assert short_label("DPUSDATARU / PUSDATARU / DPU SDA TARU") == "DPUSDATARU"
    assert short_label("Inspektorat") == "Inspektorat"
    long = short_label("Badan Pengelola Pendapatan Daerah")
    assert utf16_len(long) <= 18 and long.endswith("…")
    for _, short in AGENCIES:
        assert 0 < utf16_len(short_label(short)) <= 18


# --------------------------------------------------------------------------- text helpers


def test_utf16_helpers() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("😀") == 2
    assert utf16_len("é") == 1
    assert clip_utf16("abcdef", 10) == "abcdef"
    assert clip_utf16("abcdef", 4) == "abc…"
    assert clip_utf16("😀😀😀", 4) == "😀…"  # never splits a surrogate pair
    assert utf16_len(clip_utf16("😀" * 10, 5)) <= 5
    assert clip_utf16("abc", 0) == ""


@settings(derandomize=True, deadline=None)
@given(st.text(max_size=200), st.integers(0, 300))
def test_clip_utf16_property(s: str, limit: int) -> None:
    out = clip_utf16(s, limit)
    assert utf16_len(out) <= limit
    if utf16_len(s) <= limit:
        assert out == s


def test_masking() -> None:
    assert mask_personal_data("NIK 3374012345678901 ya") == "NIK 3374************ ya"
    assert mask_personal_data("hp 081234567890") == "hp 0812******90"
    assert mask_personal_data("hp +6281234567890") == "hp +6281*******90"
    assert mask_personal_data("hp 6281234567890.") == "hp 6281*******90."
    assert mask_personal_data("wa 0812-3456-7890") == "wa 0812-****-**90"
    assert mask_personal_data("kantor +62 24 8311174") == "kantor +62 24 *****74"
    # Ordinary numbers stay.
    for keep in ("RT 05 RW 03", "Rp 150.000", "tahun 2026", "jalan 12 km", "no. 12345678"):
        assert mask_personal_data(keep) == keep


def test_strip_bidi() -> None:
    s = "a\u202eb\u202ac\u2066d\u2069e\u200df\u200bg\x00h"
    assert strip_bidi(s) == "abcde\u200df\u200bgh"
    assert strip_bidi("baris 1\nbaris 2\tx") == "baris 1\nbaris 2\tx"


def test_format_wib_and_age() -> None:
    dt = datetime(2026, 11, 22, 3, 4, tzinfo=UTC)
    assert format_wib(dt) == "22 Nov 2026 10:04 WIB"
    assert format_wib(datetime(2026, 8, 1, 17, 30, tzinfo=UTC)) == "2 Agu 2026 00:30 WIB"
    assert format_wib(datetime(2026, 8, 1, 17, 30, tzinfo=UTC), Lang.EN) == "2 Aug 2026 00:30 WIB"
    with pytest.raises(ValueError):
        format_wib(datetime(2026, 1, 1))
    assert format_age(timedelta(seconds=30)) == "baru saja"
    assert format_age(timedelta(seconds=-300)) == "baru saja"
    assert format_age(timedelta(minutes=5)) == "5 mnt"
    assert format_age(timedelta(hours=3, minutes=6)) == "3 jam 6 mnt"
    assert format_age(timedelta(days=2, hours=5)) == "2 hari"
    assert format_age(timedelta(hours=3, minutes=6), Lang.EN) == "3 h 6 min"


# --------------------------------------------------------------------------- cards


def test_card_basic_content() -> None:
    out = render_card(make_view(), now=NOW)
    text = visible(out)
    assert text.splitlines()[0] == "📥 Masuk #1234 · DPU BMCK"
    assert "🙋 Belum ada yang mengklaim" in text
    assert "👤 Siti Warga (@siti_w)" in text
    assert "📍 Kota Semarang" in text
    assert "🕒 22 Nov 2026 10:04 WIB · 3 jam 6 mnt" in text
    assert "🧭 Rute: kata 'jalan rusak'; tempat: Kota Semarang (keyakinan 82%)" in text
    assert "✅ Bisa dibalas di utas" in text
    assert parse_html(out).links == ["https://x.com/siti_w/status/1862000000000000001"]


def test_card_english() -> None:
    text = visible(render_card(make_view(status="claimed", claimer_name="@budi"), now=NOW, lang=Lang.EN))
    assert "👷 Handled by @budi" in text
    assert "(confidence 82%)" in text
    assert "3 h 6 min" in text


def test_card_escapes_html() -> None:
    nasty = 'Tolong <b>cepat</b> & <script>alert("x")</script> <a href="tg://x">klik</a> &amp; &lt;'
    view = make_view(
        text=nasty,
        citizen_name="<i>Budi</i> & co",
        place_label="<Semarang>",
        routing_reasons=("<b>jalan</b>",),
        history_note="Dialihkan dari <Dinkes> oleh @budi: salah rute",
    )
    out = render_card(view, now=NOW)
    assert "<script>" not in out and "<b>cepat" not in out and "<i>Budi" not in out
    text = visible(out)
    assert nasty in text
    assert "<i>Budi</i> & co" in text
    assert "📍 <Semarang>" in text
    assert "↪️ Dialihkan dari <Dinkes> oleh @budi: salah rute" in text
    assert parse_html(out).links == [view.tweet_url]


def test_card_rejects_unsafe_links() -> None:
    view = make_view(
        tweet_url='javascript:alert(1)"',
        photo_urls=("https://pbs.twimg.com/media/a.jpg", "tg://evil", 'https://x.com/"onmouseover="x'),
    )
    out = render_card(view, now=NOW)
    links = parse_html(out).links
    assert links == ["https://pbs.twimg.com/media/a.jpg", 'https://x.com/"onmouseover="x']
    assert "&quot;onmouseover" in out


def test_card_fits_with_huge_emoji_html_tweet() -> None:
    unit = "😀<b>&"  # 2 + 3 + 1 UTF-16 units; escapes expand the raw HTML a lot
    tweet = (unit * 900)[:5000]
    view = make_view(
        text=tweet,
        citizen_name="😀" * 200,
        history_note="<" * 2000,
        routing_reasons=tuple("&" * 500 for _ in range(10)),
        photo_urls=tuple(f"https://pbs.twimg.com/{i}.jpg" for i in range(4)),
        status="drafted",
        claimer_name="&" * 300,
        reply_eligible=False,
        rejected_reason="<" * 1000,
    )
    for lang in Lang:
        out = render_card(view, now=NOW, lang=lang)
        text = visible(out)
        assert utf16_len(text) <= TELEGRAM_TEXT_LIMIT
        assert visible_utf16_len(out) == utf16_len(text)
        assert utf16_len(text) > TELEGRAM_TEXT_LIMIT - 50  # clipped, not truncated to nothing
        assert "…" in text
        assert ("… (selengkapnya di X)" in text) or ("… (more on X)" in text)
        assert text.rstrip().endswith(("Buka tweet di X", "Open the tweet on X"))


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.text(min_size=0, max_size=6000), st.text(max_size=300))
def test_card_always_fits_and_parses(tweet: str, name: str) -> None:
    view = make_view(text=tweet, citizen_name=name, citizen_username=name[:20])
    out = render_card(view, now=NOW)
    assert utf16_len(visible(out)) <= TELEGRAM_TEXT_LIMIT


def test_card_masks_personal_data_by_default() -> None:
    view = make_view(text="NIK saya 3374012345678901, hp 081234567890")
    masked = visible(render_card(view, now=NOW))
    assert "3374************" in masked and "0812******90" in masked
    assert "3374012345678901" not in masked and "081234567890" not in masked
    plain = visible(render_card(view, now=NOW, mask_personal=False))
    assert "3374012345678901" in plain and "081234567890" in plain


def test_card_strips_bidi_controls() -> None:
    view = make_view(text="halo \u202edlrow\u202c dunia \u2067x\u2069", citizen_name="\u202eBudi")
    out = render_card(view, now=NOW)
    assert not any(ch in out for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "halo dlrow dunia x" in visible(out)
    assert "👤 Budi (@siti_w)" in visible(out)


def test_card_eligibility_both_ways() -> None:
    yes = visible(render_card(make_view(reply_eligible=True), now=NOW))
    assert "✅ Bisa dibalas di utas" in yes and "⚠️" not in yes
    no = visible(render_card(make_view(reply_eligible=False), now=NOW))
    # One short line before anyone writes; no price, no "desk" (the details are in the draft preview).
    line = next(x for x in no.splitlines() if x.startswith("⚠️"))
    assert line == "⚠️ Balasan jadi post baru"
    assert "$" not in no and "desk" not in no.lower()
    assert "✅ Bisa dibalas" not in no


def test_card_tombstone_after_move() -> None:
    view = make_view(
        status="routed",
        moved_to="Dinkes",
        moved_by="@budi",
        moved_reason="salahrute",
        text="x" * 3000,
    )
    out = render_card(view, now=NOW)
    text = visible(out)
    assert text.splitlines()[0] == "➡️ Dialihkan #1234 · DPU BMCK"
    assert "➡️ Dialihkan ke Dinkes oleh @budi: Salah SKPD" in text
    assert "salahrute" not in text
    assert "Bisa dibalas" not in text
    assert utf16_len(text) < 600
    assert card_keyboard(view) is None
    short = visible(render_card(make_view(moved_to="Dinkes"), now=NOW, lang=Lang.EN))
    assert "➡️ Moved to Dinkes" in short


def test_card_answered_and_rejected() -> None:
    answered = make_view(
        status="answered",
        answered_by="@budi",
        answered_at=datetime(2026, 11, 22, 5, 0, tzinfo=UTC),
        reply_text="Terima kasih <3, sudah kami teruskan & tindak lanjuti",
        reply_url="https://x.com/KemalaDesk/status/2",
    )
    out = render_card(answered, now=NOW)
    text = visible(out)
    assert "✅ Dijawab oleh @budi · 22 Nov 2026 12:00 WIB" in text
    assert "Terima kasih <3, sudah kami teruskan & tindak lanjuti" in text
    assert "https://x.com/KemalaDesk/status/2" in parse_html(out).links
    assert "Bisa dibalas" not in text
    rejected = visible(render_card(make_view(status="drafted", rejected_reason="duplicate content"), now=NOW))
    assert "duplicate" not in rejected  # X's reason in staff's words, never its code
    assert "❌ X menolak balasan: " in rejected
    assert "tandai dijawab di luar desk" in rejected


def test_card_triage_alternatives_and_extras() -> None:
    view = make_view(
        status="triage",
        is_triage_card=True,
        agency_short=None,
        alternatives=(("setwan", "Setwan / SET DPRD", 0.5), ("dinkes", "Dinkes", 0.3)),
        photo_urls=("https://pbs.twimg.com/a.jpg", "https://pbs.twimg.com/b.jpg"),
        followups=3,
        deleted=True,
        confidence=None,
        routing_reasons=(),
    )
    out = render_card(view, now=NOW)
    text = visible(out)
    assert text.splitlines()[0] == "🔀 Triase #1234 · belum ada SKPD"
    assert text.count("🔀") == 1  # the header is not repeated on the next line
    assert "Kandidat:\n• Setwan 50%\n• Dinkes 30%" in text
    assert "keyakinan" not in text
    assert "🖼 Lampiran: foto 1 · foto 2" in text
    assert "💬 3 tindak lanjut dari warga" in text
    assert "🗑 Warga menghapus tweet ini" in text
    assert "Rute" not in text


def test_card_requires_approval_and_approved() -> None:
    assert "persetujuan admin" in visible(
        render_card(make_view(status="drafted", requires_approval=True, claimer_name="@a"), now=NOW)
    )
    assert "⏳ Disetujui" in visible(render_card(make_view(status="approved"), now=NOW))


def test_card_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError):
        render_card(make_view(created_at=datetime(2026, 1, 1)), now=NOW)


def test_cardview_is_frozen() -> None:
    view = make_view()
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.status = "closed"  # type: ignore[misc]


# --------------------------------------------------------------------------- other messages


def test_draft_preview() -> None:
    out = render_draft_preview(
        "Terima kasih <b> & kami cek",
        212,
        eligible=True,
        desk_username="KemalaDesk",
        citizen_username="siti_w",
    )
    text = visible(out)
    assert text.startswith("Pratinjau balasan (212/280)")
    assert "Terima kasih <b> & kami cek" in text
    assert "utas @siti_w" in text
    over = visible(
        render_draft_preview(
            "x" * 300, 300, eligible=False, desk_username="KemalaDesk", citizen_username="siti_w", lang=Lang.EN
        )
    )
    assert over.startswith("Reply preview (300/280)")
    assert "Too long: 300/280" in over
    assert "@KemalaDesk" in over and "$0.20" in over


def test_reply_prompt() -> None:
    text, markup = reply_prompt(complaint_id=42, username="budi", user_id=7, first_name="Budi")
    assert visible(text).startswith("@budi tulis balasan untuk aduan #42")
    assert isinstance(markup, ForceReply) and markup.selective
    assert markup.input_field_placeholder is not None and len(markup.input_field_placeholder) <= 64
    text2, _ = reply_prompt(complaint_id=42, username=None, user_id=7, first_name="<Budi>", lang=Lang.EN)
    assert parse_html(text2).links == ["tg://user?id=7"]
    assert visible(text2).startswith("<Budi> write the reply to complaint #42")


def test_render_queue() -> None:
    items = [
        (1, "routed", None, NOW - timedelta(minutes=5)),
        (2, "claimed", "<budi>", NOW - timedelta(hours=2, minutes=1)),
        (3, "drafted", "@ani", NOW - timedelta(days=3)),
    ]
    text = visible(render_queue(items, NOW))
    assert text.splitlines() == [
        "📋 Antrean: 3 aduan belum selesai",
        "#1 · 📥 Masuk · belum diklaim · 5 mnt",
        "#2 · 🙋 Ditangani · <budi> · 2 jam 1 mnt",
        "#3 · ✍️ Draf balasan · @ani · 3 hari",
    ]
    assert visible(render_queue([], NOW, Lang.EN)) == "🎉 The queue is empty."
    many = [(i, "claimed", "😀" * 64, NOW) for i in range(1, 500)]
    out = render_queue(many, NOW, max_items=500)
    assert utf16_len(visible(out)) <= TELEGRAM_TEXT_LIMIT
    assert "lainnya" in visible(out).splitlines()[-1]


def test_render_help() -> None:
    for kind in ("agency", "triage", "unbound", "private"):
        text = render_help(kind, agency="Dinkes")
        assert "&lt;kode SKPD&gt;" in text or kind == "agency"
    assert "/antrean" in visible(render_help("agency", agency="Dinkes"))
    assert "Dinkes" in visible(render_help("agency", agency="Dinkes"))
    assert "/daftar" in visible(render_help("unbound"))
    with pytest.raises(ValueError):
        render_help("elsewhere")


def test_visible_len_matches_parser() -> None:
    out = render_card(make_view(text="a & b < c 😀"), now=NOW)
    assert visible_utf16_len(out) == utf16_len(html.unescape("".join(parse_html(out).text)))
