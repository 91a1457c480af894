"""Feeds: fetching (HTTP, politeness, address guard) and entries → articles."""
