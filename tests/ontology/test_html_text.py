"""html_text(clean_html(raw)) == clean_text(raw): a news body is parsed by nh3 once, not twice."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from crawlers.platforms.feed import parse_feed
from ontology.mapping.common import clean_html, clean_text, html_text
from pipeline.contracts import SourceSpec

SOURCE = SourceSpec(id="t", network="n", title="t", url="http://x")

#: Markup where a text-only reading could go wrong: raw-text and escapable-raw-text elements,
#: elements nh3 drops with their content, '>' and quotes inside attribute values, comments,
#: CDATA, processing instructions, entities, NUL, foreign content, unclosed and stray tags.
FRAGMENTS = [
    "<p>", "</p>", "<b>", "</b>", '<a href="x>y" title=\'q>r\'>', "</a>", "<script>x<y</script>",
    "<style>p{}</style>", "<template>T</template>", "<textarea>a<b>c</textarea>",
    "<noscript>N</noscript>", "<title>t</title>", "<iframe>I<b>i</b></iframe>", "<!-- c -->",
    "&amp;", "&lt;", "&gt;", "&nbsp;", "&#x3c;", "&#60;", "&quot;", "&copy", "<", ">", "&", '"', "'",
    " ", "\n", "\t", "text", "é", "<br>", '<img src=x alt="a>b">', "<table><tr><td>c</td></tr></table>",
    "<svg><title>s</title></svg>", "<math>m</math>", "<xmp>x<b></xmp>", "<plaintext>",
    "<select><option>o</option></select>", "\x00", "<![CDATA[x]]>", "<?pi?>", "</br>",
    "<ul><li>a<li>b</ul>", '<q cite="a&quot;b">q</q>', "<div class=\"a\"b>", "<pre>\n x</pre>",
    '<abbr title="&lt;b&gt;">A</abbr>', "<object><param name=a>o</object>", "<head>h</head>",
]  # fmt: skip


def _corpus_markup(corpus: Path) -> list[str]:
    out: set[str] = set()
    for path in sorted((corpus / "rss_atom").glob("*.xml")):
        try:
            items = parse_feed(path.read_bytes(), SOURCE).items
        except Exception:  # noqa: BLE001,S112 - unreadable corpus files have no items
            continue
        for item in items:
            out.update(v for v in (item.body_html, item.summary, item.title) if v)
    return sorted(out)


def test_equal_on_every_corpus_body(corpus: Path) -> None:
    values = _corpus_markup(corpus)
    assert sum("<" in v for v in values) > 100  # real markup, not only plain text
    assert [v[:80] for v in values if html_text(clean_html(v)) != clean_text(v)] == []


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), min_size=1, max_size=14))
def test_equal_on_generated_markup(parts: list[str]) -> None:
    raw = "".join(parts)
    assert html_text(clean_html(raw)) == clean_text(raw)


def test_attribute_with_angle_bracket_and_escapes() -> None:
    raw = '<p title="a>b">x &amp; <a href="/y?q=1&amp;r=2">y</a> &lt;z&gt;</p>'
    assert html_text(clean_html(raw)) == clean_text(raw) == "x & y <z>"
    # '>' left unescaped in an attribute value, as older html5ever serialisers wrote it
    assert html_text('<p title="a>b" class="c">x</p><img alt=">" src="y">') == "x"
    assert html_text(None) is None
    assert html_text("") is None
