"""Lesson bodies from Markdown to safe HTML: the only module that imports
markdown-it-py and nh3.

markdown-it-py renders CommonMark (with tables and strikethrough) and lets
authors' raw HTML through; nh3 (the Rust `ammonia` sanitiser) then keeps an
allow-list of tags and attributes and drops everything else: <script>, <style>
and <iframe> with their content, every event-handler and style attribute, and
any link or image whose URL is not http(s) (mailto for links), so no
`javascript:` or `data:` URL survives. The output is safe to insert into a page
as it is.
"""

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

# Markdown's own output plus the few tags authors commonly write by hand.
ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "code": {"class"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
}
# A fenced block's language, for the frontend's highlighter; no other class.
CODE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}")
# Removed with everything inside them, not merely unwrapped.
REMOVED_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "template"}
URL_SCHEMES = {"http", "https", "mailto"}
# Bodies rendered and kept per process: a lesson is read far more often than
# it is edited, and the key is the Markdown itself, so an edit is never stale.
RENDERED_CACHE_SIZE = 256

_markdown = (
    MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    .enable("table")
    .enable("strikethrough")
)


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "class":
        return value if tag == "code" and CODE_CLASS.fullmatch(value) else None
    return value


_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags=REMOVED_WITH_CONTENT,
    attributes=ALLOWED_ATTRIBUTES,
    attribute_filter=_keep_attribute,
    url_schemes=URL_SCHEMES,
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


@lru_cache(maxsize=RENDERED_CACHE_SIZE)
def markdown_to_safe_html(text: str) -> str:
    """Render `text` (Markdown, may hold HTML) and sanitise the result."""
    if not text:
        return ""
    return _cleaner.clean(_markdown.render(text))
