"""Markdown-lite for the owner's notes: bold, italics, https links, line breaks and bullet lists.

Rendered by markdown-it-py's "zero" preset with only those rules switched on and raw HTML off, so
anything else a note contains (a `<script>`, an image, a heading) comes out as escaped text. Links
are kept only when they are https: `javascript:`, `data:`, `http:` and relative targets stay text.
"""

from __future__ import annotations

from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict


def _https_only(url: str) -> bool:
    return url.strip().lower().startswith("https://")


def _link_open(renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    # Links the owner pastes go to outside sites: no referrer, no access back to this page.
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    tokens[idx].attrSet("target", "_blank")
    return renderer.renderToken(tokens, idx, options, env)


def _parser() -> MarkdownIt:
    md = MarkdownIt("zero", {"html": False, "breaks": True, "linkify": False, "typographer": False})
    md.enable(["emphasis", "link", "list", "newline"])
    md.validateLink = _https_only  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    return md


_MARKDOWN = _parser()


def note_html(body: str) -> SafeString:
    """A note's body as safe HTML (every character the owner typed is escaped by the parser)."""
    # Safe: raw HTML is disabled, so markdown-it escapes all text and emits only its own tags.
    return mark_safe(_MARKDOWN.render(body or ""))  # noqa: S308
