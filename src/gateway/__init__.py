"""The S3 edge and composition root: aiohttp apps, dispatch, auth/authorize once, handlers, render."""
