"""fastfeed.sorted_attributes' shortcut for <tag a="..." rel="..."> gives what sorting every tag gives."""

from __future__ import annotations

import itertools

from crawlers.platforms import fastfeed


def _sorted_everywhere(clean_html: str) -> str:
    """The rule without the shortcut: every tag's attributes sorted by (name, value), rel last."""

    def sort(match):  # noqa: ANN001, ANN202 - re.sub callback
        attrs = fastfeed._ATTR.findall(match.group(2))
        ordered = sorted(a for a in attrs if a[0] != "rel") + [a for a in attrs if a[0] == "rel"]
        return "<" + match.group(1) + "".join(f' {k}="{v}"' for k, v in ordered) + match.group(3) + ">"

    return fastfeed._START_TAG.sub(sort, clean_html)


def test_shortcut_matches_full_sort() -> None:
    values = ["x", "a=", " rel=", "rel", '" rel="', "=", ""]
    names = ["href", "rel", "title", "alt", "src"]
    cases = []
    for (n1, n2), (v1, v2) in itertools.product(
        itertools.permutations(names, 2), itertools.product(values, repeat=2)
    ):
        if '"' in v1 + v2:
            continue
        cases.append(f'<a {n1}="{v1}" {n2}="{v2}">t</a>')
        cases.append(f'<p>x</p><img {n1}="{v1}" {n2}="{v2}" />')
    cases.append('<a title=" rel=" href="x">t</a>')
    cases.append('<a href="x?a=" rel="noopener noreferrer">t</a><img src="b" alt="a">')
    assert len(cases) > 400
    assert [fastfeed.sorted_attributes(c) for c in cases] == [_sorted_everywhere(c) for c in cases]
    assert fastfeed.sorted_attributes('<a rel="r" href="h">') == '<a href="h" rel="r">'
