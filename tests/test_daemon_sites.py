"""The daemon runs each site on its own interval, never two runs of one site at once.

The real `newswatch run` in a subprocess, against tests.feedserver on 127.0.0.1.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.daemon_helpers import running, write_config
from tests.feedserver import FeedServer
from tests.newssite import article_page, listing_page, story

pytestmark = pytest.mark.slow


def test_a_site_job_never_overlaps_itself(tmp_path: Path) -> None:
    with FeedServer() as server:
        article = story("/news/a", "Quay reopens", "the quay", "Kilbay", datetime.now(UTC))
        server.set_page(article.path, article_page(article, server.base_url))
        server.set_page("/world/", listing_page("World", [(article.path, article.title)]))
        # Each run takes at least 2.5 s, while the site's interval is 1 s.
        server.set_fault("/world/", "hang", delay=2.5)
        config = write_config(tmp_path, server, [])
        with config.open("a", encoding="utf-8") as file:
            file.write(
                f'\n[[sites]]\nname = "slow"\nstart_urls = ["{server.url("/world/")}"]\n'
                'allow = ["/news/"]\ninterval = "1s"\n'
            )
        with running(config, tmp_path / "daemon.log") as daemon:
            listings = server.wait_for_requests("/world/", n=3, timeout=30)
            status, _, log = daemon.stop(timeout=30)
    assert status == 0, log
    starts = [r.time for r in listings]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(gap >= 2.4 for gap in gaps), gaps
    # Stored in the first run; later runs skip it before any request.
    assert server.count(article.path) == 1
    assert "site crawled source=slow" in log
