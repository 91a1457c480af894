"""Follows: a server's standing request to have new articles on a topic, from a provider or
with given words posted to a channel."""
