"""Scrapy settings for newswatch.

These are the defaults; the scheduler overrides the ones the config governs (user agent,
concurrency, timeouts, size caps) when it builds a crawler runner.
"""

BOT_NAME = "newswatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

USER_AGENT = "newswatch/0.1 (+https://github.com/newswatch/newswatch)"
# Feeds are meant to be fetched by readers; site spiders turn robots.txt on themselves.
ROBOTSTXT_OBEY = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's remote control: an HTTP server per crawl that runs Python code sent to it,
# with its token in a job file under ~/.local/state. Like the telnet console, not for a
# daemon: it would start on every tick, and a killed daemon leaves its job file behind.
REMOTE_CONTROL_ENABLED = False
LOGSTATS_INTERVAL = 0

CONCURRENT_REQUESTS = 16
# Items of one response go through the pipelines one at a time: they are CPU work on one
# thread, so parallel processing gains nothing, and Scrapy starts CONCURRENT_ITEMS tasks
# for every response, 304s included (its default of 100 cost 2 ms a feed).
CONCURRENT_ITEMS = 1
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# Scrapy's downloader with its per-host limit held exactly (Scrapy 2.19's can pass it).
DOWNLOADER = "crawler.downloader.ExactSlotDownloader"
DOWNLOAD_DELAY = 0

# A stop must fit inside systemd's default 90 s stop timeout (see DESIGN.md).
DOWNLOAD_TIMEOUT = 30
# Miniflux's cap; Scrapy applies it after decompression too.
DOWNLOAD_MAXSIZE = 15 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
# How many bytes of responses Scrapy lets wait for their callbacks before it stops
# handing responses to the spider (Scrapy's default: 5 MB). Feed bodies pile up there
# while the workers parse; 1 MiB keeps the daemon's peak lower (bench/poll.py: a full
# poll of 1,000 feeds peaked at 245 MB PSS instead of 272 MB) with no loss of speed.
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 1024 * 1024

# One retry: a feed that fails twice is recorded as failing and polled again later.
RETRY_ENABLED = True
RETRY_TIMES = 1
REDIRECT_MAX_TIMES = 10

# Refuse private, loopback, link-local... addresses at every hop unless the config allows
# them (network.allow_private); see crawler/resolver.py. newswatch's own runners install
# the resolver themselves; this setting covers `scrapy crawl`.
NEWSWATCH_ALLOW_PRIVATE = False
TWISTED_DNS_RESOLVER = "crawler.resolver.PublicAddressResolver"
DOWNLOADER_MIDDLEWARES = {
    # Before RetryMiddleware (550) sees the failed lookup: a refusal is not retried.
    "crawler.middlewares.RefusedAddressMiddleware": 560,
}

ITEM_PIPELINES = {
    "crawler.pipelines.NormalisePipeline": 100,
    "crawler.pipelines.TopicsPipeline": 200,
    "crawler.pipelines.DedupePipeline": 300,
    "crawler.pipelines.StorePipeline": 400,
}

NEWSWATCH_STORE_BATCH = 200

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

# Where `scrapy crawl NAME` stores articles when newswatch did not start the crawl (the
# daemon and `newswatch crawl` pass their own database). Relative to the working
# directory: run it from the repository root, or pass
# `-s NEWSWATCH_DATABASE_URL=postgresql+psycopg://...`.
NEWSWATCH_DATABASE_URL = "sqlite:///data/newswatch.db"
