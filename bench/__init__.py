"""``make bench``: measures what users feel (local loop, render, cold starts, state transitions, the endpoint, model
quality) the same way every time, and compares each figure with its goal. See docs/performance.md."""
