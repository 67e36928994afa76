"""The catalogue: both languages complete and consistent; t() and Texts behave."""

from __future__ import annotations

import string
from collections.abc import Iterator

import pytest

from bot import i18n
from bot.i18n import CATALOGUE, Lang, Texts, lang_from_code, set_strict, t

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _dummy(template: str) -> dict[str, object]:
    return {name: "x" for name in _fields(template)}


@pytest.fixture
def lenient() -> Iterator[None]:
    set_strict(False)
    yield
    set_strict(None)


def test_every_key_has_every_language() -> None:
    for key, entry in CATALOGUE.items():
        assert set(entry) == set(Lang), key
        assert all(v.strip() for v in entry.values()), key


def test_languages_share_placeholders() -> None:
    for key, entry in CATALOGUE.items():
        assert _fields(entry[Lang.ID]) == _fields(entry[Lang.EN]), key
        # Positional fields would make str.format(**kw) fail at run time.
        assert all(name and not name.isdigit() for name in _fields(entry[Lang.ID])), key


def test_every_entry_formats_with_its_placeholders() -> None:
    for key, entry in CATALOGUE.items():
        for lang in Lang:
            assert t(key, lang, **_dummy(entry[lang]))


def test_t_formats_and_defaults_to_indonesian() -> None:
    assert t("btn.claim") == "Klaim"
    assert t("btn.claim", Lang.EN) == "Claim"
    assert t("alert.already_claimed", name="@budi") == "Sudah diklaim oleh @budi."
    assert t("age.hours", Lang.ID, h=3, m=5) == "3 jam 5 mnt"
    assert t("draft.title", weight=212, limit=280) == "Pratinjau balasan (212/280)"


def test_missing_key_raises_in_tests() -> None:
    with pytest.raises(KeyError):
        t("no.such.key")
    with pytest.raises(KeyError):
        t("alert.already_claimed")  # placeholder not supplied


def test_missing_key_returns_key_in_production(lenient: None) -> None:
    assert t("no.such.key") == "no.such.key"
    assert t("alert.already_claimed") == CATALOGUE["alert.already_claimed"][Lang.ID]


def test_strict_follows_pytest_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    set_strict(None)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    assert t("no.such.key") == "no.such.key"
    assert i18n._strict is None


def test_texts_binds_a_language() -> None:
    en = Texts(Lang.EN)
    assert en("btn.reply") == "Reply"
    assert Texts()("btn.reply") == "Balas"
    assert en("ok.claimed", number=12) == "You claimed complaint #12."


def test_lang_from_code() -> None:
    assert lang_from_code("en") is Lang.EN
    assert lang_from_code("en-GB") is Lang.EN
    assert lang_from_code("id") is Lang.ID
    assert lang_from_code(None) is Lang.ID
    assert lang_from_code("jv") is Lang.ID


def test_required_wording() -> None:
    assert "anggota grup" in t("alert.not_member")
    assert "diperbarui" in t("alert.stale")
    assert t("alert.too_long", n=300, limit=280).count("300/280") == 1
    assert t("prompt.reply", username="budi", number=42, limit=280).startswith("@budi tulis balasan untuk aduan #42")
    # One short line on the card; the details live in the draft preview.
    assert t("elig.yes") == "✅ Bisa dibalas di utas"
    assert t("elig.no") == "⚠️ Balasan jadi post baru"
    assert t("draft.fallback", desk="KemalaDesk", user="siti").startswith(
        "⚠️ Tidak bisa dibalas di utas: warga tidak menyebut @KemalaDesk."
    )
    for status in ("new", "triage", "routed", "claimed", "drafted", "approved", "answered", "closed", "dismissed",
                   "forwarded"):
        assert f"status.{status}" in CATALOGUE
    for cmd in ("start", "bantuan", "antrian", "cari", "daftar", "hubungkan", "bind"):
        assert 1 <= len(t(f"cmd.{cmd}")) <= 256
    # Each kind of chat is told what works there.
    assert "/daftar" in t("help.unbound") and "/daftar" in t("help.private")
    assert "/bind" not in t("help.agency", agency="Dinkes") and "Salah SKPD?" in t("help.agency", agency="Dinkes")
    assert "/lepas" in t("help.triage") and "/cari" in t("help.triage")
    # One spelling in texts.
    for key, entry in CATALOGUE.items():
        for text in entry.values():
            assert "antrian" not in text.replace("/antrian", ""), key
    for key in ("age.now", "age.minutes", "age.hours", "age.days"):
        assert key in CATALOGUE
    assert len(t("time.months").split()) == 12 and len(t("time.months", Lang.EN).split()) == 12


def test_alerts_fit_answer_callback_query() -> None:
    # answerCallbackQuery text is limited to 200 characters.
    for key, entry in CATALOGUE.items():
        if key.startswith(("alert.", "ok.")):
            for lang in Lang:
                filled = entry[lang].format(**{n: "x" * 20 for n in _fields(entry[lang])})
                assert len(filled) <= 200, (key, lang)


def test_force_reply_placeholder_fits() -> None:
    for lang in Lang:
        assert len(t("prompt.placeholder", lang, number=9_999_999_999)) <= 64
