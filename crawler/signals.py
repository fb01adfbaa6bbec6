"""newswatch's own Scrapy signals."""

from __future__ import annotations

# Sent once per feed when its response (or failure) has been handled; the CLI's progress
# bar listens to it. Arguments: source (SourceState), result (CheckResult).
feed_checked = object()

# Sent when a batch could not be written. Arguments: source_ids (set[int]), error (str).
# The spider then records those feeds as failed, so their validators are not saved and
# their entries are fetched again on the next poll: nothing is lost.
store_failed = object()

# Sent (with send_catch_log_async) with feed entries the spider prepared and found
# matching no topic; the store records them like the off-topic items it drops.
# Arguments: entries (Sequence[SeenEntry]).
entries_rejected = object()
