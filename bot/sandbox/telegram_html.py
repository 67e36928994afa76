"""Telegram's HTML parse mode and text measuring, as the Bot API server does it.

The parser follows tdlib's ``parse_html`` (the code behind the Bot API server) byte for byte where it
matters to a client: the supported tag subset, the error texts with *byte* offsets into the UTF-8
source, the lenient entity decoding (a bare ``&`` or an unknown ``&name;`` stays literal text, only
``&lt; &gt; &amp; &quot;`` and numeric references decode, the ``;`` is optional) and entity offsets
counted in UTF-16 code units.
"""

from __future__ import annotations

import re
from typing import Any

_TAGS = {
    "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji",
    "span", "pre", "code", "blockquote",
}  # fmt: skip
_ENTITY_TYPE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "span": "spoiler", "code": "code", "pre": "pre", "tg-emoji": "custom_emoji",
}  # fmt: skip
_SPACE = b" \t\r\n\f\v"
_NAMED = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(exc)`` is tdlib's own message."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: Telegram's unit for message limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _decode_entity(src: bytes, pos: int) -> tuple[str, int] | None:
    """Decode an HTML entity at ``src[pos] == '&'``; None means "keep the '&' literally" (as tdlib)."""
    end = pos + 1
    if src[end : end + 1] == b"#":
        end += 1
        value = 0
        hexa = src[end : end + 1] == b"x"
        if hexa:
            end += 1
        digits = b"0123456789abcdefABCDEF" if hexa else b"0123456789"
        start = end
        while end < len(src) and src[end] in digits:
            value = value * (16 if hexa else 10) + int(chr(src[end]), 16)
            end += 1
            if value >= 0x10FFFF:
                return None
        if end == start or value == 0 or 0xD800 <= value <= 0xDFFF:
            return None
        char = chr(value)
    else:
        while end < len(src) and chr(src[end]).isascii() and chr(src[end]).isalpha():
            end += 1
        named = _NAMED.get(src[pos + 1 : end])
        if named is None:
            return None
        char = named
    if src[end : end + 1] == b";":
        end += 1
    return char, end


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return (plain text, entities) or raise HtmlParseError with Telegram's description."""
    src = text.encode("utf-8")
    n = len(src)
    out: list[str] = []
    u16 = 0  # UTF-16 length of what has been emitted so far
    stack: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < n:
        c = src[i]
        if c == 0x26:  # '&'
            decoded = _decode_entity(src, i)
            if decoded is not None:
                out.append(decoded[0])
                u16 += utf16_len(decoded[0])
                i = decoded[1]
                continue
        if c != 0x3C:  # not '<': copy one whole UTF-8 character
            width = 1 if c < 0x80 else 2 if c < 0xE0 else 3 if c < 0xF0 else 4
            char = src[i : i + width].decode("utf-8")
            out.append(char)
            u16 += utf16_len(char)
            i += width
            continue
        begin = i
        i += 1
        if i < n and src[i] == 0x2F:  # '/': an end tag
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {begin}")
            i += 1
            while i < n and src[i] not in _SPACE and src[i] != 0x3E:
                i += 1
            end_name = src[begin + 2 : i].decode("utf-8", "replace").lower()
            while i < n and src[i] in _SPACE:
                i += 1
            if i >= n or src[i] != 0x3E:
                raise HtmlParseError(f"Unclosed end tag at byte offset {begin}")
            i += 1
            top = stack.pop()
            if end_name and end_name != top["tag"]:
                raise HtmlParseError(
                    f'Unmatched end tag at byte offset {begin}, expected "</{top["tag"]}>", '
                    f'found "</{end_name}>"'
                )
            _close(top, u16, entities)
            continue
        while i < n and src[i] not in _SPACE and src[i] != 0x3E:
            i += 1
        if i >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
        tag = src[begin + 1 : i].decode("utf-8", "replace").lower()
        if tag not in _TAGS:
            raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        attrs: dict[str, str] = {}
        while True:
            while i < n and src[i] in _SPACE:
                i += 1
            if i >= n:
                raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            if src[i] == 0x3E:
                i += 1
                break
            name_start = i
            while i < n and src[i] not in _SPACE and src[i] not in b"=>":
                i += 1
            attr = src[name_start:i].decode("utf-8", "replace").lower()
            if not attr:
                raise HtmlParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
            while i < n and src[i] in _SPACE:
                i += 1
            if i >= n or src[i] != 0x3D:
                if tag == "blockquote" and attr == "expandable":  # the one value-less attribute
                    attrs[attr] = ""
                    continue
                raise HtmlParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                    f"at byte offset {begin}"
                )
            i += 1
            while i < n and src[i] in _SPACE:
                i += 1
            if i >= n:
                raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            if src[i] not in b"'\"":
                token_start = i
                while i < n and ((chr(src[i]).isalnum() and src[i] < 0x80) or src[i] in b".-"):
                    i += 1
                if i < n and src[i] not in _SPACE and src[i] != 0x3E:
                    raise HtmlParseError(f"Unexpected end of name token at byte offset {token_start}")
                attrs[attr] = src[token_start:i].decode("utf-8").lower()
                continue
            quote = src[i]
            i += 1
            value: list[str] = []
            while i < n and src[i] != quote:
                if src[i] == 0x26:
                    decoded = _decode_entity(src, i)
                    if decoded is not None:
                        value.append(decoded[0])
                        i = decoded[1]
                        continue
                j = i + 1
                while j < n and src[j] not in (quote, 0x26):
                    j += 1
                value.append(src[i:j].decode("utf-8", "replace"))
                i = j
            if i >= n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
            i += 1
            attrs[attr] = "".join(value)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        stack.append({"tag": tag, "attrs": attrs, "offset": u16})
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1]["tag"]}"')
    return _strip("".join(out), _merge_pre_code(entities))


def _close(open_tag: dict[str, Any], u16: int, entities: list[dict[str, Any]]) -> None:
    """Turn a closed tag into an entity; empty ones vanish like on Telegram."""
    length = u16 - open_tag["offset"]
    if length <= 0:
        return
    tag: str = open_tag["tag"]
    attrs: dict[str, str] = open_tag["attrs"]
    entity: dict[str, Any] = {"offset": open_tag["offset"], "length": length}
    if tag == "a":
        url = attrs.get("href", "")
        match = re.fullmatch(r"tg://user\?id=(\d+)", url)
        if match:
            entity.update(type="text_mention", user={"id": int(match.group(1)), "is_bot": False,
                                                     "first_name": "User"})  # fmt: skip
        elif url:
            entity.update(type="text_link", url=url)
        else:
            return
    elif tag == "blockquote":
        entity["type"] = "expandable_blockquote" if "expandable" in attrs else "blockquote"
    elif tag == "tg-emoji":
        entity.update(type="custom_emoji", custom_emoji_id=attrs.get("emoji-id", "0"))
    else:
        entity["type"] = _ENTITY_TYPE[tag]
        if tag == "code" and attrs.get("class", "").startswith("language-"):
            entity["language"] = attrs["class"][len("language-") :]
    entities.append(entity)


def _merge_pre_code(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``<pre><code class="language-x">`` becomes one pre entity with a language, as on Telegram."""
    result: list[dict[str, Any]] = []
    for entity in entities:
        if entity["type"] == "code" and "language" in entity:
            outer = [
                e for e in entities
                if e["type"] == "pre" and e["offset"] == entity["offset"] and e["length"] == entity["length"]
            ]  # fmt: skip
            if outer:
                outer[0]["language"] = entity["language"]
                continue
            del entity["language"]
        result.append(entity)
    result.sort(key=lambda e: (e["offset"], -e["length"]))
    return result


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims surrounding whitespace from message texts; entities are clipped to match."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    cut = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(0, entity["offset"] - cut)
        end = min(size, entity["offset"] + entity["length"] - cut)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def plain_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram detects in a plain user text: bot commands and @mentions."""
    entities: list[dict[str, Any]] = []
    for match in re.finditer(r"(?<!\S)(/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?|@[A-Za-z0-9_]{4,32})", text):
        kind = "bot_command" if match.group(1).startswith("/") else "mention"
        entities.append({
            "type": kind,
            "offset": utf16_len(text[: match.start(1)]),
            "length": utf16_len(match.group(1)),
        })  # fmt: skip
    return entities
