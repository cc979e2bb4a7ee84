"""The protocol in both directions, pure: commands in, views and frames out."""
