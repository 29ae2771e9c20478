"""SigV4 verification (header, presigned, aws-chunked streaming), checksums, credentials at rest.

Pure and framework-free: no HTTP server, no vendor SDK, nothing of ours imported.
"""
