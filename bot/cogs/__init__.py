"""Slash-command cogs: thin adapters between Discord and the query API."""
