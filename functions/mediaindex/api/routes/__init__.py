"""The API's routes, one module per part: the page's files, search, one document, people."""
