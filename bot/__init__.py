"""AI News Bot: answers Discord slash commands about recent AI news."""
