"""Conversation engine and command line of the support assistant."""
