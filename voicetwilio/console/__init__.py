"""The agent console: its page (page), its API (views, serializers, urls) and agent presence (presence)."""
