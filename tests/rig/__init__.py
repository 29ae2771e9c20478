"""The real-server test rig: SeaweedFS, Redis and a TCP fault proxy, started per test session."""
