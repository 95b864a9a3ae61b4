"""The search API and the web gallery: `app.MediaApi` (the routes), `http` (request, response, router),
`media` (files, thumbnails, presigned S3 redirects), `server` (the local server). openapi.json describes the
API; static/ holds the page (plain HTML, CSS and JS: no build step, nothing from a CDN)."""
