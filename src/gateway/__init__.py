"""The S3 edge and composition root: aiohttp apps, dispatch, auth once, handlers, render."""
