"""Tests that open sockets or start real servers."""
