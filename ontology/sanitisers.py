"""The nh3 sanitisers the parse and map stages share, made once.

Why: ``nh3.clean`` builds its sanitiser (ammonia's builder, with every tag and attribute set
converted from Python) on each call, ~3.5 us with the default options, more than cleaning a
short text costs. A ``nh3.Cleaner`` made once with the same options gives the same output
(nh3 >= 0.3; tests/crawlers/test_feed_text.py compares both on every corpus text and on
generated markup).
"""

from __future__ import annotations

import nh3

#: Every tag dropped: for plain text (entities are decoded by the caller).
TEXT_ONLY = nh3.Cleaner(tags=set())
#: nh3's default allow-list: HTML safe to show.
SAFE = nh3.Cleaner()
