"""Router vendors against real servers."""
