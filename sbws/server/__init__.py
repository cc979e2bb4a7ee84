"""The only package that imports ``aiohttp.web``: the application, its handlers and the socket adapter."""
